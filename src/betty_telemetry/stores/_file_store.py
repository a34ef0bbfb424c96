"""What the two file stores share: the data file, its lock, and its life in the process.

filelock's model: this base owns opening the file (and its folders), taking the exclusive
``flock`` on it with a timeout, following the path when the file was replaced or deleted,
closing it, and letting go of it in a forked child; each store (``json_array``,
``json_lines``) implements its format on top: how a new file starts, and how to append.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from _thread import allocate_lock  # threading.Lock, without threading's import
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from betty_telemetry._config import track
from betty_telemetry.stores._errors import NOT_RECORDED, explained
from betty_telemetry.stores._files import (
    fsync_folder,
    missing_folders,
    open_regular,
    remove_stale_temporaries,
)
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT, lock

# Rotation, pruning, archives and the copies for outside readers are imported by the
# methods that do them: a capture, a fresh process per call on the command line, appends.
if TYPE_CHECKING:
    from betty_telemetry.model.filters import EntryFilter
    from betty_telemetry.stores._damage import Damage
    from betty_telemetry.stores.auto_rotation import AutoRotation
    from betty_telemetry.stores.base import Archive, Encoded, EntryFile, ProgressHook, Pruned
    from betty_telemetry.stores.entry_files import EntryFiles

_NOT_ROTATED = "Nothing was rotated"
_NOT_PRUNED = "Nothing was pruned"
_OPEN_ATTEMPTS = 100  # creations of the file, each renamed away by a rotation before its open
_EMPTY_BODIES = (b"", b"[]")  # what an empty store's file holds, whitespace aside

# Bound once: the hot path runs these on every capture.
_flock, _LOCK_EX, _LOCK_UN = fcntl.flock, fcntl.LOCK_EX, fcntl.LOCK_UN
_LOCK_EX_NB = fcntl.LOCK_EX | fcntl.LOCK_NB
_readlink = os.readlink
_PROC_FD = b"/proc/self/fd/"


class FileStore:
    """A data file appended to under its own exclusive ``flock``, by many processes."""

    OPEN_FLAGS = os.O_RDWR
    """How the data file is opened for appending."""
    FORMAT_NAME = ""
    """The format's extension, as archives name it (``json``, ``jsonl``)."""

    def __init__(
        self,
        path: str,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        fsync: bool = False,
        max_bytes: int | None = None,
        max_entries: int | None = None,
    ) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.fsync = fsync
        self.auto_rotation: AutoRotation | None = None
        if max_bytes is not None or max_entries is not None:
            from betty_telemetry.stores.auto_rotation import AutoRotation

            self.auto_rotation = AutoRotation.of(self, max_bytes=max_bytes, max_entries=max_entries)
        """Rotates the store once a write takes it past ``max_bytes`` or ``max_entries``."""
        self._fd = -1
        # Size of the file when we released it: if it still has that size, nobody else wrote.
        self._size_we_left = -1
        # Where the kernel says our descriptor's file is (Linux's /proc/self/fd link), and
        # the name it gave when we opened it: see _at_path_slowly.
        self._fd_link: bytes | None = None
        self._name_at_open = b""
        # flock belongs to the open file description, which our threads share: serialize them.
        self._thread_lock = allocate_lock()
        track(self)  # told about forks

    @property
    def location(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def flush(self, timeout: float | None = None) -> bool:
        return True  # every write is complete (and synced, with fsync) when it returns

    def after_fork_in_child(self) -> None:
        # A forked child shares its parent's open file descriptions, and so its flocks: the
        # two would not exclude each other. The child drops them and opens its own on next use.
        self._thread_lock = allocate_lock()
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def at_exit(self) -> None:
        pass  # every write is complete when it returns: nothing is left to do

    def close(self) -> None:
        with self._thread_lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __del__(self, _close: Callable[[int], None] = os.close) -> None:
        # A capture dropped without close() (the spec's examples never close) must not keep
        # its descriptor: a host making one per request would run out of them. ``_close`` is
        # bound now: at interpreter exit, module globals may already be gone.
        if self._fd >= 0:
            try:  # noqa: SIM105 - contextlib may be gone at interpreter exit
                _close(self._fd)
            except OSError:
                pass
            self._fd = -1

    def scan(
        self,
        wanted: EntryFilter,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        return self.scan_measured(wanted, None, newest_first=newest_first, fields=fields)

    def scan_measured(
        self,
        wanted: EntryFilter,
        progress: ProgressHook | None,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """``scan``, telling ``progress`` how many bytes of the file it went through."""
        raise NotImplementedError

    def count(self, wanted: EntryFilter) -> int:
        # A file has no index: every candidate the scan gives is judged.
        with contextlib.closing(self.scan(wanted)) as entries:
            return sum(1 for entry in entries if wanted.matches(entry))

    def write(self, batch: Sequence[Encoded]) -> None:
        raise NotImplementedError

    def iter_for_rewrite(self, damage: Damage) -> Generator[dict[str, Any], None, None]:
        """Every entry, oldest first, as stored, the damaged places met put in ``damage``."""
        raise NotImplementedError

    def _wrote(self, batch_bytes: int, entries: int) -> None:
        """After a write: the one check automatic rotation costs (see ``auto_rotation``)."""
        if self.auto_rotation is not None:
            self.auto_rotation.after_write(self._size_we_left, None, batch_bytes, entries)

    # -- rotation ---------------------------------------------------------------------------

    def size(self) -> int:
        """Bytes the store takes on disk (0 when there is no file)."""
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def archives(self) -> list[Archive]:
        """This store's archives, newest first (see ``stores.archives``)."""
        from betty_telemetry.stores.archives import list_archives

        return list_archives(self.path, self.FORMAT_NAME)

    def entry_files(self, *, archives: bool) -> AbstractContextManager[list[EntryFile]]:
        """The entries (and the archives') as JSON Lines files, taken in one moment (see
        ``stores.entry_files``); each format says how in ``_add_live``/``_add_archive``."""
        from betty_telemetry.stores.entry_files import handed_over, take_together

        def take(files: EntryFiles) -> None:
            take_together(
                files,
                self.path,
                self.FORMAT_NAME,
                archives=archives,
                add_live=self._add_live,
                add_archive=self._add_archive,
            )

        return handed_over(take)

    def _add_live(self, files: EntryFiles, fd: int) -> None:
        raise NotImplementedError

    def _add_archive(self, files: EntryFiles, fd: int, archive: Archive) -> None:
        raise NotImplementedError

    def rotate(self, progress: ProgressHook | None = None) -> str | None:
        """Move every entry into a new compressed archive beside the file, and leave an empty
        store at the path; returns the archive's path, or None if the store held no entry.
        ``progress`` is told how many bytes of the file are compressed.

        Atomic for every writer, in any process: the file is renamed under its exclusive lock,
        and a writer checks under that lock that its file is still the one at the path
        before it appends, so no entry is lost, none lands in the archive after the rotation,
        none twice. Staged files an interrupted rotation left are compressed first.
        """
        from betty_telemetry.stores.archives import compress_staged, finish_interrupted

        staged = self._stage()
        archive = None if staged is None else compress_staged(staged, self.FORMAT_NAME, progress)
        finish_interrupted(self.path, self.FORMAT_NAME)  # what interrupted rotations, prunes left
        return archive

    def prune(self, before: str) -> Pruned:
        """Move the entries stamped before ``before`` into a new compressed archive and keep
        the others, rewriting the file under its exclusive lock (see ``_file_prune``)."""
        from betty_telemetry.stores._file_prune import prune_locked
        from betty_telemetry.stores.archives import archive_path, finish_interrupted
        from betty_telemetry.stores.base import Pruned

        if not os.path.lexists(self.path):
            return Pruned(None, 0, 0)
        with self.replacing(_NOT_PRUNED) as fd:
            staged, pruned = prune_locked(self.path, fd, before, type(self))
        finish_interrupted(self.path, self.FORMAT_NAME)  # this prune's, and any left before
        if staged is None:
            return pruned
        return Pruned(archive_path(staged, self.FORMAT_NAME), pruned.moved, pruned.kept)

    def create_empty(self) -> None:
        """Create the data file as a new, empty store (if nothing is at the path yet)."""
        self._create(os.path.dirname(self.path))

    def _stage(self) -> str | None:
        """Rename the live file aside under its lock, and put an empty store in its place."""
        from betty_telemetry.stores.archives import free_staged_path

        if not os.path.lexists(self.path):
            return None
        with self.replacing(_NOT_ROTATED) as fd:
            size = os.fstat(fd).st_size
            if size <= 64 and b"".join(os.pread(fd, size, 0).split()) in _EMPTY_BODIES:
                return None
            staged = free_staged_path(self.path)
            # A second name of the file (a creation killed half-way) would keep the archived
            # entries alive beside the new store: remove it first.
            remove_stale_temporaries(os.path.dirname(self.path) or ".", os.fstat(fd))
            os.rename(self.path, staged)
            self._create(os.path.dirname(self.path))
        return staged

    @contextlib.contextmanager
    def replacing(self, outcome: str = NOT_RECORDED) -> Iterator[int]:
        """The data file, locked exclusively for the whole block, for work that may replace
        it at the path (a rotation's rename, a prune's or a repair's ``os.replace``) before
        the block ends: writers wait on the lock, then find their file replaced and follow
        the path (see ``_lock_current_file``). A prune a kill left half-way is finished first
        (``_lock_recovered_file``). The descriptor is closed at the end, since the file it is
        open on may no longer be the store's. An OSError says what it means, and ``outcome``.
        """
        with self._thread_lock:
            try:
                fd = self._lock_recovered_file()
                try:
                    yield fd
                finally:
                    _flock(fd, _LOCK_UN)
                    os.close(fd)
                    self._fd = -1
            except OSError as error:
                better = explained(error, self.path, outcome)
                if better is error:
                    raise
                raise better from error

    # -- the data file ----------------------------------------------------------------------

    def _lock_current_file(self) -> int:
        """The open file, locked exclusively, and still the file at the path."""
        while True:
            fd = self._fd if self._fd >= 0 else self._open()
            try:
                _flock(fd, _LOCK_EX_NB)  # the usual case: nobody else holds it
            except BlockingIOError:
                lock(fd, _LOCK_EX, self.lock_timeout, self.path, NOT_RECORDED)
            link = self._fd_link  # the short check of _at_path_slowly
            try:
                if link is not None and _readlink(link) == self._name_at_open:
                    return fd
            except OSError:
                pass
            if self._at_path_slowly(fd):
                return fd
            # Our file was replaced (rotation, a rewrite by os.replace), renamed away or
            # deleted: follow the path, as ``tail -F`` does.
            _flock(fd, _LOCK_UN)
            os.close(fd)
            self._fd = -1

    def _lock_recovered_file(self) -> int:
        """As ``_lock_current_file``, once any prune a kill left half-way is finished: its
        entries are both in the file and in its archive, and the file's copy must go (see
        ``_file_prune``). Finishing it puts a new file at the path: that one is locked."""
        from betty_telemetry.stores._file_prune import recover_locked

        while True:
            fd = self._lock_current_file()
            if not recover_locked(self.path, fd, type(self), self.FORMAT_NAME):
                return fd
            _flock(fd, _LOCK_UN)
            os.close(fd)
            self._fd = -1

    def _at_path_slowly(self, fd: int) -> bool:
        """Whether ``fd`` is still the file at our path, when the short check could not say.

        On Linux the kernel names an open file's current place in /proc/self/fd: one
        readlink, a quarter of the cost of an fstat, tells that nothing moved it since it
        was opened (it reads "... (deleted)" once unlinked, the new name once renamed); that
        short check runs first, in ``_lock_current_file``. Anything else is looked at here,
        as on systems without /proc.
        """
        status = os.fstat(fd)
        if not status.st_nlink:
            return False  # deleted, or replaced by os.replace
        try:
            at_path = os.stat(self.path)
        except FileNotFoundError:
            return False  # renamed away, and nothing at the path yet: a new file starts
        if (at_path.st_dev, at_path.st_ino) != (status.st_dev, status.st_ino):
            return False  # renamed away, and another file took its place
        self._remember_name(fd)  # the same file, named otherwise (a folder on the way moved)
        return True

    def _remember_name(self, fd: int) -> None:
        """Remember the kernel's name for ``fd``, for the short check, if it is our path's.

        A rotation in another process may rename the file between our open and this
        readlink: the name is then the staged file's, and remembered, it would let every
        later append into the archive. So a name is kept only if it is where our path leads
        (symbolic links resolved); any other leaves the short check failing, and the full
        one (fstat and stat) deciding, each time."""
        link = _PROC_FD + str(fd).encode()
        try:
            name = _readlink(link)
        except OSError:  # no /proc here: every check is an fstat and a stat
            self._fd_link = None
            return
        self._fd_link = link
        self._name_at_open = name if name == os.fsencode(os.path.realpath(self.path)) else b""

    def _open(self) -> int:
        folder = os.path.dirname(self.path)
        created: list[str] = []
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                fd = open_regular(self.path, self.OPEN_FLAGS, NOT_RECORDED)
                break
            except FileNotFoundError:
                # Missing, or gone again between our creating it and opening it: a rotation
                # in another process renamed it away. Create it again.
                if attempt == _OPEN_ATTEMPTS - 1:
                    raise
                created = created or missing_folders(folder)
                if folder:
                    os.makedirs(folder, exist_ok=True)
                self._create(folder)
        self._fd = fd
        self._remember_name(fd)
        self._opened()
        if self.fsync:  # the file's name, and any folder made for it, must survive power loss
            for made in reversed(created):
                fsync_folder(os.path.dirname(made))
            fsync_folder(folder or ".")
        return fd

    def _create(self, folder: str) -> None:
        """Create the data file, as a new file of the store's format starts; if another
        process created it meanwhile, theirs stays."""
        raise NotImplementedError

    def _opened(self) -> None:
        """A file was opened at the path: nothing is known of it yet."""
        self._size_we_left = -1
