"""Random-walk forecasts on log prices: the baselines every RNN number is compared with.

From an origin with history p_1..p_T (the last is the origin close) and log returns
r_t = log p_t − log p_{t−1}, for horizons h = 1..K:

    naive   p̂_{T+h} = p_T                                   (random walk, no drift)
    drift   p̂_{T+h} = p_T · exp(h · r̄),  r̄ = mean r_t = (log p_T − log p_1)/(T − 1)
    bands   p_T · exp(± z_{(1+L)/2} · σ · √h),  σ = std(r_t, ddof=1)

The bands are those of a zero-drift Gaussian random walk in log price, whose h-day log
return is N(0, hσ²); their median is p_T, the naive forecast.
"""

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


def _validated(closes, min_len: int) -> np.ndarray:
    p = np.asarray(closes, dtype=float)
    if p.ndim != 1 or p.size < min_len:
        raise ValueError(f"closes must be 1-D with at least {min_len} prices, got shape {p.shape}")
    if not np.all(np.isfinite(p) & (p > 0)):
        raise ValueError("closes must be finite and positive (log prices)")
    return p


def naive(closes, horizon: int) -> np.ndarray:
    """The last close repeated: p̂_{T+h} = p_T, shape (K,)."""
    p = _validated(closes, 1)
    return np.full(horizon, p[-1])  # p_T


def drift(closes, horizon: int) -> np.ndarray:
    """Hyndman's drift method on log prices: p̂_{T+h} = p_T · exp(h · r̄), shape (K,)."""
    p = _validated(closes, 2)
    r_bar = np.mean(np.diff(np.log(p)))  # r̄ = (log p_T − log p_1)/(T − 1)
    h = np.arange(1, horizon + 1)
    return p[-1] * np.exp(h * r_bar)  # p_T · exp(h r̄)


@dataclass(frozen=True)
class Intervals:
    """A median path and central prediction bands, every array shape (K,) over h = 1..K."""

    median: np.ndarray
    lower: dict[float, np.ndarray]  # level L → lower band
    upper: dict[float, np.ndarray]  # level L → upper band
    sigma: float  # daily log-return volatility the bands were built from


def random_walk_intervals(
    closes, horizon: int, levels=(0.8, 0.95), window: int | None = None
) -> Intervals:
    """Bands of a constant-volatility, zero-drift random walk in log price.

    σ = std of daily log returns up to the origin (ddof=1), from the last `window` returns
    only when given (a recent window follows volatility regimes; the full history is steadier).
    Band at level L: p_T · exp(± z_{(1+L)/2} · σ · √h).
    """
    p = _validated(closes, 3)  # ≥ 2 returns for a ddof=1 std
    r = np.diff(np.log(p))  # (T−1,) daily log returns
    if window is not None:
        if window < 2:
            raise ValueError(f"window must be >= 2 returns, got {window}")
        r = r[-window:]
    sigma = float(np.std(r, ddof=1))  # σ
    h = np.arange(1, horizon + 1)
    last = p[-1]
    lower, upper = {}, {}
    for level in levels:
        z = NormalDist().inv_cdf((1.0 + level) / 2.0)  # z_{(1+L)/2}
        half = z * sigma * np.sqrt(h)  # half-width in log price grows like √h
        lower[level] = last * np.exp(-half)
        upper[level] = last * np.exp(half)
    return Intervals(median=np.full(horizon, last), lower=lower, upper=upper, sigma=sigma)


class RandomWalk:
    """The random walk as a yardstick with the interface of forecast.model.classical's models.

    Fitted on the daily log returns up to a refit, r (n,): σ = std(r, ddof=1), and with
    drift r̄ = mean r. Forecast at a later origin: the h-day log return is N(h·r̄, hσ²)
    (r̄ = 0 without drift), whatever happened since the refit.
    """

    def __init__(self, drift: bool = False):
        self.drift = drift
        self.name = "drift" if drift else "naive"

    def fit(self, r) -> "RandomWalk":
        r = np.asarray(r, dtype=float)
        if r.size < 2:
            raise ValueError(f"a random walk needs at least 2 returns, got {r.size}")
        self.sigma_ = float(np.std(r, ddof=1))  # σ
        self.r_bar_ = float(np.mean(r)) if self.drift else 0.0  # r̄
        self.converged_ = True
        return self

    def forecast(self, r, ends, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """mean (k, K) = h·r̄ and sd (k, K) = σ·√h for each of the k origins in ends."""
        h = np.arange(1, horizon + 1)
        k = np.asarray(ends).size
        mean = np.broadcast_to(h * self.r_bar_, (k, horizon)).copy()
        sd = np.broadcast_to(self.sigma_ * np.sqrt(h), (k, horizon)).copy()
        return mean, sd
