"""How good a forecast is: the walk-forward backtest, its yardsticks and its scores.

backtest     origins, refits, scores, verdict, per-origin export (run_backtest); its
             yardsticks EWMA, GARCH and EGARCH are forecast.model.classical (the vol head
             falls back to EGARCH)
riskbacktests  VaR and ES backtests, variance losses
randomwalk   naive, drift and the constant-volatility random walk
metrics      MAE, MASE, coverage, Winkler, CRPS, NLL, Diebold–Mariano
"""

from forecast import lazy_face

_FACE = {  # public name -> the module that defines it
    "run_backtest": "backtest",
    "BacktestResult": "backtest",
    "verdict": "backtest",
    "RandomWalk": "randomwalk",
    "crps_gaussian": "metrics",
    "interval_score": "metrics",
    "diebold_mariano": "metrics",
}
__all__ = list(_FACE)

__getattr__, __dir__ = lazy_face(__name__, _FACE)
