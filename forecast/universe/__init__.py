"""Many tickers per command: universe files, worker processes or a Dask cluster, per-ticker rows.

tickers   command-line tickers and --universe files: comments, repeats, bad symbols
jobs      per-ticker jobs on a local process pool or a Dask cluster, one code path
many      what a worker computes per ticker, and the row the parent keeps
"""

__all__ = [
    "Universe",
    "resolve",
    "read_universe",
    "Runner",
    "Outcome",
    "Row",
    "train_universe",
    "predict_universe",
    "backtest_universe",
]
_FACE = {  # public name -> the module that defines it
    "Universe": "tickers",
    "resolve": "tickers",
    "read_universe": "tickers",
    "Runner": "jobs",
    "Outcome": "jobs",
    "Row": "many",
    "train_universe": "many",
    "predict_universe": "many",
    "backtest_universe": "many",
}


def __getattr__(name: str):
    """Import a public name's module on first use (PEP 562): importing one light module of this
    package (say tickers (no numba)) does not load the heavy ones."""
    if name in _FACE:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_FACE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
