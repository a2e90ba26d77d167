"""Job functions the jobs tests send to worker processes (importable there by module name)."""

import os
import signal
import time
from pathlib import Path

from forecast.errors import ForecastError


def square(x):
    return x * x


def pid_and_threads():
    """This worker's pid and the thread settings it runs with."""
    from threadpoolctl import threadpool_info

    from forecast.model import train

    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return os.getpid(), train._threads[0], blas, os.environ.get("OMP_NUM_THREADS")


def fail_for(key):
    if key == "BAD":
        raise ForecastError("BAD has too little history")
    if key == "BUG":
        raise ZeroDivisionError("division by zero")
    return key.lower()


def die_for(key, marker_dir):
    """DIE kills its worker every time; FLAKY only the first time (a marker file remembers)."""
    if key == "DIE":
        os.kill(os.getpid(), signal.SIGKILL)
    if key == "FLAKY":
        marker = Path(marker_dir) / "flaky-died-once"
        if not marker.exists():
            marker.write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return key.lower()


def slow(key, seconds):
    time.sleep(seconds)
    return os.getpid()


def stuck(seconds):
    """A worker that ignores SIGTERM and outlasts any shutdown (a wedged job)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)
    return os.getpid()
