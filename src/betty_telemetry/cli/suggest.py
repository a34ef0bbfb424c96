"""Telling a mistyped command from a skill name: ``betty-telemetry stat failure 10 me`` must
not record an entry for a skill called ``stat``.

A word is taken for a command mistyped when it is one edit (a letter added, left out,
changed, or two swapped) from a command's name, two for names of six letters or more. Betty's
skill names are dotted (``plugin.build``), which no command is: a dotted word is always a
skill. ``betty-telemetry capture WORD ...`` records any skill name.
"""

from __future__ import annotations

from collections.abc import Iterable

SHORTEST = 3
"""Words shorter than this are never taken for a command (too many are one edit apart)."""


def mistyped_command(word: str, commands: Iterable[str]) -> str | None:
    """The command ``word`` is most likely a typo of, or None."""
    if "." in word or len(word) < SHORTEST:
        return None
    folded = word.lower()
    best: tuple[int, str] | None = None
    for command in commands:
        allowed = 2 if len(command) >= 6 else 1
        distance = edit_distance(folded, command, allowed)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, command)
    return None if best is None else best[1]


def edit_distance(first: str, second: str, limit: int) -> int:
    """Edits (insert, delete, replace, swap two neighbours) from ``first`` to ``second``;
    any value above ``limit`` once it is sure to exceed it."""
    if abs(len(first) - len(second)) > limit:
        return limit + 1
    before: list[int] = []
    row = list(range(len(second) + 1))
    for i in range(1, len(first) + 1):
        earlier, before, row = before, row, [i] + [0] * len(second)
        for j in range(1, len(second) + 1):
            cost = 0 if first[i - 1] == second[j - 1] else 1
            row[j] = min(before[j] + 1, row[j - 1] + 1, before[j - 1] + cost)
            if i > 1 and j > 1 and first[i - 1] == second[j - 2] and first[i - 2] == second[j - 1]:
                row[j] = min(row[j], earlier[j - 2] + 1)
        if min(row) > limit:
            return limit + 1
    return row[-1]
