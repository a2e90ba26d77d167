"""Per-ticker jobs on all local cores or on a Dask cluster, through one code path.

    with Runner(jobs=4) as runner:                      # or Runner(scheduler="tcp://host:8786")
        for outcome in runner.run(fit_one, tickers, args_for):
            ...                                         # outcomes arrive as jobs finish

`fn(*args_for(key))` runs in a worker process: a local `ProcessPoolExecutor` (one process per
core by default, each single-threaded) or a `dask.distributed.Client`, whose `submit` and
futures mirror `concurrent.futures`. Workers share no file system with the parent: `args_for`
(called in the parent, just before a job is sent) gives them everything they need, and they
return plain values; only the parent writes files, and only for complete results.

Failures stay per job:
- `fn` raising (a ForecastError, or any other exception) fails that job alone, with one line.
- A worker process that dies mid-job (killed, out of memory) gets that job retried once; a
  second death fails it. Every job that was on the dead worker is a suspect (locally a death
  breaks the whole pool, which is restarted; on Dask the scheduler reports `KilledWorker` for
  the jobs assigned to that worker), and suspects are re-run one at a time, alone, so only a
  job that kills its worker when running alone is failed; bystanders just run again.
- Ctrl-C (KeyboardInterrupt; the CLI raises it for SIGTERM too) in the parent cancels queued
  jobs and kills the local workers; what the parent had written stays whole because nothing
  partial is ever written. A parent killed outright (kill -9) takes its workers, forkserver and
  resource tracker along within seconds (forecast/universe/lifeline.py).

At most one job per worker thread is in flight, and
`args_for` is called only when a job is sent, so a universe of hundreds of tickers never has
all its price frames in the parent at once.
"""

import multiprocessing
import os
import re
import signal
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent import futures as cf
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from forecast.config import check_range
from forecast.errors import ForecastError
from forecast.model import train
from forecast.universe import lifeline

CONNECT_TIMEOUT = 5.0  # seconds to reach a Dask scheduler before giving up (the issue asks ≤ 10)
# seconds for the whole greeting: connect, then the scheduler's handshake reply. distributed
# bounds only the connect; a port that accepts and never answers hung a command for good.
HANDSHAKE_TIMEOUT = 10.0
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
SCHEDULER_ENV = "FORECAST_SCHEDULER"
STOP_SECONDS = 30.0  # an idle worker exits at once when its pool shuts down; later: stuck
KILL_SECONDS = 5.0  # after terminate or kill, how long to wait for a worker to be gone


@dataclass
class Outcome:
    """One job's end: its value, or the one-line reason it failed."""

    key: Hashable  # what the job was run for (the ticker)
    value: Any = None  # fn's return value; None when it failed
    error: str | None = None  # one line, when it failed
    seconds: float = 0.0  # the job's run time in its worker (0 if it never ran)
    attempts: int = 1  # 2 when its worker died once and it was run again

    @property
    def ok(self) -> bool:
        return self.error is None


def default_jobs() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_jobs(jobs: int | None) -> int:
    if jobs is None:
        return default_jobs()
    check_range("jobs", jobs)  # 2**31 processes would end in an OverflowError inside the pool
    return int(jobs)


def single_threaded() -> None:
    """Pin this process's numeric libraries to one thread: N processes share N cores."""
    for name in THREAD_VARS:  # for libraries loaded from now on
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # BLAS and OpenMP pools already loaded
    train.set_num_threads(1)  # the RNN's own chunk threads


