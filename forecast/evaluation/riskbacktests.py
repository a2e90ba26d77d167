"""Backtests of Value at Risk, Expected Shortfall and variance forecasts over T past cases.

Per case t the position's realised P&L X_t (a return, here e^x − 1 of a long position),
its forecast VaR_t and ES_t at level a (positive losses, p = 1 − a), and the exceedance

    I_t = 1[X_t < −VaR_t]            (the loss exceeded the VaR)

Unconditional coverage, Kupiec (1995): with x = Σ I_t exceedances in T cases and π̂ = x/T,

    LR_uc = −2 ln[(1 − p)^{T−x} p^x] + 2 ln[(1 − π̂)^{T−x} π̂^x]        ~ χ²(1)

Independence, Christoffersen (1998): n_ij counts days in state i followed by state j
(0 no exceedance, 1 exceedance), π_01 = n01/(n00 + n01), π_11 = n11/(n10 + n11),
π = (n01 + n11)/(n00 + n01 + n10 + n11):

    LR_ind = −2 ln[(1 − π)^{n00 + n10} π^{n01 + n11}]
             + 2 ln[(1 − π_01)^{n00} π_01^{n01} (1 − π_11)^{n10} π_11^{n11}]   ~ χ²(1)
    LR_cc  = LR_uc + LR_ind                                                   ~ χ²(2)

(0 ln 0 = 0 throughout; LR_uc is computed on the T − 1 transitions' cases for LR_cc, as
Christoffersen conditions on the first observation.)

Basel traffic light (Basel Committee 1996, "Supervisory framework for the use of
'backtesting'", Table 2): exceptions of the one-day 99% VaR in the last 250 days; the zone is
set by the cumulative binomial probability P(X ≤ k), X ~ Bin(n, 0.01): green below 95%
(k = 0–4 in 250), yellow below 99.99% (5–9), red from there (10 or more).

Expected Shortfall, Acerbi & Székely (2014, "Backtesting expected shortfall", Risk), test 2:

    Z2 = Σ_t X_t I_t / (T p ES_t) + 1

E[Z2] = 0 when the forecast distribution is right, negative when the risk was
underestimated. Its p-value P(Z2 ≤ observed) is simulated under the forecast distributions
themselves, as the paper prescribes; their 5% critical value, about −0.70, is nearly the same
for any distribution (their Table 1), which the tests check.

Variance forecasts ĥ_t of a return y_t with mean 0 (Patton 2011, "Volatility forecast
comparison using imperfect volatility proxies", J. Econometrics 160, eq. 24 with b = −2 and
b = 0), with the squared return y² as the proxy:

    QLIKE  = y²/ĥ − ln(y²/ĥ) − 1, written here ln ĥ + y²/ĥ (the same up to a term free of ĥ,
             so means differ by a constant and Diebold–Mariano tests are identical; it stays
             finite on days with y = 0)
    MSE    = (y² − ĥ)²

Both are robust: their expected value is least at the true conditional variance, even though
y² is a noisy proxy of it.

Overlap: h-day cases from consecutive origins share h − 1 days, so their exceedances cluster
by construction. At h > 1 the tests use every h-th origin only (non-overlapping cases);
exceedance counts and rates use all.
"""

import math
from collections.abc import Callable

import numpy as np
from scipy import stats

BASEL_DAYS = 250  # the window the Basel zones are defined on
BASEL_LEVEL = 0.99  # ... for the one-day 99% VaR
GREEN, YELLOW = 0.95, 0.9999  # cumulative binomial probabilities that end the green/yellow zones
Z2_SIMULATIONS = 1000  # draws of Z2 under the forecast distributions for its p-value


def _xlogy(x: float, y: float) -> float:
    """x ln y with 0 ln 0 = 0."""
    return 0.0 if x == 0 else x * math.log(y)


def _bernoulli_loglik(zeros: float, ones: float, p: float) -> float:
    """ln[(1 − p)^zeros p^ones], 0 ln 0 = 0."""
    return _xlogy(zeros, 1.0 - p) + _xlogy(ones, p)


def kupiec(hits, p: float) -> tuple[float, float]:
    """(LR_uc, p-value) of Kupiec's (1995) proportion-of-failures test: are the exceedances
    `hits` (T,) bools a Bernoulli(p) sample? p = 1 − a, e.g. 0.01 for a 99% VaR."""
    hits = np.asarray(hits, bool)
    T, x = hits.size, int(hits.sum())
    if T == 0:
        return math.nan, math.nan
    lr = -2.0 * _bernoulli_loglik(T - x, x, p) + 2.0 * _bernoulli_loglik(T - x, x, x / T)
    lr = max(lr, 0.0)  # rounding can leave −1e−15
    return lr, float(stats.chi2.sf(lr, 1))


