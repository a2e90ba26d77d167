"""Many tickers per command: universe files, worker processes or a Dask cluster, per-ticker rows.

tickers   command-line tickers and --universe files: comments, repeats, bad symbols
jobs      per-ticker jobs on a local process pool or a Dask cluster, one code path
many      what a worker computes per ticker, and the row the parent keeps
"""

from forecast import lazy_face

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
__all__ = list(_FACE)

__getattr__, __dir__ = lazy_face(__name__, _FACE)
