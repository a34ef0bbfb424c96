"""Another process that takes a telemetry file's exclusive lock and keeps it: a stuck writer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
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
