"""The original Betty framework's way of recording an entry, for tests that run it beside ours.

It locks the data file, loads the whole array, appends, and rewrites the file in place with
``indent=2``: our readers, writers and followers must live with it on the same file.
"""

from __future__ import annotations

import fcntl
import inspect
import json
import os
from typing import Any


def framework_append(path: str | os.PathLike[str], entry: dict[str, Any]) -> None:
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        data = json.load(handle)
        data.append(entry)
        handle.seek(0)
        handle.truncate()
        json.dump(data, handle, indent=2)
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_UN)


APPEND_SCRIPT = (
    "import fcntl, json, os, sys\nfrom typing import Any\n"
    + inspect.getsource(framework_append)
    + "framework_append(sys.argv[1], json.loads(sys.argv[2]))\n"
)
"""The same, for another process: ``python -c APPEND_SCRIPT PATH ENTRY_JSON``."""