def _worker_init() -> None:
    """Local pool workers: one thread each; Ctrl-C is the parent's to handle (it kills us);
    a dead command ends us within seconds (forecast/universe/lifeline.py)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lifeline.die_with_parent()  # the forkserver's death (it dies with the command)
    lifeline.watch_command(os.getppid())  # the command's own death, on every platform
    single_threaded()


def _call(fn: Callable, args: tuple) -> tuple[bool, Any, float]:
    """Run in the worker: (True, value, seconds) or (False, one-line error, seconds)."""
    single_threaded()  # a Dask worker did not run _worker_init
    t0 = time.perf_counter()
    try:
        value = fn(*args)
    except ForecastError as e:
        return False, str(e), time.perf_counter() - t0
    except Exception as e:  # a bug or a library failure is still this ticker's, not the run's
        message = " ".join(f"{type(e).__name__}: {e}".split())
        return False, message, time.perf_counter() - t0
    return True, value, time.perf_counter() - t0


# --- backends: the same four operations on a local pool and on a Dask client ---------------------


class _LocalPool:
    """A ProcessPoolExecutor; forkserver (fast and thread-safe) where the platform has it."""

    breaks_all = True  # one worker's death fails every job in the pool

    def __init__(self, jobs: int):
        self.slots = jobs
        methods = multiprocessing.get_all_start_methods()
        self._ctx = multiprocessing.get_context(
            "forkserver" if "forkserver" in methods else "spawn"
        )
        self._pool = self._new()

    def _new(self) -> cf.ProcessPoolExecutor:
        # helpers that die with us and hold none of our pipes (a dead forkserver restarts here)
        lifeline.start_helpers(self._ctx.get_start_method())
        return cf.ProcessPoolExecutor(self.slots, mp_context=self._ctx, initializer=_worker_init)

    def submit(self, fn, args, key):
        return self._pool.submit(_call, fn, args)

    def wait_any(self, pending):
        return cf.wait(pending, return_when=cf.FIRST_COMPLETED)[0]

    def wait_all(self, pending):
        return cf.wait(pending)[0]

    @staticmethod
    def died(exc: BaseException) -> bool:
        return isinstance(exc, BrokenProcessPool)

    def restart(self):
        self._stop(kill=False)
        self._pool = self._new()

    def pids(self) -> list[int]:
        return [p.pid for p in list((getattr(self._pool, "_processes", None) or {}).values())]

    def close(self, kill: bool):
        self._stop(kill)

    def _stop(self, kill: bool) -> None:
        """Shut the pool down without ever waiting forever. kill (Ctrl-C): don't wait for
        running jobs, their results would be dropped anyway. Else the jobs are done and idle
        workers exit at once; one still alive after STOP_SECONDS is stuck, and is killed."""
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        manager = getattr(self._pool, "_executor_manager_thread", None)  # None after shutdown
        self._pool.shutdown(wait=False, cancel_futures=True)
        if kill:
            for p in processes:
                p.terminate()
        deadline = time.monotonic() + (KILL_SECONDS if kill else STOP_SECONDS)
        for p in processes:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(timeout=KILL_SECONDS)
        # With its workers gone the pool's manager thread closes its wake-up pipe and ends.
        # Wait for that: CPython 3.11's exit hook (concurrent.futures.process._python_exit)
        # writes to that pipe without the pool's lock, and if it runs while the thread is
        # closing the pipe it prints an OSError traceback after our one-line error.
        if manager is not None:
            manager.join(timeout=KILL_SECONDS)


class _DaskClient:
    """A dask.distributed Client connected to a running scheduler."""

    breaks_all = False  # only the jobs on the dead worker fail (queued ones included)

    def __init__(self, address: str, timeout: float):
        address = parse_scheduler(address)  # a malformed one fails here, at once
        try:
            import distributed
        except ImportError:
            raise ForecastError(
                "--scheduler needs Dask's distributed package; pip install 'forecast[cluster]'"
            ) from None
        self._d = distributed
        try:
            # A half-made Client prints a traceback from __del__ and waits 10 s at exit: make
            # one only for a scheduler that has answered a complete handshake.
            # the connect gets at most half the deadline: the greeting after it gets the rest
            _handshake(address, min(timeout, HANDSHAKE_TIMEOUT / 2), HANDSHAKE_TIMEOUT)
            self.client = _client(distributed, address, timeout)
        except Exception as e:  # refused, timed out, silent: all one answer for the user
            reason = " ".join(str(e).split())[:160] or type(e).__name__
            raise ForecastError(
                f"cannot reach the Dask scheduler at {address} ({reason}); "
                f"start one with `dask scheduler` or fix --scheduler / ${SCHEDULER_ENV}"
            ) from None
        threads = sum(self.client.nthreads().values())
        if threads < 1:
            self.client.close()
            raise ForecastError(
                f"the Dask scheduler at {address} has no workers; start some with "
                f"`dask worker {address}`"
            )
        self.slots = (
            threads  # no job queued behind another on a worker: a death takes no bystanders
        )

    def submit(self, fn, args, key):
        name = f"forecast-{getattr(fn, '__name__', 'job')}-{key}"
        return self.client.submit(_call, fn, args, pure=False, key=f"{name}-{time.time_ns()}")

    def wait_any(self, pending):
        first = next(self._d.as_completed(list(pending), loop=self.client.loop))
        return {first} | {f for f in pending if f.done()}

    def wait_all(self, pending):
        return set(self._d.as_completed(list(pending), loop=self.client.loop))

    def died(self, exc: BaseException) -> bool:
        return isinstance(exc, self._d.KilledWorker)

    def restart(self):
        pass  # a cluster replaces its own dead workers

    def close(self, kill: bool):
        self.client.close()


def parse_scheduler(address: str) -> str:
    """tcp://HOST:PORT from `address` (HOST:PORT is taken as tcp), or ForecastError saying
    what is wrong with it: checked before any connection, so a typo fails at once."""
    text = str(address).strip()
    scheme, sep, location = text.rpartition("://")
    shown = text if len(text) <= 60 else text[:57] + "..."
    like = "give an address like tcp://127.0.0.1:8786"
    if sep and scheme != "tcp":
        raise ForecastError(f"--scheduler {shown!r}: only tcp:// schedulers are supported; {like}")
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):([0-9]+)", location)
    if match is None:
        raise ForecastError(f"--scheduler {shown!r} is not HOST:PORT; {like}")
    host, port = match.groups()
    if len(port) > 5 or not 1 <= int(port) <= 65535:
        raise ForecastError(f"--scheduler {shown!r}: the port must be in 1..65535; {like}")
    return f"tcp://{host}:{int(port)}"


def _client(distributed, address: str, timeout: float):
    """distributed.Client(address); one whose __init__ fails is closed here, briefly, so its
    __del__ prints no TimeoutError traceback and does not hold the exit for 10 s."""
    client = distributed.Client.__new__(distributed.Client)
    try:
        client.__init__(address, timeout=timeout, set_as_default=False)
    except BaseException:
        try:
            client.close(timeout=1)
        except Exception:  # half made: whatever close trips over, the real error is raised
            pass
        raise
    return client


def _handshake(address: str, connect_timeout: float, deadline: float) -> None:
    """Open one comm to the scheduler and close it, within `deadline` seconds in all: a port
    that accepts and never speaks raises TimeoutError instead of waiting forever."""
    import asyncio

    from distributed.comm import connect

    async def greet():
        comm = await asyncio.wait_for(connect(address, timeout=connect_timeout), deadline)
        await comm.close()

    try:
        asyncio.run(greet())
    except TimeoutError:
        raise TimeoutError(f"no answer within {deadline:g} s") from None
    except OSError as e:
        raise OSError(f"not reachable within {connect_timeout:g} s: {e}") from None
    except Exception as e:  # it spoke, but not Dask's protocol: an HTTP server answers with
        # bytes Dask reads as a frame length of exabytes (MemoryError), or other garbage
        raise ConnectionError(
            f"something answered, but not a Dask scheduler ({type(e).__name__}); "
            "the dashboard's port (8787) instead of the scheduler's (8786)?"
        ) from None


# --- the runner ------------------------------------------------------------------------------------


class Runner:
    """Runs jobs on a local pool (`jobs` processes) or a Dask scheduler at `scheduler`."""

    def __init__(
        self,
        jobs: int | None = None,
        scheduler: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ):
        if scheduler:
            self.backend = _DaskClient(scheduler, connect_timeout)
            self.where = f"Dask scheduler {scheduler}"
        else:
            n = check_jobs(jobs)
            self.backend = _LocalPool(n)
            self.where = f"{n} local process{'es' if n != 1 else ''}"

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.backend.close(kill=exc_type is not None)

    def run(
        self, fn: Callable, keys: Iterable[Hashable], args_for: Callable[[Hashable], tuple]
    ) -> Iterator[Outcome]:
        """Yield one Outcome per key as jobs finish (not in key order).

        fn must be importable by the workers (a module-level function of an installed
        package). args_for(key) runs in the parent when the job is sent; a ForecastError
        from it fails that key without sending anything.
        """
        backend = self.backend
        fresh = deque(keys)
        retries: deque = deque()  # (key, args) whose worker died once
        inflight: dict[Any, tuple[Hashable, int, tuple]] = {}  # future -> (key, attempt, args)

        def send(key, attempt, args):
            inflight[backend.submit(fn, args, key)] = (key, attempt, args)

        while fresh or retries or inflight:
            failed_early = []
            if retries:
                if not inflight:  # a suspect runs alone: if the pool breaks now, it did it
                    send(*_with_attempt(retries.popleft(), 2))
            else:
                while fresh and len(inflight) < backend.slots:
                    key = fresh.popleft()
                    try:
                        args = args_for(key)
                    except ForecastError as e:
                        failed_early.append(Outcome(key, error=str(e), attempts=0))
                        continue
                    send(key, 1, args)
            yield from failed_early
            if not inflight:
                continue
            done = set(backend.wait_any(inflight))
            if any(_died(backend, f) for f in done) and backend.breaks_all:
                done |= set(backend.wait_all(inflight))  # a broken pool fails all its jobs
                backend.restart()
            for f in done:
                key, attempt, args = inflight.pop(f)
                exc = f.exception()
                if exc is not None and backend.died(exc):
                    if attempt == 1:
                        retries.append((key, args))
                        continue
                    yield Outcome(
                        key,
                        error="its worker process died twice (killed, or out of memory?); "
                        "nothing was saved",
                        attempts=attempt,
                    )
                elif exc is not None:
                    reason = " ".join(f"{type(exc).__name__}: {exc}".split())
                    yield Outcome(key, error=f"the job was lost ({reason})", attempts=attempt)
                else:
                    ok, value, seconds = f.result()
                    if ok:
                        yield Outcome(key, value=value, seconds=seconds, attempts=attempt)
                    else:
                        yield Outcome(key, error=value, seconds=seconds, attempts=attempt)


def _with_attempt(item, attempt):
    key, args = item
    return key, attempt, args


def _died(backend, future) -> bool:
    exc = future.exception()
    return exc is not None and backend.died(exc)


def scheduler_address(option: str | None) -> str | None:
    """--scheduler wins, then $FORECAST_SCHEDULER; None runs locally."""
    return option or os.environ.get(SCHEDULER_ENV) or None
