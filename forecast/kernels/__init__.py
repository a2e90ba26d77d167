"""Numba-compiled numerical kernels: the only place with @njit."""

from pathlib import Path


def is_cached() -> bool:
    """Whether Numba has compiled the RNN kernels into its on-disk cache already.

    Looks where Numba writes (NUMBA_CACHE_DIR, else __pycache__ beside the source) for an index
    file of the training kernel; used only to tell the user the first run will compile.
    """
    import os

    here = Path(__file__).parent
    root = os.environ.get("NUMBA_CACHE_DIR")
    dirs = [Path(root)] if root else [here / "__pycache__"]
    return any(any(d.rglob("rnn.loss_and_grad*.nbi")) for d in dirs if d.exists())
