"""Another process that takes a telemetry file's exclusive lock and keeps it: a stuck writer.

The lock is the store's own: the ``flock`` the JSON stores take on their file, or, for a SQLite
database (``.db``, ``.sqlite``, ``.sqlite3``), an exclusive transaction of SQLite's locking.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HOLDER = """
import fcntl, os, sqlite3, sys
path = sys.argv[1]
fd = os.open(path, os.O_RDWR)
if path.lower().endswith((".db", ".sqlite", ".sqlite3")):
    database = sqlite3.connect(path, isolation_level=None)
    database.execute("BEGIN EXCLUSIVE")
else:
    fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()  # stuck, holding the lock, until its stdin is closed
"""


def start_holder(path: Path) -> subprocess.Popen[str]:
    """A process holding ``path``'s exclusive lock once this returns; it lets go and exits
    when its stdin is closed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    if holder.stdout.readline() != "locked\n":
        holder.kill()
        holder.wait()
        raise AssertionError(f"the lock holder did not take {path}'s lock")
    return holder
