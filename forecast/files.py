"""Files on disk: atomic writes (temp file, fsync, rename), bounded reads, inter-process locks."""

import errno
import json
import os
import re
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
    atomic_write_text(path, json_text(obj))


_NUMBER = r"(?:-?(?:\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|Infinity)|NaN|null)"
_NUMBERS = re.compile(r"\[\s*" + _NUMBER + r"(?:\s*,\s*" + _NUMBER + r")*\s*\]")


def json_text(obj) -> str:
    """obj as indented JSON (sorted keys), each array of numbers on one line: a model's
    calibration scores, ~540 days x 20 horizons, would otherwise take a line per number.
    Only matches that span lines are joined, so no string's text is touched (json.dumps
    escapes a newline inside a string)."""

    def one_line(m: re.Match) -> str:
        a = m.group(0)
        return "[" + " ".join(a[1:-1].split()) + "]" if "\n" in a else a

    return _NUMBERS.sub(one_line, json.dumps(obj, indent=2, sort_keys=True)) + "\n"


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


# --- output files a user names (--export, --plot) ------------------------------------------------

# Names that mean this process's standard output: written to it, never opened as a path (which
# would replace the file a shell redirected stdout into, or turn a device node into a file).
STDOUT_NAMES = ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")
# Where every path is a device or a view of a process: written in place, never replaced.
_SPECIAL_DIRS = ("/dev/", "/proc/")


def _kind(mode: int) -> str:
    for test, name in [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
    ]:
        if test(mode):
            return name
    return "not a regular file"


def _in_place(path: Path) -> bool:
    return os.path.abspath(path).startswith(_SPECIAL_DIRS)


def _writable(mode: int) -> bool:
    """A file type an output may be: a regular file, a FIFO or a character device."""
    return stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def check_output(path: Path, option: str, data_dir: Path | None = None) -> Path:
    """Refuse, before any work, an output path that could not be written, or should not be.

    Accepted: a new or regular file in an existing folder (replaced atomically), a FIFO or a
    character device (/dev/null, a terminal; written in place), and STDOUT_NAMES. Refused: a
    folder, a socket, a block device, a missing folder, and any path inside the data directory,
    whose files only forecast writes (an export over models/AAPL.json would destroy the model).
    """
    path = Path(path)
    if str(path) in STDOUT_NAMES:
        return path
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise ForecastError(f"{option} {path}: {e.strerror or e}; give a writable file") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise ForecastError(f"{option} {path}: that is a folder; give a file name like out.csv")
    if mode is not None and not _writable(mode):
        raise ForecastError(
            f"{option} {path} is {_kind(mode)}; give a regular file, a FIFO or - for stdout"
        )
    if mode is None and not path.parent.is_dir():
        raise ForecastError(f"{option}: the folder {path.parent} does not exist; create it first")
    if data_dir is not None:
        inside = Path(os.path.realpath(path)).is_relative_to(os.path.realpath(data_dir))
        if inside:
            raise ForecastError(
                f"{option} {path} is inside the data directory {data_dir}, which holds only "
                "forecast's own files; write it elsewhere"
            )
    return path


def write_output(path: Path, data: bytes) -> None:
    """Write `data` to a user's output path without ever replacing what is not a regular file.

    A regular file (or a new one) is replaced atomically, through a symbolic link if the path
    is one (the link stays a link). A FIFO, a character device and anything under /dev or /proc
    are opened and written in place: a temp file renamed over /dev/null would replace the
    device node with a file. STDOUT_NAMES go to sys.stdout. A FIFO no process reads is refused
    at once (O_NONBLOCK), never waited on. Anything else: ForecastError, nothing written.
    """
    import sys

    path = Path(path)
    if str(path) in STDOUT_NAMES:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if not _in_place(path) and (mode is None or stat.S_ISREG(mode)):
        atomic_write_bytes(Path(os.path.realpath(path)) if path.is_symlink() else path, data)
        return
    if mode is not None and not _writable(mode):
        raise ForecastError(
            f"cannot write {path}: it is {_kind(mode)}; give a regular file, a FIFO or - for stdout"
        )
    _write_in_place(path, data)


def _write_in_place(path: Path, data: bytes) -> None:
    """Open an existing FIFO or device without creating or replacing anything, and write."""
    nonblock = getattr(os, "O_NONBLOCK", 0)
    try:  # O_APPEND: a regular file behind /dev/stderr keeps what was written to it before
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | nonblock)
    except OSError as e:
        if e.errno == errno.ENXIO:  # a FIFO's open for writing fails at once without a reader
            raise ForecastError(
                f"no process reads the FIFO {path}; start its reader first"
            ) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not _writable(mode):
            raise ForecastError(f"cannot write {path}: it is {_kind(mode)}; give a regular file")
        if nonblock:  # blocking writes from here: a reader that is slow is waited for
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~nonblock)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
