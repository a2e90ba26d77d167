"""Numba-compiled numerical kernels: the only place with @njit."""

from pathlib import Path


def is_cached() -> bool:
    """Whether Numba has compiled the RNN kernels into its on-disk cache already.

    Looks where Numba writes (NUMBA_CACHE_DIR, else __pycache__ beside the source) for an index
    file of the training kernel; used only to tell the user the first run will compile.
    """
    import os

    from forecast.model.kernels.rnn import _chunks_grad  # the jitted body chunks_grad calls

    here = Path(__file__).parent
    root = os.environ.get("NUMBA_CACHE_DIR")
    d = Path(root) if root else here / "__pycache__"
    return d.exists() and any(d.rglob(f"rnn.{_chunks_grad.py_func.__name__}-*.nbi"))
