"""Whether system calls of a child process can be observed with strace, for tests that count
them (batches, fsyncs). Tests skip, saying why, where it cannot."""

from __future__ import annotations

import shutil
import subprocess
import sys


def strace_usable() -> bool:
    strace = shutil.which("strace")
    if strace is None:
        return False
    probe = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=none", sys.executable, "-c", "pass"],
        capture_output=True,
        timeout=60,
    )
    return probe.returncode == 0
