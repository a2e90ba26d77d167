"""Per-ticker jobs: failures stay per job, a dying worker is retried once, Ctrl-C kills the
workers, and the same runner drives a real Dask LocalCluster."""

import os
import time

import jobhelpers
import pytest

from forecast.errors import ForecastError
from forecast.universe.jobs import Runner, check_jobs, scheduler_address


def outcomes(runner, fn, keys, args_for):
    return {o.key: o for o in runner.run(fn, keys, args_for)}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_check_jobs():
    assert check_jobs(3) == 3 and check_jobs(None) >= 1
    for bad in (0, -2, 2**31):
        with pytest.raises(ForecastError, match=r"--jobs must be in 1\.\.1024"):
            check_jobs(bad)


def test_scheduler_address_from_option_or_environment(monkeypatch):
    monkeypatch.delenv("FORECAST_SCHEDULER", raising=False)
    assert scheduler_address(None) is None
    monkeypatch.setenv("FORECAST_SCHEDULER", "tcp://h:8786")
    assert scheduler_address(None) == "tcp://h:8786"
    assert scheduler_address("tcp://other:1") == "tcp://other:1"


def test_local_pool_runs_every_job_single_threaded():
    with Runner(jobs=2) as runner:
        got = outcomes(runner, jobhelpers.square, range(6), lambda k: (k,))
        info = outcomes(runner, jobhelpers.pid_and_threads, range(4), lambda k: ())
    assert {k: o.value for k, o in got.items()} == {k: k * k for k in range(6)}
    assert all(o.ok and o.attempts == 1 for o in got.values())
    pids = {o.value[0] for o in info.values()}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    for _, rnn_threads, blas, omp in (o.value for o in info.values()):
        assert rnn_threads == 1 and omp == "1" and all(n == 1 for n in blas)


def test_one_failing_job_does_not_stop_the_others():
    def args_for(key):
        if key == "NODATA":
            raise ForecastError("no cached prices for NODATA; run `forecast fetch NODATA`")
        return (key,)

    with Runner(jobs=2) as runner:
        got = outcomes(
            runner, jobhelpers.fail_for, ["A", "BAD", "B", "BUG", "NODATA", "C"], args_for
        )
    assert {k for k, o in got.items() if o.ok} == {"A", "B", "C"}
    assert got["A"].value == "a"
    assert got["BAD"].error == "BAD has too little history"
    assert got["BUG"].error == "ZeroDivisionError: division by zero"
    assert got["NODATA"].error.startswith("no cached prices") and got["NODATA"].attempts == 0


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_dying_worker_is_retried_once_then_failed(tmp_path, jobs):
    keys = ["A", "DIE", "B", "FLAKY", "C", "D"]
    with Runner(jobs=jobs) as runner:
        got = outcomes(runner, jobhelpers.die_for, keys, lambda k: (k, str(tmp_path)))
    assert set(got) == set(keys)
    assert not got["DIE"].ok and got["DIE"].attempts == 2
    assert "died twice" in got["DIE"].error and "nothing was saved" in got["DIE"].error
    assert got["FLAKY"].ok and got["FLAKY"].attempts == 2 and got["FLAKY"].value == "flaky"
    for k in ("A", "B", "C", "D"):  # innocent bystanders of a break are re-run, never failed
        assert got[k].ok and got[k].value == k.lower()


def test_interrupt_kills_the_workers_and_stops():
    """Ctrl-C arriving while the parent handles a result: no more results, workers gone."""
    seen, pids = [], []
    with pytest.raises(KeyboardInterrupt):
        with Runner(jobs=2) as runner:
            for o in runner.run(jobhelpers.slow, range(8), lambda k: (k, 0.3 if k else 0.0)):
                seen.append(o.key)
                pids = runner.backend.pids()
                manager = runner.backend._pool._executor_manager_thread
                raise KeyboardInterrupt
    assert seen == [0] and pids
    # the pool's manager thread has ended, so the interpreter's exit hook cannot race it on
    # its closing wake-up pipe (an OSError traceback after a SIGTERM's one-line error)
    assert manager is not None and not manager.is_alive()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)


def test_a_worker_stuck_at_shutdown_is_killed_within_the_deadline(monkeypatch):
    """Closing a pool never waits forever: a worker still alive after STOP_SECONDS is killed
    (SIGTERM ignored: only SIGKILL ends it), so the command returns and leaves no process."""
    from forecast.universe import jobs

    monkeypatch.setattr(jobs, "STOP_SECONDS", 1.0)
    with Runner(jobs=1) as runner:
        pool = runner.backend
        pool.submit(jobhelpers.stuck, (120,), "X")
        time.sleep(1.0)  # the job is running
        pids = pool.pids()
        t0 = time.monotonic()
        pool.close(kill=False)
        assert time.monotonic() - t0 < 1.0 + 2 * jobs.KILL_SECONDS
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_an_unreachable_scheduler_is_one_line_naming_it_within_10_s():
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    t0 = time.monotonic()
    with pytest.raises(ForecastError) as e:
        Runner(scheduler=address)
    assert time.monotonic() - t0 < 10
    message = str(e.value)
    assert address in message and "dask scheduler" in message and "\n" not in message


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import dask

    # allowed-failures 0: the scheduler reports a worker death at once (KilledWorker) and the
    # runner does its one retry itself, the same count as on the local pool
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as c:
            yield c


def test_dask_cluster_round_trip_and_failures(cluster, tmp_path):
    keys = ["A", "BAD", "BUG", "B", "C"]
    with Runner(scheduler=cluster.scheduler_address) as runner:
        got = outcomes(runner, jobhelpers.fail_for, keys, lambda k: (k,))
        info = outcomes(runner, jobhelpers.pid_and_threads, range(4), lambda k: ())
    assert {k: o.value for k, o in got.items() if o.ok} == {"A": "a", "B": "b", "C": "c"}
    assert got["BAD"].error == "BAD has too little history"
    assert got["BUG"].error.startswith("ZeroDivisionError")
    pids = {o.value[0] for o in info.values()}
    assert os.getpid() not in pids
    assert all(o.value[1] == 1 for o in info.values())  # single-threaded on the cluster too


def test_dask_worker_death_is_retried_once_then_failed(cluster, tmp_path):
    keys = ["A", "DIE", "FLAKY", "B"]
    with Runner(scheduler=cluster.scheduler_address) as runner:
        got = outcomes(runner, jobhelpers.die_for, keys, lambda k: (k, str(tmp_path)))
    assert got["A"].ok and got["B"].ok
    assert got["FLAKY"].ok and got["FLAKY"].attempts == 2
    assert not got["DIE"].ok and got["DIE"].attempts == 2 and "died twice" in got["DIE"].error