def transitions(hits) -> tuple[int, int, int, int]:
    """(n00, n01, n10, n11): days in state i (0 quiet, 1 exceedance) followed by state j."""
    h = np.asarray(hits, bool)
    a, b = h[:-1], h[1:]
    return (
        int(np.sum(~a & ~b)),
        int(np.sum(~a & b)),
        int(np.sum(a & ~b)),
        int(np.sum(a & b)),
    )


def christoffersen(hits, p: float) -> dict[str, float]:
    """Christoffersen's (1998) independence and conditional coverage tests of exceedances
    `hits` (T,) at rate p: {lr_ind, p_ind, lr_cc, p_cc} (NaN with fewer than 2 cases)."""
    hits = np.asarray(hits, bool)
    nan = {"lr_ind": math.nan, "p_ind": math.nan, "lr_cc": math.nan, "p_cc": math.nan}
    if hits.size < 2:
        return nan
    n00, n01, n10, n11 = transitions(hits)
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    markov = _bernoulli_loglik(n00, n01, pi01) + _bernoulli_loglik(n10, n11, pi11)
    lr_ind = max(-2.0 * _bernoulli_loglik(n00 + n10, n01 + n11, pi) + 2.0 * markov, 0.0)
    lr_uc, _ = kupiec(hits[1:], p)  # on the T − 1 cases the transitions count
    lr_cc = lr_uc + lr_ind
    return {
        "lr_ind": lr_ind,
        "p_ind": float(stats.chi2.sf(lr_ind, 1)),
        "lr_cc": lr_cc,
        "p_cc": float(stats.chi2.sf(lr_cc, 2)),
    }


def basel_zone(exceptions: int, n: int = BASEL_DAYS, p: float = 1.0 - BASEL_LEVEL) -> str:
    """ "green", "yellow" or "red": P(X ≤ exceptions) for X ~ Bin(n, p) below 95%, below
    99.99%, or not (Basel Committee 1996: 0–4, 5–9, 10+ in 250 days at 99%)."""
    cumulative = float(stats.binom.cdf(exceptions, n, p))
    if cumulative < GREEN:
        return "green"
    return "yellow" if cumulative < YELLOW else "red"


def acerbi_szekely_z2(X, var, es, p: float) -> float:
    """Z2 = Σ X_t I_t / (T p ES_t) + 1, I_t = 1[X_t < −VaR_t]; X, var, es (T,), losses positive."""
    X, var, es = (np.asarray(a, float) for a in (X, var, es))
    if X.size == 0:
        return math.nan
    hit = X < -var
    return float(np.sum(X * hit / es) / (X.size * p) + 1.0)


def z2_test(
    X, var, es, p: float, simulate: Callable[[np.random.Generator, int], np.ndarray], seed=0
) -> tuple[float, float]:
    """(Z2, p-value): the share of Z2 computed on `simulate(rng, S)` → (S, T) P&L drawn from
    the forecast distributions that lies at or below the observed Z2 (one-sided: a small
    p-value says the ES was too small)."""
    z2 = acerbi_szekely_z2(X, var, es, p)
    if not math.isfinite(z2):
        return z2, math.nan
    sims = simulate(np.random.default_rng(seed), Z2_SIMULATIONS)  # (S, T)
    var, es = np.asarray(var, float), np.asarray(es, float)
    null = np.sum(sims * (sims < -var) / es, axis=1) / (sims.shape[1] * p) + 1.0
    return z2, float(np.mean(null <= z2))


def qlike_cases(y2, h) -> np.ndarray:
    """Per-case QLIKE ln ĥ + y²/ĥ (Patton 2011, up to a term free of ĥ), shape of the inputs."""
    y2, h = np.asarray(y2, float), np.asarray(h, float)
    return np.log(h) + y2 / h


def mse_cases(y2, h) -> np.ndarray:
    """Per-case squared error of a variance forecast against the squared return, (y² − ĥ)²."""
    y2, h = np.asarray(y2, float), np.asarray(h, float)
    return (y2 - h) ** 2


def non_overlapping(n: int, h: int) -> np.ndarray:
    """Indices 0, h, 2h, … < n: origins whose h-day windows share no day."""
    return np.arange(0, n, h)
