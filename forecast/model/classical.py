"""The classical volatility models: EWMA, GARCH(1,1) and EGARCH(1,1) as the mean and sd of h-day
log returns. The backtest's yardsticks, and the vol head's fallback (its EGARCH).

Every model here has zero mean: r_t = σ_t z_t with z_t ~ N(0, 1) and r_t the daily log return.

    EWMA (RiskMetrics)   σ²_{t+1} = λ σ²_t + (1 − λ) r²_t                      λ = 0.94
    GARCH(1,1)           σ²_{t+1} = ω + α r²_t + β σ²_t
    EGARCH(1,1)          ln σ²_{t+1} = ω + α(|z_t| − √(2/π)) + γ z_t + β ln σ²_t   (Nelson 1991)

The h-day log return ln(P_{T+h}/P_T) = r_{T+1} + … + r_{T+h} then has mean 0 and, the returns
being uncorrelated, variance V_h = Σ_{j=1..h} E_T σ²_{T+j}: the sum of the 1..h-step variance
forecasts, with

    EWMA     E σ²_{T+j} = σ²_{T+1}                        (flat: an IGARCH(1,1) without intercept)
    GARCH    E σ²_{T+j} = ω + (α + β) E σ²_{T+j−1}
    EGARCH   E σ²_{T+j} = exp(ω Σ_{k=0}^{j−2} β^k + β^{j−1} ln σ²_{T+1}) · Π_{k=0}^{j−2} M(β^k)
             M(c) = E exp(c·g(z)) = e^{−cα√(2/π)} [e^{(a+b)²/2} Φ(a+b) + e^{(a−b)²/2} Φ(a−b)],
             a = cα, b = cγ, g(z) = α(|z| − √(2/π)) + γz: exact, where arch simulates.

GARCH and EGARCH parameters are maximum-likelihood fits by `arch` (normal errors, zero mean) on
returns ×100: percent returns keep the optimizer's numbers near 1. The variance paths are our
own left-to-right recursions started from arch's backcast, so a forecast made at an origin
reads no return after it (arch's filter would also clip variances with bounds computed from
the whole array it is given); the tests check them against arch's own forecasts.

All models share one interface, the random walks of forecast.evaluation.randomwalk included:
`fit(r) -> self` on the returns up to a refit, then `forecast(r, ends, horizon)` with the
fitted parameters at several later origins: mean and sd, each (k, K), of the h-day log return.
"""

import math
import warnings

import numpy as np

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)  # E|z| for z ~ N(0, 1)
PERCENT = 100.0  # arch sees returns in percent
LAMBDA = 0.94  # RiskMetrics (1996) decay for daily data


_TINY = 1e-300  # floor under a variance before its log: constant prices have none
_HALF_LOG_CAP = 700.0  # |0.5 ln σ²| beyond this: exp() leaves float64 (e^709.8 overflows)


def backcast(r: np.ndarray) -> float:
    """arch's start value for a variance recursion: an EWMA (0.94) of the first 75 r², (n,) → σ²_0."""
    tau = min(75, r.size)
    w = LAMBDA ** np.arange(tau)
    return float(np.dot(w / w.sum(), r[:tau] ** 2))


def _check_ends(r: np.ndarray, ends) -> np.ndarray:
    ends = np.asarray(ends, dtype=np.int64)
    if ends.ndim != 1 or ends.size == 0 or ends.min() < 1 or ends.max() > r.size:
        raise ValueError(f"ends must be 1-D counts of returns in 1..{r.size}, got {ends}")
    return ends


