"""Files on disk: atomic writes (temp file, fsync, rename), bounded reads, inter-process locks."""

import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from forecast.errors import ForecastError


def _read_umask() -> int:
    # os.umask can only be read by setting it; doing so once, at import, keeps the brief window
    # with a wrong umask away from the threads that later write files (yfinance's caches).
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_read_umask()  # what open() would give a new file; mkstemp gives 0600


def _fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable; a no-op where directories cannot be opened/synced."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves either the old file or the new one, never half.

    The file gets the mode a plain open() would give it under the process umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)  # atomic on POSIX when on the same file system
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)  # else a power cut can forget the rename, leaving the old file


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


class RefusedFile(OSError):
    """A path that is not a regular file, or larger than the reader allows: never read."""


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of `path` if it is a regular file of at most `max_bytes`; else RefusedFile.

    Checked on the open descriptor (fstat), so a FIFO, /dev/zero or a file swapped in after a
    check is never read from; O_NONBLOCK keeps opening a FIFO from waiting for a writer. A file
    that grows while being read is cut at max_bytes + 1 and refused, so memory stays bounded.
    Other errors are the OSError open() raises (FileNotFoundError, PermissionError, ...).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RefusedFile(f"{path} is not a regular file")
        if info.st_size > max_bytes:
            raise RefusedFile(f"{path} is {info.st_size:,} bytes, more than {max_bytes:,}")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise RefusedFile(f"{path} grew past {max_bytes:,} bytes while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)


STALE_TEMP_SECONDS = 600  # a temp file this old belongs to a save that was killed, not a live one


def remove_stale_temps(directory: Path, older_than: float = STALE_TEMP_SECONDS) -> None:
    """Delete `.*.tmp` files atomic_write_bytes left in `directory` when a process was killed.

    Only files older than `older_than` seconds: a younger one may belong to a save running now.
    """
    cutoff = time.time() - older_than
    try:
        candidates = list(Path(directory).glob(".*.tmp"))
    except OSError:
        return
    for p in candidates:
        try:
            if p.is_file() and not p.is_symlink() and p.stat().st_mtime < cutoff:
                p.unlink()
        except OSError:
            pass  # gone already, or not ours to delete: never fail a save over a leftover


def lock_path(data_dir: Path, kind: str, name: str) -> Path:
    """Where the lock for writing `kind` ("prices", "models") of `name` lives: data_dir/.locks.

    Lock files stay after use (deleting one while another process waits on it would let two
    holders in), so they live apart from the files users look at.
    """
    return Path(data_dir) / ".locks" / f"{kind}.{name}.lock"


LOCK_TIMEOUT = 60.0  # seconds to wait for another forecast process to finish its save


@contextmanager
def locked(lock_path: Path, what: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive inter-process lock on `lock_path` (created if missing) for a write.

    Saves of one ticker by several processes then happen one after another; each sees the files
    the previous one committed. The lock is advisory (flock/LockFileEx via filelock) and is
    released by the OS if the holder is killed, so a kill -9 never leaves it stuck.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(lock_path, timeout=timeout, mode=_FILE_MODE)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise ForecastError(
            f"another forecast process has been writing {what} for {timeout:g} s; "
            "try again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()
