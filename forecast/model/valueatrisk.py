"""Value at Risk and Expected Shortfall of a position whose h-day log return is forecast.

The position is worth p_o at the origin and p_{o+h} = p_o e^x after h days, x the h-day log
return. Its loss, as a fraction of p_o, is 1 − e^x held long and e^x − 1 held short. At
level a (e.g. 0.99):

    VaR_a  the loss exceeded with probability 1 − a          (a quantile of the loss)
    ES_a   the mean loss in those 1 − a worst cases           E[loss | loss ≥ VaR_a]

For x ~ N(m, σ²) (so p_{o+h} is lognormal), z_a = Φ⁻¹(a), φ and Φ the standard normal density
and distribution function:

    long   VaR_a = 1 − exp(m − z_a σ)
           ES_a  = 1 − exp(m + σ²/2) Φ(−z_a − σ) / (1 − a)
    short  VaR_a = exp(m + z_a σ) − 1
           ES_a  = exp(m + σ²/2) Φ(σ − z_a) / (1 − a) − 1

from the lognormal partial expectation E[e^x 1{x ≤ q}] = e^{m + σ²/2} Φ((q − m − σ²)/σ). In log
return units the same quantities are the normal ones of McNeil, Frey & Embrechts (2015,
Quantitative Risk Management, Example 2.14): VaR = z_a σ − m, ES = σ φ(z_a)/(1 − a) − m for a
long position; e.g. ES_0.975 = 2.338 σ ≈ VaR_0.99 = 2.326 σ, the equivalence the Basel
Committee's FRTB (2016) chose ES 97.5% by.

How the RNN's forecast becomes an (m, σ) here (forecast.model.predictive): its calibrated band
of level 2a − 1 is m ± w; the one-sided VaR_a must be its edge, so σ_a = w / z_a: the Gaussian
whose a-quantile is the printed band's edge. VaR_95 is then exactly the 90% band's lower edge,
VaR_99 the 98% band's, and ES is that Gaussian's tail mean.
"""

import math
from statistics import NormalDist  # not scipy.stats: predict stays light

import numpy as np

TRADING_DAYS = 252  # sessions a year: annualised sigma = sigma_day * sqrt(252)
# ... on a market that never closes for the weekend: every day (crypto), every weekday (FX);
# annualising a crypto sigma by sqrt(252) would understate its yearly volatility by a fifth
ROUND_THE_CLOCK_DAYS = {"24/7": 365, "24/5": 260}


def sessions_per_year(exchange: str) -> int:
    """Sessions a year on `exchange` (a calendar code, forecast.calendars): 365 for 24/7,
    260 for 24/5, else the 252 convention (exchanges keep 250-253)."""
    return ROUND_THE_CLOCK_DAYS.get(str(exchange).upper(), TRADING_DAYS)


_N = NormalDist()


def z(a: float) -> float:
    """z_a = Φ⁻¹(a)."""
    return _N.inv_cdf(a)


def _Phi(x: np.ndarray) -> np.ndarray:
    """Φ elementwise, via erfc (accurate in the far tail, where 1 − erf loses digits)."""
    x = np.asarray(x, float)
    return 0.5 * np.vectorize(math.erfc, otypes=[float])(-x / math.sqrt(2.0))


def var_es(m, sigma, a: float, short: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(VaR_a, ES_a) as loss fractions of the position's value, for x ~ N(m, σ²), elementwise.

    m, sigma: arrays of one shape (the mean and sd of the h-day log return); a in (0.5, 1).
    """
    m, sigma = np.asarray(m, float), np.asarray(sigma, float)
    za = z(a)
    with np.errstate(over="ignore", invalid="ignore"):  # a huge sigma: the limits below
        growth = np.exp(m + 0.5 * sigma**2)  # E e^x
        if short:
            var = np.exp(m + za * sigma) - 1.0  # VaR_a, short
            es = growth * _Phi(sigma - za) / (1.0 - a) - 1.0  # ES_a, short
        else:
            var = 1.0 - np.exp(m - za * sigma)  # VaR_a, long
            es = 1.0 - growth * _Phi(-za - sigma) / (1.0 - a)  # ES_a, long
    # growth overflows (inf * 0 = NaN) only where sigma is huge: a long position then loses
    # everything in its tail (ES -> 1), a short one without bound (ES -> inf)
    es = np.where(np.isnan(es) & np.isfinite(m) & np.isfinite(sigma), np.inf if short else 1.0, es)
    return var, es


def var_es_log(m, sigma, a: float) -> tuple[np.ndarray, np.ndarray]:
    """(VaR_a, ES_a) of a long position in log-return units, x ~ N(m, σ²) (McNeil et al. 2015,
    Example 2.14): z_a σ − m and σ φ(z_a)/(1 − a) − m."""
    m, sigma = np.asarray(m, float), np.asarray(sigma, float)
    za = z(a)
    return za * sigma - m, sigma * _N.pdf(za) / (1.0 - a) - m