def _h_day(step_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k, K) 1..K-step variance forecasts → zero mean and sd √(Σ_{j≤h} σ²_{T+j}), each (k, K)."""
    V = np.cumsum(step_var, axis=1)  # V_h
    return np.zeros_like(V), np.sqrt(V)


# --- EWMA ----------------------------------------------------------------------------------------


def ewma_variance(r, lam: float = LAMBDA) -> np.ndarray:
    """One-step variances s (n + 1,): s[t] = σ² of r[t] given r[:t]; s[n] forecasts the next day.

    s[0] = backcast(r), s[t] = λ s[t−1] + (1 − λ) r[t−1]².
    """
    r = np.asarray(r, dtype=np.float64)
    s = np.empty(r.size + 1)
    s[0] = backcast(r)
    for t in range(1, r.size + 1):
        s[t] = lam * s[t - 1] + (1.0 - lam) * r[t - 1] ** 2  # σ²_{t+1}
    return s


class EWMA:
    """RiskMetrics exponentially weighted variance; nothing to fit (λ is fixed)."""

    name = "ewma"

    def __init__(self, lam: float = LAMBDA):
        self.lam = lam

    def fit(self, r) -> "EWMA":
        self.converged_ = True
        return self

    def forecast(self, r, ends, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        r = np.asarray(r, dtype=np.float64)
        ends = _check_ends(r, ends)
        s = ewma_variance(r[: ends.max()], self.lam)  # (n + 1,)
        one = s[ends]  # (k,) σ²_{T+1}
        return _h_day(np.repeat(one[:, None], horizon, axis=1))


# --- GARCH and EGARCH, fitted by arch ------------------------------------------------------------


def _fit_arch(y: np.ndarray, vol: str, o: int) -> tuple[np.ndarray, bool, list[str]]:
    """arch's zero-mean, normal (E)GARCH(1, o, 1) fit on percent returns y: (params, ok, warnings).

    Quiet: no optimizer output, warnings kept instead of printed. A fit that raises or returns
    non-finite parameters gives (None, False, messages); the caller falls back.
    """
    from arch import arch_model  # imported here: only the backtest needs it

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = arch_model(y, mean="Zero", vol=vol, p=1, o=o, q=1, dist="normal", rescale=False)
            res = model.fit(disp="off", show_warning=False)
            params, ok = np.asarray(res.params, dtype=np.float64), res.convergence_flag == 0
        except (ValueError, np.linalg.LinAlgError, RuntimeError) as e:
            return None, False, [f"{type(e).__name__}: {e}"]
    messages = [str(w.message).splitlines()[0] for w in caught]
    if not np.all(np.isfinite(params)):
        return None, False, messages
    return params, bool(ok), messages


def garch_variance(y, omega: float, alpha: float, beta: float) -> np.ndarray:
    """GARCH(1,1) one-step variances s (n + 1,) of y, as arch's recursion starts them.

    s[0] = ω + (α + β)·backcast, s[t] = ω + α y[t−1]² + β s[t−1]; s[t] is σ² of y[t] given y[:t].
    """
    y = np.asarray(y, dtype=np.float64)
    bc = backcast(y)
    s = np.empty(y.size + 1)
    s[0] = omega + (alpha + beta) * bc
    for t in range(1, y.size + 1):
        s[t] = omega + alpha * y[t - 1] ** 2 + beta * s[t - 1]  # σ²_{t+1}
    return s


def egarch_log_variance(y, omega: float, alpha: float, gamma: float, beta: float) -> np.ndarray:
    """EGARCH(1,1) one-step log variances l (n + 1,) of y, as arch's recursion starts them.

    l[0] = ω + β·ln backcast (no shock before the first day), then
    l[t] = ω + α(|z| − √(2/π)) + γ z + β l[t−1] with z = y[t−1]/exp(l[t−1]/2).
    """
    y = np.asarray(y, dtype=np.float64)
    l = np.empty(y.size + 1)
    l[0] = omega + beta * math.log(max(backcast(y), _TINY))  # flat prices: r² all 0
    for t in range(1, y.size + 1):
        # the sd floored and capped where a wild fit (β > 1) has sent l past float range:
        # the forecast is clipped to the fit's bounds later, and must not raise on the way
        z = y[t - 1] / math.exp(min(max(0.5 * l[t - 1], -_HALF_LOG_CAP), _HALF_LOG_CAP))
        l[t] = omega + alpha * (abs(z) - SQRT_2_OVER_PI) + gamma * z + beta * l[t - 1]
    return l


def egarch_log_variance_windows(Y, starts, omega, alpha, gamma, beta) -> np.ndarray:
    """EGARCH(1,1) log variance after the last return of each window: Y (n, L) percent returns,
    row i's returns Y[i, starts[i]:] (earlier columns unused) -> l (n,), for each row the last
    value egarch_log_variance(Y[i, starts[i]:]) returns; the rows run side by side."""
    Y = np.asarray(Y, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    n, L = Y.shape
    bc = np.array([backcast(Y[i, starts[i] :]) for i in range(n)])  # (n,)
    l = omega + beta * np.log(np.maximum(bc, _TINY))  # l[0] of each row
    for t in range(L):
        z = Y[:, t] / np.exp(0.5 * l)  # standardised shock z_t
        step = omega + alpha * (np.abs(z) - SQRT_2_OVER_PI) + gamma * z + beta * l
        l = np.where(t >= starts, step, l)  # a row starts at its first return
    return l


def egarch_step_variances(log_var1, omega, alpha, gamma, beta, horizon: int) -> np.ndarray:
    """E σ²_{T+j} for j = 1..K from ln σ²_{T+1} (k,), in closed form (module docstring) → (k, K)."""
    # log Phi from scipy.special, not scipy.stats (what norm.logcdf calls): every model load
    # imports this module, and scipy.stats would add ~0.4 s to predict
    from scipy.special import log_ndtr

    log_var1 = np.asarray(log_var1, dtype=np.float64)

    def log_M(c: float) -> float:  # ln E exp(c·g(z)), z ~ N(0, 1)
        a, b = c * alpha, c * gamma
        both = np.logaddexp(
            0.5 * (a + b) ** 2 + log_ndtr(a + b),
            0.5 * (a - b) ** 2 + log_ndtr(a - b),
        )
        return float(both - a * SQRT_2_OVER_PI)

    out = np.empty((log_var1.size, horizon))
    for j in range(1, horizon + 1):
        k = np.arange(j - 1)  # 0 .. j − 2
        log_mean = omega * np.sum(beta**k) + beta ** (j - 1) * log_var1
        log_mean = log_mean + sum(log_M(beta**i) for i in k)
        out[:, j - 1] = np.exp(log_mean)
    return out


class _ArchModel:
    """Shared fit/forecast of GARCH and EGARCH; a failed fit falls back to constant variance."""

    name = ""
    vol = ""
    o = 0

    def fit(self, r) -> "_ArchModel":
        y = PERCENT * np.asarray(r, dtype=np.float64)
        params, ok, self.warnings_ = _fit_arch(y, self.vol, self.o)
        self.converged_ = ok
        self.params_ = params if params is not None else self._constant(y)
        # variances kept within 10^±6 of the fit's mean y², as arch bounds them, but from the
        # fit's returns only: a wild fit cannot forecast a zero or infinite variance
        v = float(np.mean(y**2))
        self.bounds_ = (v * 1e-6, v * 1e6)
        return self

    def forecast(self, r, ends, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        r = np.asarray(r, dtype=np.float64)
        ends = _check_ends(r, ends)
        y = PERCENT * r[: ends.max()]
        with np.errstate(all="ignore"):  # a degenerate fit: bounded below
            step = self._step_variances(y, ends, horizon)  # (k, K) in percent²
        step = np.clip(np.nan_to_num(step, nan=self.bounds_[1]), *self.bounds_)
        return _h_day(step / PERCENT**2)


class GARCH(_ArchModel):
    """GARCH(1,1), zero mean, normal errors; parameters (ω, α, β) as arch orders them."""

    name, vol = "garch", "GARCH"

    @staticmethod
    def _constant(y):
        return np.array([float(np.mean(y**2)), 0.0, 0.0])  # σ² = mean y²: a random walk

    def _step_variances(self, y, ends, horizon):
        omega, alpha, beta = self.params_
        s = garch_variance(y, omega, alpha, beta)
        out = np.empty((ends.size, horizon))
        out[:, 0] = s[ends]  # σ²_{T+1}
        for j in range(1, horizon):
            out[:, j] = omega + (alpha + beta) * out[:, j - 1]  # E σ²_{T+j}
        return out


class EGARCH(_ArchModel):
    """EGARCH(1,1) with the leverage term γ, zero mean, normal errors; parameters (ω, α, γ, β)."""

    name, vol, o = "egarch", "EGARCH", 1

    @staticmethod
    def _constant(y):
        return np.array([math.log(max(float(np.mean(y**2)), _TINY)), 0.0, 0.0, 0.0])

    def _step_variances(self, y, ends, horizon):
        omega, alpha, gamma, beta = self.params_
        l = egarch_log_variance(y, omega, alpha, gamma, beta)
        return egarch_step_variances(l[ends], omega, alpha, gamma, beta, horizon)

    def step_variances_windows(self, R, starts, horizon: int) -> np.ndarray:
        """E σ²_{T+j}, j = 1..H (k, H), of log returns, after each window of returns R (k, L)
        whose row i starts at column starts[i]: what forecast(R[i, starts[i]:], [L - starts[i]],
        H) implies, for many windows at once (the vol head's blend, RNNForecaster)."""
        omega, alpha, gamma, beta = self.params_
        with np.errstate(all="ignore"):  # a degenerate fit: bounded below
            l = egarch_log_variance_windows(PERCENT * np.asarray(R), starts, *self.params_)
            step = egarch_step_variances(l, omega, alpha, gamma, beta, horizon)
        step = np.clip(np.nan_to_num(step, nan=self.bounds_[1]), *self.bounds_)
        return step / PERCENT**2


def h_day_forecast(model, r, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit `model` on all of r (n,) and forecast from its end: mean and sd (K,) of the h-day log return."""
    r = np.asarray(r, dtype=np.float64)
    mean, sd = model.fit(r).forecast(r, [r.size], horizon)
    return mean[0], sd[0]
