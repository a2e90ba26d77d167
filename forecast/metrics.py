"""Forecast accuracy scores over N forecast cases (origins) at one horizon.

Every function takes arrays of shape (N,) — y the realised closes, yhat the point forecasts,
lower/upper/q/mu/sigma the predictive summaries — and returns a mean over the cases:

    MAE            = mean |y − ŷ|
    RMSE           = sqrt(mean (y − ŷ)²)
    relative MAE   = MAE(ŷ) / MAE(ŷ_naive)                 (< 1 beats the random walk)
    MASE           = mean |y − ŷ| / scale,  scale = mean |p_t − p_{t−1}| in-sample
    coverage       = mean 1[l ≤ y ≤ u]
    interval score = mean (u − l) + 2/α·(l − y)·1[y < l] + 2/α·(y − u)·1[y > u]
    CRPS (normal)  = mean σ·[z(2Φ(z) − 1) + 2φ(z) − 1/√π],  z = (y − μ)/σ
    pinball        = mean max(τ(y − q), (τ − 1)(y − q))

Callers drop cases with missing values first; nothing here skips NaN.
"""

import math

import numpy as np
from scipy import stats


def mae(y, yhat) -> float:
    """Mean absolute error: mean |y − ŷ|."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    return float(np.mean(np.abs(y - yhat)))  # MAE


def rmse(y, yhat) -> float:
    """Root mean squared error: sqrt(mean (y − ŷ)²)."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    return float(np.sqrt(np.mean((y - yhat) ** 2)))  # RMSE


def relative_mae(y, yhat, yhat_naive) -> float:
    """MAE of ŷ divided by MAE of the naive forecast on the same cases; exactly 1.0 for naive.

    Returns nan when the naive forecast is perfect on every case (0/0 or x/0).
    """
    denom = mae(y, yhat_naive)
    if denom == 0.0:
        return math.nan
    return mae(y, yhat) / denom  # MAE(ŷ) / MAE(naive)


def naive_scale(history) -> float:
    """In-sample one-step naive MAE, mean |p_t − p_{t−1}|: MASE's scale (Hyndman & Koehler 2006).

    history: (T,) training prices up to the origin, T ≥ 2.
    """
    p = np.asarray(history, float)
    if p.size < 2:
        raise ValueError("naive_scale needs at least 2 prices")
    return float(np.mean(np.abs(np.diff(p))))  # mean |p_t − p_{t−1}|


def mase(y, yhat, scale) -> float:
    """Mean absolute scaled error: mean |y − ŷ| / scale.

    scale: a number, or (N,) per-case scales when each origin has its own training history
    (then each case's error is scaled by its own history before averaging).
    """
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    scale = np.asarray(scale, float)
    return float(np.mean(np.abs(y - yhat) / scale))  # mean |e| / scale


def direction_accuracy(y, yhat, y_ref) -> tuple[float, int, float]:
    """Hit rate of the forecast's up/down call, with a two-sided exact binomial p-value vs 0.5.

    A hit is sign(ŷ − y_ref) == sign(y − y_ref), y_ref the last close at the origin, shape (N,).
    Cases where the forecast calls no direction (ŷ == y_ref, e.g. the naive forecast) or the
    price did not move (y == y_ref) are excluded, so n counts only cases with two directions.
    Returns (accuracy, n, p_value); (nan, 0, nan) when no case qualifies.
    """
    y, yhat, y_ref = (np.asarray(a, float) for a in (y, yhat, y_ref))
    called = np.sign(yhat - y_ref)  # +1 up, −1 down, 0 no call
    moved = np.sign(y - y_ref)
    counted = (called != 0) & (moved != 0)
    n = int(counted.sum())
    if n == 0:
        return math.nan, 0, math.nan
    k = int((called[counted] == moved[counted]).sum())
    p_value = stats.binomtest(k, n, 0.5, alternative="two-sided").pvalue
    return k / n, n, float(p_value)


def coverage(y, lower, upper) -> float:
    """Fraction of cases inside the closed interval: mean 1[l ≤ y ≤ u]."""
    y, lower, upper = (np.asarray(a, float) for a in (y, lower, upper))
    return float(np.mean((lower <= y) & (y <= upper)))


def interval_score(y, lower, upper, alpha: float) -> float:
    """Winkler / Gneiting–Raftery interval score of a central (1 − α) interval; lower is better.

    mean (u − l) + 2/α·(l − y)·1[y < l] + 2/α·(y − u)·1[y > u]: width plus a penalty for misses
    that makes reporting the true quantiles the optimal strategy. α = 0.2 for an 80% band.
    """
    y, lower, upper = (np.asarray(a, float) for a in (y, lower, upper))
    below = (2.0 / alpha) * (lower - y) * (y < lower)
    above = (2.0 / alpha) * (y - upper) * (y > upper)
    return float(np.mean((upper - lower) + below + above))


def crps_gaussian(y, mu, sigma) -> float:
    """Mean CRPS of N(μ, σ²) forecasts in closed form; lower is better.

    CRPS = σ·[z(2Φ(z) − 1) + 2φ(z) − 1/√π], z = (y − μ)/σ (Gneiting & Raftery 2007).
    """
    y, mu, sigma = (np.asarray(a, float) for a in (y, mu, sigma))
    z = (y - mu) / sigma
    crps = sigma * (
        z * (2.0 * stats.norm.cdf(z) - 1.0) + 2.0 * stats.norm.pdf(z) - 1.0 / np.sqrt(np.pi)
    )
    return float(np.mean(crps))


def pinball_loss(y, q, tau: float) -> float:
    """Mean pinball loss of a τ-quantile forecast q: mean max(τ(y − q), (τ − 1)(y − q))."""
    y, q = np.asarray(y, float), np.asarray(q, float)
    e = y - q
    return float(np.mean(np.maximum(tau * e, (tau - 1.0) * e)))  # pinball
