"""SQLite connections never cross a fork.

SQLite's rule: a connection opened before a fork must not be used, nor even closed, in the
child, which would share the parent's idea of which locks the process holds (POSIX locks
are not inherited) and could checkpoint or delete the log under it. So before any fork,
every live store closes its connection, once no thread is inside SQLite (each store's lock,
and the lock of connections opened apart, is taken); both processes open their own when next used.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

from betty_telemetry.stores.sqlite.connect import apart


class ForkAware(Protocol):
    def hold_for_fork(self) -> None: ...

    def after_fork(self, *, in_child: bool) -> None: ...


_live: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_held: list[ForkAware] = []  # the stores a fork in progress holds


def register(store: ForkAware) -> None:
    _live.add(store)


def _before_fork() -> None:
    apart.acquire()
    _held[:] = list(_live)
    for store in _held:
        store.hold_for_fork()


def _after_fork(*, in_child: bool) -> None:
    for store in _held:
        store.after_fork(in_child=in_child)
    _held.clear()
    apart.release()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=lambda: _after_fork(in_child=False),
    after_in_child=lambda: _after_fork(in_child=True),
)
