"""Cold compile time of the kernels a first `forecast train` (default vol head) compiles.

Each kernel is called once with small arrays in a fresh, empty Numba cache, so every call
compiles; the times are CPU seconds of this process (time.process_time), which another busy
process on the machine inflates far less than wall time. Run: python benchmarks/bench_compile.py
"""

import os
import tempfile
import time

os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="forecast-bench-compile-")

import numpy as np  # noqa: E402  after NUMBA_CACHE_DIR: Numba reads it on import

from forecast.model.kernels import rnn  # noqa: E402
from forecast.model.kernels.adam import adam_step  # noqa: E402


def main() -> None:
    D, H, O, T, N, P = 5, 16, 1, 20, 64, 10  # the vol head's five inputs; sizes don't matter
    rng = np.random.default_rng(0)
    theta = rnn.init_theta(D, H, O, 0)
    xs, zs = rng.normal(size=(N, T, D)), rng.normal(size=(N, T))
    chunks = N // rnn.CHUNK
    parts, losses = np.zeros((chunks, theta.size)), np.zeros(chunks)
    g = np.ones_like(theta)
    calls = {
        "chunks_grad": lambda: rnn.chunks_grad(
            theta, D, H, O, rnn.VOL, xs, zs, np.arange(N), 0, chunks, parts, losses
        ),
        "chunks_loss": lambda: rnn.chunks_loss(theta, D, H, O, rnn.VOL, xs, zs, 0, chunks, losses),
        "last_outputs": lambda: rnn.last_outputs(theta, D, H, O, xs),
        "sample_vol": lambda: rnn.sample_vol(
            theta,
            D,
            H,
            np.arange(D),
            np.zeros((P, H)),
            np.zeros(P),
            np.ones(P),
            np.ones(P),
            np.zeros((P, 5)),
            1.0,
            np.zeros((P, 5)),
        ),
        "adam_step": lambda: adam_step(
            theta, g, np.zeros_like(g), np.zeros_like(g), 1, 1e-3, 0.9, 0.999, 1e-8, 1.0
        ),
    }
    total = 0.0
    for name, call in calls.items():
        t = time.process_time()
        call()
        took = time.process_time() - t
        total += took
        print(f"{took:6.2f} s  {name}")
    print(f"{total:6.2f} s  total (CPU seconds, cold compile)")


if __name__ == "__main__":
    main()
