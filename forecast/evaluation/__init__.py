"""How good a forecast is: the walk-forward backtest, its yardsticks and its scores.

backtest     origins, refits, scores, verdict, per-origin export (run_backtest)
yardsticks   EWMA, GARCH(1,1), EGARCH(1,1) fitted with arch
randomwalk   naive, drift and the constant-volatility random walk
metrics      MAE, MASE, coverage, Winkler, CRPS, NLL, Diebold–Mariano
"""

from forecast import lazy_face

__all__ = [
    "run_backtest",
    "BacktestResult",
    "verdict",
    "EWMA",
    "GARCH",
    "EGARCH",
    "RandomWalk",
    "crps_gaussian",
    "interval_score",
    "diebold_mariano",
]
_FACE = {  # public name -> the module that defines it
    "run_backtest": "backtest",
    "BacktestResult": "backtest",
    "verdict": "backtest",
    "EWMA": "yardsticks",
    "GARCH": "yardsticks",
    "EGARCH": "yardsticks",
    "RandomWalk": "randomwalk",
    "crps_gaussian": "metrics",
    "interval_score": "metrics",
    "diebold_mariano": "metrics",
}

__getattr__, __dir__ = lazy_face(__name__, _FACE)
