"""One trace's entries as a tree of runs: who called whom, in what order.

A node is ``{"entry": <entry>, "children": [<nodes>]}``. An entry is the child of the entry
whose ``span_id`` is its ``parent_id``; entries whose parent is not in the trace (it was not
recorded, or is still running) are roots. Siblings are ordered by start time, which is the
timestamp (written when a run ends) minus the duration.
"""

from __future__ import annotations

from typing import Any

from betty_telemetry.model.times import start_micros

Node = dict[str, Any]


def build_tree(entries: list[dict[str, Any]]) -> list[Node]:
    """The roots of the tree formed by ``entries`` (all of one trace), in start order."""
    ordered = sorted(entries, key=_start_order)
    nodes: list[Node] = [{"entry": entry, "children": []} for entry in ordered]
    by_span: dict[str, Node] = {}
    for node in nodes:
        span_id = node["entry"].get("span_id")
        if type(span_id) is str:
            by_span.setdefault(span_id, node)
    roots: list[Node] = []
    parent_of: dict[int, Node] = {}
    for node in nodes:
        parent_id = node["entry"].get("parent_id")
        parent = by_span.get(parent_id) if type(parent_id) is str else None
        if parent is None or parent is node:
            roots.append(node)
        else:
            parent["children"].append(node)
            parent_of[id(node)] = parent
    _adopt_cycles(nodes, roots, parent_of)
    return roots


def _start_order(entry: dict[str, Any]) -> tuple[bool, int, str]:
    start = start_micros(entry)
    stamp = entry.get("timestamp")
    return (start is None, start or 0, stamp if type(stamp) is str else "")


def _adopt_cycles(nodes: list[Node], roots: list[Node], parent_of: dict[int, Node]) -> None:
    """Runs whose parent links go round in a circle (corrupt data) reach no root: make the
    earliest-starting run of each circle a root, so the circle and what hangs off it show."""
    reached = _reachable(roots)
    for node in nodes:
        if id(node) in reached:
            continue
        root = min(_circle_above(node, parent_of), key=lambda run: _start_order(run["entry"]))
        parent_of[id(root)]["children"].remove(root)
        del parent_of[id(root)]
        roots.append(root)
        reached |= _reachable([root])
    roots.sort(key=lambda root: _start_order(root["entry"]))


def _circle_above(node: Node, parent_of: dict[int, Node]) -> list[Node]:
    """The runs of the circle that ``node``'s chain of parents ends in."""
    seen: dict[int, int] = {}
    chain: list[Node] = []
    while id(node) not in seen:
        seen[id(node)] = len(chain)
        chain.append(node)
        node = parent_of[id(node)]
    return chain[seen[id(node)] :]


def _reachable(roots: list[Node]) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    while stack:  # iterative: a trace may nest deeper than Python's recursion limit
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            stack.extend(node["children"])
    return seen


def walk(roots: list[Node]) -> list[tuple[int, Node]]:
    """Every node with its depth, depth first, in the tree's order."""
    result: list[tuple[int, Node]] = []
    stack = [(0, root) for root in reversed(roots)]
    while stack:
        depth, node = stack.pop()
        result.append((depth, node))
        stack.extend((depth + 1, child) for child in reversed(node["children"]))
    return result


def tree_lines(roots: list[Node]) -> list[tuple[str, Node]]:
    """Every node, depth first, with the ``├─``/``└─``/``│`` drawing that goes before it."""
    lines: list[tuple[str, Node]] = []
    # (node, indent of its children's lines, its own connector); iterative: traces nest deep.
    stack: list[tuple[Node, str, str]] = [(root, "", "") for root in reversed(roots)]
    while stack:
        node, indent, connector = stack.pop()
        lines.append((indent + connector, node))
        below = indent + {"": "", "└─ ": "   ", "├─ ": "│  "}[connector]
        children = node["children"]
        for position in range(len(children) - 1, -1, -1):
            last = position == len(children) - 1
            stack.append((children[position], below, "└─ " if last else "├─ "))
    return lines
