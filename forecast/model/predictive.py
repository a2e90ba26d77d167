"""The calibrated predictive distribution of one forecast: its bands, sigmas, VaR and ES.

For h = 1..days the h-day log return x_h = ln(p_{o+h}/p_o) is forecast with

    centre   m_h    the paths' median (0 for the vol head: mean 0 by design)
    spread   s_h    the scale the conformal factors multiply (vol head: sd_h; others: the
                    paths' standard deviation)
    sd       σ_h    the model's sd of x_h (vol head: sd_h = sd·sqrt(f·cumvar_h); others:
                    the 95% band's half-width / z_0.975, the Gaussian the band implies)

and a band of level L is p_o·exp(m_h ± w_{L,h}), with half-width

    w_{L,h} = max_{h' ≤ h} max_{L' ≤ L} c_{L',h'} s_{h'}

c the split-conformal factors (forecast/model/conformal.py). The two maxima only ever widen a
band (coverage can only rise): a wider level's band contains a narrower level's on every day,
even where two conformal quantiles of few cases came out in the wrong order, and no band gets
narrower from one day to the next (an h-day move cannot be less uncertain than an (h−1)-day
one; a conformal factor can still dip by chance). With the vol head's fixed centre no edge
comes back in; a head whose median m_h drifts moves both edges with it.

The day's own sigma is that of the one-day return r_{o+h}: sqrt(σ_h² − σ_{h−1}²) (returns are
uncorrelated, so variances add). VaR and ES at level a come from the band of level 2a − 1
(forecast/model/valueatrisk.py): VaR_95 is the 90% band's lower edge read as a loss.
"""

from dataclasses import dataclass

import numpy as np

from forecast.errors import UsageError
from forecast.model.valueatrisk import TRADING_DAYS, var_es, z

VAR_LEVELS = (0.95, 0.99)  # VaR and ES levels shown unless asked for others
LEVEL_RANGE = (50.0, 99.9)  # percent, exclusive: a band needs some width and enough cases


def check_levels(percents, option: str = "--level") -> tuple[float, ...]:
    """Levels given in percent (e.g. [90, 99]) as fractions, sorted; UsageError for a level
    outside LEVEL_RANGE or one given twice."""
    lo, hi = LEVEL_RANGE
    seen = []
    for p in percents:
        p = float(p)
        if not lo < p < hi:  # nan fails too
            raise UsageError(f"{option} {p:g}: give a level between {lo:g} and {hi:g} (exclusive)")
        if any(abs(p - q) < 1e-9 for q in seen):
            raise UsageError(f"{option} {p:g} is given twice; give each level once")
        seen.append(p)
    return tuple(sorted(round(p / 100.0, 9) for p in seen))


def band_level(a: float) -> float:
    """The two-sided band level whose lower edge is the one-sided VaR_a: 2a − 1."""
    return round(2.0 * a - 1.0, 9)


@dataclass
class Predictive:
    """One origin's forecast; arrays (days,) unless said."""

    last: float  # p_o
    center: np.ndarray  # m_h
    spread: np.ndarray  # s_h
    sd: np.ndarray  # σ_h
    p_up: np.ndarray
    calibration: object  # conformal.Calibration: factor(level, h), at(level), horizon
    cum: np.ndarray | None = None  # (P, days) sampled cumulative log returns

    @property
    def days(self) -> int:
        return len(self.center)

    def half_widths(self, levels) -> dict[float, np.ndarray]:
        """{L: w_{L,h} (days,)}: nested across `levels` and non-decreasing in h (module doc).

        Beyond the calibrated horizons the last calibrated factor is reused."""
        cal = self.calibration
        hs = np.minimum(np.arange(1, self.days + 1), cal.horizon)
        c = np.zeros(self.days)
        out = {}
        for level in sorted(set(levels)):  # narrowest first
            c = np.maximum(c, [cal.factor(level, int(k)) for k in hs])
            out[level] = np.maximum.accumulate(c * self.spread)  # w_{L,h}
        return out

    def bands(self, levels, var_levels=()) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        """{L: (lower, upper)} prices p_o·exp(m ± w_L). var_levels join the nesting so that
        a VaR and a printed band of the same level share their edge."""
        w = self.half_widths([*levels, *(band_level(a) for a in var_levels)])
        return {
            L: (self.last * np.exp(self.center - w[L]), self.last * np.exp(self.center + w[L]))
            for L in levels
        }

    def coverage(self, level: float) -> np.ndarray:
        """Held-out coverage of the level's band per day (NaN beyond the calibrated horizons)."""
        cal = self.calibration
        h = np.arange(1, self.days + 1)
        measured = np.asarray(cal.at(level)[1])[np.minimum(h, cal.horizon) - 1]
        return np.where(h <= cal.horizon, measured, np.nan)

    def risk_sds(self, var_levels, levels=()) -> dict[float, np.ndarray]:
        """{a: σ_a} per day: σ_a = w_{2a−1}/z_a, the sd of the Gaussian whose a-quantile is the
        (2a − 1) band's edge; `levels`, the bands shown with them (nested: they set w too)."""
        w = self.half_widths([*levels, *(band_level(a) for a in var_levels)])
        return {a: w[band_level(a)] / z(a) for a in var_levels}

    def risk(self, var_levels, levels=(), short: bool = False) -> dict[float, tuple]:
        """{a: (VaR_a, ES_a)} loss fractions per day, long (or `short`) position: the Gaussian
        N(m, σ_a²) of risk_sds, whose a-quantile is the band's edge."""
        sds = self.risk_sds(var_levels, levels)
        return {a: var_es(self.center, sds[a], a, short) for a in var_levels}

    def sigmas(self, year: int = TRADING_DAYS) -> dict[str, np.ndarray]:
        """The day's sigma and the cumulative one, as log-return sds and annualised over
        `year` sessions (valueatrisk.sessions_per_year)."""
        h = np.arange(1, self.days + 1)
        day = day_sigma(self.sd)
        return {
            "sigma": day,
            "sigma_ann": day * np.sqrt(year),
            "sigma_cum": self.sd,
            "sigma_cum_ann": self.sd * np.sqrt(year / h),  # the horizon's average vol
        }


def day_sigma(sd: np.ndarray, axis: int = -1) -> np.ndarray:
    """The sd of each day's own log return, sqrt(sd_h² − sd_{h−1}²), from the h-day sds along
    `axis` (floored at 0 where the variance does not grow)."""
    return np.sqrt(np.maximum(np.diff(sd**2, axis=axis, prepend=0.0), 0.0))
