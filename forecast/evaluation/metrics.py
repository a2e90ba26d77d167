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
    NLL (normal)   = mean ½·log(2πσ²) + (y − μ)²/(2σ²)

The `_cases` variants return the per-case scores (N,) that the means average, for tests of
equal accuracy (Diebold–Mariano on CRPS). Callers drop cases with missing values first;
nothing here skips NaN.
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


def direction_vs_base_rate(y, yhat, y_ref) -> tuple[float, int, float, float]:
    """Hit rate of the up/down calls against the better constant call on the same cases.

    Cases are counted as in direction_accuracy. The base rate is the share of up moves among
    them, q; always calling "up" scores q and always calling "down" 1 − q, so a forecaster has
    directional skill only above b = max(q, 1 − q). p-value: one-sided exact binomial test of
    k hits in n against b (small when the calls beat the better constant call).
    Returns (accuracy, n, q, p_value); (nan, 0, nan, nan) when no case qualifies.
    """
    y, yhat, y_ref = (np.asarray(a, float) for a in (y, yhat, y_ref))
    called, moved = np.sign(yhat - y_ref), np.sign(y - y_ref)
    counted = (called != 0) & (moved != 0)
    n = int(counted.sum())
    if n == 0:
        return math.nan, 0, math.nan, math.nan
    k = int((called[counted] == moved[counted]).sum())
    q = float(np.mean(moved[counted] > 0))  # share of up moves
    b = max(q, 1.0 - q)  # the better constant call's hit rate
    p_value = 1.0 if b >= 1.0 else stats.binomtest(k, n, b, alternative="greater").pvalue
    return k / n, n, q, float(p_value)


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


def crps_gaussian_cases(y, mu, sigma) -> np.ndarray:
    """CRPS of each N(μ, σ²) forecast in closed form, shape (N,); lower is better.

    CRPS = σ·[z(2Φ(z) − 1) + 2φ(z) − 1/√π], z = (y − μ)/σ (Gneiting & Raftery 2007).
    """
    y, mu, sigma = (np.asarray(a, float) for a in (y, mu, sigma))
    z = (y - mu) / sigma
    return sigma * (
        z * (2.0 * stats.norm.cdf(z) - 1.0) + 2.0 * stats.norm.pdf(z) - 1.0 / np.sqrt(np.pi)
    )


def crps_gaussian(y, mu, sigma) -> float:
    """Mean CRPS of N(μ, σ²) forecasts: the mean of crps_gaussian_cases."""
    return float(np.mean(crps_gaussian_cases(y, mu, sigma)))


def nll_gaussian_cases(y, mu, sigma) -> np.ndarray:
    """Negative log-likelihood of each outcome under N(μ, σ²), shape (N,); lower is better.

    NLL = ½·log(2πσ²) + (y − μ)²/(2σ²), in nats.
    """
    y, mu, sigma = (np.asarray(a, float) for a in (y, mu, sigma))
    return 0.5 * np.log(2.0 * np.pi * sigma**2) + (y - mu) ** 2 / (2.0 * sigma**2)


def nll_gaussian(y, mu, sigma) -> float:
    """Mean Gaussian negative log-likelihood: the mean of nll_gaussian_cases."""
    return float(np.mean(nll_gaussian_cases(y, mu, sigma)))


def diebold_mariano(e_model, e_naive, h: int) -> tuple[float, float]:
    """Diebold–Mariano test of equal accuracy under absolute-error loss, with the HLN correction.

    e_model, e_naive: (N,) forecast errors y − ŷ of two forecasts of the same N cases at
    horizon h. The loss differential d_t = |e_model,t| − |e_naive,t| has mean d̄; h-step
    forecasts from consecutive origins overlap, so d is MA(h − 1) under the null and its
    variance is the HAC (rectangular-kernel) sum of the first h − 1 autocovariances:

        γ_k  = 1/N · Σ_{t>k} (d_t − d̄)(d_{t−k} − d̄)
        V    = (γ_0 + 2 Σ_{k=1}^{h−1} γ_k) / N
        DM   = d̄ / √V
        DM*  = DM · √((N + 1 − 2h + h(h − 1)/N) / N)      Harvey, Leybourne & Newbold (1997)
        p    = 2 · P(t_{N−1} > |DM*|)                      two-sided

    DM* < 0 means the model's errors are smaller. As in R's forecast::dm.test, a negative
    HAC variance falls back to h = 1 (γ_0 only). Identical losses give (0.0, 1.0); a constant
    non-zero differential gives (±inf, 0.0); too few cases for the correction give (nan, nan).
    """
    e1, e2 = np.asarray(e_model, float), np.asarray(e_naive, float)
    if e1.shape != e2.shape or e1.ndim != 1:
        raise ValueError(
            f"errors must be two 1-D arrays of one shape, got {e1.shape} and {e2.shape}"
        )
    return diebold_mariano_losses(np.abs(e1), np.abs(e2), h)


def diebold_mariano_losses(loss_model, loss_ref, h: int) -> tuple[float, float]:
    """Diebold–Mariano test (HLN-corrected) of equal expected loss, for any per-case losses.

    loss_model, loss_ref: (N,) losses of two forecasts of the same N cases at horizon h, e.g.
    absolute errors or CRPS; d_t = loss_model,t − loss_ref,t, and the test is the one
    diebold_mariano describes. DM* < 0: the model's losses are smaller.
    """
    l1, l2 = np.asarray(loss_model, float), np.asarray(loss_ref, float)
    if l1.shape != l2.shape or l1.ndim != 1:
        raise ValueError(
            f"losses must be two 1-D arrays of one shape, got {l1.shape} and {l2.shape}"
        )
    if h < 1:
        raise ValueError(f"horizon must be >= 1, got {h}")
    d = l1 - l2  # loss differential d_t
    N = d.size
    if N < 2:
        return math.nan, math.nan
    d_bar = float(np.mean(d))  # d̄
    dc = d - d_bar
    gamma = [float(np.dot(dc[k:], dc[: N - k])) / N for k in range(min(h, N))]  # γ_0 .. γ_{h−1}
    V = (gamma[0] + 2.0 * sum(gamma[1:])) / N  # HAC variance of d̄
    if V < 0:
        V = gamma[0] / N  # negative HAC estimate: fall back to h = 1
    if V <= 0:  # every d_t equal
        return (0.0, 1.0) if d_bar == 0 else (math.copysign(math.inf, d_bar), 0.0)
    k2 = (N + 1 - 2 * h + h * (h - 1) / N) / N  # HLN small-sample factor, squared
    if k2 <= 0:
        return math.nan, math.nan
    stat = d_bar / math.sqrt(V) * math.sqrt(k2)  # DM*
    p_value = 2.0 * stats.t.sf(abs(stat), df=N - 1)
    return float(stat), float(p_value)
