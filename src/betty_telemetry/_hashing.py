"""SHA-256 without OpenSSL: CPython's own implementation, the same digests as hashlib's.

``import hashlib`` loads OpenSSL's library (``_hashlib``), about 3 ms of a process that
starts for one capture or one hook call; the builtin module (3.11: ``_sha256``, 3.12 on:
``_sha2``) loads in a tenth of that. hashlib's where neither exists (other Pythons).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def _sha256_function() -> Callable[[bytes], Any]:
    for name in ("_sha256", "_sha2"):
        try:
            function: Callable[[bytes], Any] = importlib.import_module(name).sha256
        except ImportError:  # pragma: no cover - depends on the Python version
            continue
        return function
    import hashlib  # pragma: no cover

    return hashlib.sha256  # pragma: no cover


sha256 = _sha256_function()
"""``sha256(data)``: an object with ``digest()`` and ``hexdigest()``, as hashlib's."""
