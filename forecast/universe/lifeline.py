"""No worker outlives its command: helper processes die with the process that started them.

A local pool is three kinds of process besides the command: multiprocessing's forkserver (it
forks the workers), its resource tracker, and the workers. Left alone, a `kill -9` of the
command orphans them all for minutes: each worker holds its own job queue's write end and so
never sees EOF, the forkserver waits for its workers, and all of them hold the command's
stdout, so `forecast train ... | tee log` never ends. Three defences:

- die_with_parent: Linux's prctl(PR_SET_PDEATHSIG, SIGKILL), in the forkserver (preloaded,
  see forecast/universe/_forkserver.py) and in each worker: the kernel kills a process whose
  parent died, even while it runs compiled code.
- watch_command: a daemon thread in each worker that waits on multiprocessing's parent
  sentinel (EOF when the command dies, on every platform) and polls os.getppid(); it ends the
  worker within WATCH_SECONDS. The kernels release the GIL, so the thread gets to run.
- quiet_stdio: the forkserver and the resource tracker start with stdout and stderr on
  /dev/null, so no helper holds the command's pipes, and the tracker's KeyError tracebacks
  after a killed worker never reach the user.
"""

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

WATCH_SECONDS = 1.0  # how often a worker checks on its command; it exits within about this
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent() -> bool:
    """Have Linux SIGKILL this process when its parent dies; False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):  # no libc to load, or no prctl in it
        return False


def watch_command(parent_ppid: int) -> None:
    """Start a daemon thread that ends this worker (os._exit) once its command has died.

    parent_ppid: os.getppid() when the worker started (the forkserver, or the command under
    spawn): a change means the parent died and this process was re-parented.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)

    def watch() -> None:
        while True:
            if sentinel is not None:
                if wait([sentinel], timeout=WATCH_SECONDS):  # EOF: the command is gone
                    os._exit(1)
            else:
                time.sleep(WATCH_SECONDS)
            if os.getppid() != parent_ppid:
                os._exit(1)

    threading.Thread(target=watch, name="forecast-lifeline", daemon=True).start()


@contextmanager
def quiet_stdio() -> Iterator[None]:
    """While inside, file descriptors 1 and 2 are /dev/null: what is started now inherits that.

    Python's own sys.stdout/sys.stderr are flushed first and their descriptors put back after.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    saved = {}
    for fd in (1, 2):
        try:
            saved[fd] = os.dup(fd)
        except OSError:  # closed (`forecast ... >&-`): nothing to hide from the helpers
            pass
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in saved:
            os.dup2(null, fd)
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(null)


def start_helpers(method: str) -> None:
    """Start the resource tracker (and for `method` "forkserver" the forkserver, preloading
    die_with_parent) with quiet stdio, before any pool needs them. A no-op when running."""
    if os.name != "posix":  # no resource tracker or forkserver to start (Windows: spawn only)
        return
    from multiprocessing import forkserver, resource_tracker

    with quiet_stdio():
        resource_tracker.ensure_running()
        if method == "forkserver":
            forkserver.set_forkserver_preload(["forecast.universe._forkserver"])
            forkserver.ensure_running()
