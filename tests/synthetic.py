"""Synthetic price histories with a known signal, in the schema of forecast.prices."""

import numpy as np
import pandas as pd


def prices_from_returns(r: np.ndarray, start="2000-01-03") -> pd.DataFrame:
    """A price frame whose Adj Close has exactly the log returns r (first day: 100)."""
    close = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    dates = pd.bdate_range(start, periods=len(close), name="Date")
    return pd.DataFrame(
        {
            "Open": close,
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Adj Close": close,
            "Volume": np.full(len(close), 1_000_000, dtype=np.int64),
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=dates,
    )


def ar1_returns(n: int, phi: float, sigma: float, seed: int) -> np.ndarray:
    """r_t = phi r_{t-1} + e_t, e_t ~ N(0, sigma^2): the best forecast knows phi; naive says 0."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, sigma, n)
    r = np.zeros(n)
    for t in range(1, n):
        r[t] = phi * r[t - 1] + e[t]
    return r


def regime_returns(
    n: int, sigmas=(0.005, 0.02), mean_block=50, seed=0
) -> tuple[np.ndarray, np.ndarray]:
    """Zero-mean returns whose volatility switches between regimes lasting ~mean_block days.

    Returns (r, sigma_t). Recent |r| reveal the regime, so a model can learn tomorrow's sigma.
    """
    rng = np.random.default_rng(seed)
    sig = np.empty(n)
    state, t = 0, 0
    while t < n:
        length = 1 + rng.geometric(1.0 / mean_block)
        sig[t : t + length] = sigmas[state]
        state, t = 1 - state, t + length
    return rng.normal(0.0, 1.0, n) * sig, sig
