"""Split-conformal calibration of prediction bands from the model's own out-of-sample errors.

For each past out-of-sample case (origin, horizon h) we know the realised log return r, the
model's predictive median m and predictive scale s (both in log space). The normalised
score says how many scales the truth landed from the median:

    score  e = |r − m| / s
    factor c_{L,h} = the k-th smallest of the n scores at horizon h, k = ⌈(n + 1)L⌉
    band   m ± c_{L,h} · s

With exchangeable cases, a new case falls inside its band with probability ≥ L (the
+1 is the finite-sample correction of split conformal prediction). Dividing by s lets the
band keep the model's own sense of which days are calm and which are wild, while c fixes its
overall width. When n < MIN_CASES, or k > n (too few cases for level L), the factor falls
back to the Gaussian z_{(1+L)/2} and is flagged.

Shrinkage (the vol head): only about n(1 − L) of the n scores lie beyond c_{L,h}, 27 of the
~540 validation days at 95%, so that quantile is noisy (its standard error is ~4% of c; a
band that far off costs ~0.4% of Winkler score, half of what the ~13 cases of every second
day cost, measured at ~0.8%). A Prior shrinks each factor toward p_L, the factor of
Student-t(ν) errors of unit variance at the scale the model itself fitted by likelihood on
many more days, as much as the tail's cases allow:

    c'_{L,h} = (k c_{L,h} + n0 p_L) / (k + n0),   k = n (1 − L)

At 80% (k = 108 against n0 = 40) the data lead; at 95% (k = 27) the two weigh about alike;
beyond (98%, the 99% VaR: k = 11) the prior leads. The coverage
guarantee then holds only approximately; the held-out coverage stored with the factors
(cross_coverage, with the same prior) says how well. Measured in README, "Issue 15".

The scale (the vol head): f, the variance scale with the least mean CRPS of the validation
errors (min_crps_scale), weighs the cases by recency: volatility's regimes drift, so a case
from two years ago says less about tomorrow's scale than one from last month. With a
half-life of h cases, case i of n (time order) weighs w_i = 2^(−(n − i)/h).

Any level: a Calibration keeps its (N, H) scores, so a level chosen at forecast time (say
`--level 90`) gets its own conformal factor and held-out coverage, measured exactly as the
stored levels' were. Model files saved before the scores were kept give such a level the
Gaussian factor, flagged as a fallback.
"""

import math
from dataclasses import dataclass, field, replace
from statistics import NormalDist  # not scipy.stats: a second of import time for one quantile

import numpy as np

MIN_CASES = 20  # below this an empirical quantile is too noisy to trust over the Gaussian z
MIN_FACTOR = 1e-6  # the smallest factor: a band has a width


def normalised_scores(r, median, scale) -> np.ndarray:
    """Nonconformity scores e = |r − m| / s, same shape as the inputs (e.g. (N, H))."""
    r, median, scale = (np.asarray(a, float) for a in (r, median, scale))
    return np.abs(r - median) / scale  # e


def gaussian_factor(level: float) -> float:
    """z_{(1+L)/2}: the factor that is right when scores are |N(0, 1)|."""
    return NormalDist().inv_cdf((1.0 + level) / 2.0)


@dataclass(frozen=True)
class Prior:
    """What a factor is shrunk toward (module docstring): p_L, the L-band factor of
    Student-t(nu) errors of unit variance at the model's own scale, worth `cases` cases
    beyond the quantile; nu = inf: Gaussian errors.

    scale: the model's own sd in units of the scores (1/sqrt(f) when the scores are
    |r| / (sqrt(f) sd), sd the model's and f a scale set afterwards)
    """

    scale: float
    cases: float
    nu: float = math.inf

    def factor(self, level: float) -> float:
        """scale * t_nu quantile((1 + L)/2) * sqrt((nu - 2)/nu)."""
        if math.isinf(self.nu):
            return self.scale * gaussian_factor(level)
        # scipy.special, not scipy.stats (0.2 s of import against 0.5 s): predict stays light
        from scipy.special import stdtrit  # the t quantile

        unit = math.sqrt((self.nu - 2.0) / self.nu)
        return self.scale * float(stdtrit(self.nu, (1.0 + level) / 2.0)) * unit

    def shrink(self, factor: float, n: int, level: float) -> float:
        """(k c + cases p) / (k + cases), k = n (1 - L) the cases beyond the conformal c."""
        k = n * (1.0 - level)
        return (k * factor + self.cases * self.factor(level)) / (k + self.cases)

    def to_dict(self) -> dict:
        nu = None if math.isinf(self.nu) else self.nu  # JSON has no inf
        return {"scale": self.scale, "cases": self.cases, "nu": nu}

    @classmethod
    def from_dict(cls, d: dict) -> "Prior":
        nu = d.get("nu")
        prior = cls(float(d["scale"]), float(d["cases"]), math.inf if nu is None else float(nu))
        if not (0 < prior.scale < math.inf and 0 <= prior.cases < math.inf and prior.nu > 2):
            raise ValueError(f"calibration prior {d} is not a scale > 0, cases >= 0, nu > 2")
        return prior


def _conformal_factor(
    scores: np.ndarray, level: float, prior: Prior | None = None
) -> tuple[float, bool]:
    """(factor, fell_back) for finite 1-D scores; with a Prior, the conformal factor shrunk
    toward it (and the prior's own factor when the cases are too few)."""
    n = scores.size
    # − 1e-9: (n + 1)·L can land a hair above an integer in floating point
    # (100·0.55 = 55.00000000000001), which would skip to the next order statistic.
    k = math.ceil((n + 1) * level - 1e-9)  # k = ⌈(n + 1)L⌉
    if n < MIN_CASES or k > n:
        return (gaussian_factor(level) if prior is None else prior.factor(level)), True
    # k-th smallest score; floored so that cases all exactly at the centre (a periodic toy
    # series) give a thin band instead of a factor 0 the model file would refuse
    c = float(np.sort(scores)[k - 1])
    return max(c if prior is None else prior.shrink(c, n, level), MIN_FACTOR), False


def conformal_factors(scores, levels=(0.8, 0.95)) -> dict[float, float]:
    """Calibration factor c_L for each level from (N,) scores; NaN scores are ignored.

    Falls back to z_{(1+L)/2} when fewer than MIN_CASES scores (or too few for level L);
    `calibrate` records which factors fell back.
    """
    e = np.asarray(scores, float).ravel()
    e = e[np.isfinite(e)]
    return {level: _conformal_factor(e, level)[0] for level in levels}


def coverage_of(scores, factor: float) -> float:
    """Fraction of (finite) scores ≤ factor: the coverage the band m ± c·s achieved on them."""
    e = np.asarray(scores, float).ravel()
    e = e[np.isfinite(e)]
    if e.size == 0:
        return math.nan
    return float(np.mean(e <= factor))


@dataclass(frozen=True)
class Calibration:
    """Per-level, per-horizon conformal factors and the coverage they achieved in calibration.

    levels   (L,)    nominal coverages, e.g. (0.8, 0.95)
    factors  (L, H)  c_{L,h}; band at horizon h (1-based) is m ± factors[l, h − 1] · s
    coverage (L, H)  fraction of calibration scores ≤ c_{L,h} (nan where n = 0)
    n        (H,)    calibration cases per horizon
    fallback (L, H)  True where c is the Gaussian z because cases were too few
    scores   (N, H)  the normalised scores behind them, origins in time order, NaN where a case
                     is missing; None in model files saved before they were kept
    held_out         how `coverage` was measured, and so how any other level's is:
                     "cross"  factors from all N scores, coverage two-fold cross-conformal
                     "half"   factors from the first N // 2, coverage on the later half
    """

    levels: tuple[float, ...]
    factors: np.ndarray
    coverage: np.ndarray
    n: np.ndarray
    fallback: np.ndarray
    scores: np.ndarray | None = None
    held_out: str = "cross"
    prior: Prior | None = None  # factors shrunk toward it (Prior); None: plain split conformal
    _other: dict = field(
        default_factory=dict, init=False, compare=False, repr=False
    )  # level -> at(level)

    @property
    def horizon(self) -> int:
        return self.factors.shape[1]

    def _level_index(self, level: float) -> int | None:
        for i, L in enumerate(self.levels):
            if math.isclose(L, level, abs_tol=1e-9):
                return i
        return None

    def at(self, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(factors, coverage, fallback), each (H,), for any level L in (0, 1): stored for a
        calibrated level, else computed from the scores the way the stored ones were, else
        (no scores) the Gaussian z_{(1+L)/2} with NaN coverage, flagged."""
        i = self._level_index(level)
        if i is not None:
            return self.factors[i], self.coverage[i], self.fallback[i]
        key = round(float(level), 9)
        if key not in self._other:
            self._other[key] = self._compute(float(level))
        return self._other[key]

    def _compute(self, level: float):
        H = self.horizon
        if self.scores is None:
            return np.full(H, gaussian_factor(level)), np.full(H, math.nan), np.ones(H, bool)
        cal = held_out_calibration(self.scores, (level,), self.held_out, self.prior)
        return cal.factors[0], cal.coverage[0], cal.fallback[0]

    def factor(self, level: float, h: int) -> float:
        """c_{L,h} for horizon h = 1..H, any level (see `at`)."""
        if not 1 <= h <= self.horizon:
            raise IndexError(f"horizon {h} outside 1..{self.horizon}")
        return float(self.at(level)[0][h - 1])

    def to_dict(self) -> dict:
        """JSON-safe plain lists (NaN → None) for the model file; scores to 6 decimals (a
        factor moves by < 1e-6 of a scale: nothing a printed price shows)."""

        def clean(a, digits=None):
            return [
                [
                    None if not np.isfinite(v) else float(v if digits is None else round(v, digits))
                    for v in row
                ]
                for row in a
            ]

        out = {
            "levels": [float(L) for L in self.levels],
            "factors": clean(self.factors),
            "coverage": clean(self.coverage),
            "n": [int(v) for v in self.n],
            "fallback": [[bool(v) for v in row] for row in self.fallback],
            "held_out": self.held_out,
        }
        if self.scores is not None:
            out["scores"] = clean(self.scores, 6)
        if self.prior is not None:
            out["prior"] = self.prior.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        def array(rows):
            return np.array([[math.nan if v is None else v for v in row] for row in rows], float)

        factors = array(d["factors"])
        scores = array(d["scores"]) if d.get("scores") else None
        return cls(
            levels=tuple(float(L) for L in d["levels"]),
            factors=factors,
            coverage=array(d["coverage"]),
            n=np.asarray(d["n"], dtype=int),
            fallback=np.asarray(d.get("fallback", np.zeros(factors.shape, bool)), dtype=bool),
            scores=scores if scores is not None and scores.ndim == 2 else None,
            held_out=str(d.get("held_out", "cross")),
            prior=Prior.from_dict(d["prior"]) if d.get("prior") else None,
        )


def calibrate(scores, levels=(0.8, 0.95), prior: Prior | None = None) -> Calibration:
    """Conformal factors per horizon from a (N, H) score matrix, NaN where a case is missing.

    Each horizon is calibrated on its own column: errors grow and change shape with h.
    """
    e = np.asarray(scores, float)
    if e.ndim == 1:
        e = e[:, None]  # (N,) → (N, 1): a single horizon
    N, H = e.shape
    factors = np.empty((len(levels), H))
    coverage = np.empty((len(levels), H))
    fallback = np.zeros((len(levels), H), dtype=bool)
    n = np.zeros(H, dtype=int)
    for j in range(H):
        col = e[:, j]
        col = col[np.isfinite(col)]
        n[j] = col.size
        for i, level in enumerate(levels):
            factors[i, j], fallback[i, j] = _conformal_factor(col, level, prior)
            coverage[i, j] = coverage_of(col, factors[i, j])
    return Calibration(tuple(float(L) for L in levels), factors, coverage, n, fallback, prior=prior)


def held_out_calibration(
    scores: np.ndarray, levels, held_out: str, prior: Prior | None = None
) -> Calibration:
    """A model's Calibration from its (N, H) scores, origins in time order: "cross", factors
    from all N and two-fold cross-conformal coverage; "half", factors from the first N // 2
    and coverage on the later half. Every level, stored or asked for later, is measured so."""
    if held_out == "half":
        half = scores.shape[0] // 2
        fitted = calibrate(scores[:half], levels, prior)
        coverage = np.array(
            [
                [
                    coverage_of(scores[half:, j], fitted.factors[i, j])
                    for j in range(scores.shape[1])
                ]
                for i in range(len(levels))
            ]
        )
    else:
        fitted = calibrate(scores, levels, prior)
        coverage = cross_coverage(scores, levels, prior)
    return replace(fitted, coverage=coverage, scores=scores, held_out=held_out)


def crps_gaussian0(y: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """CRPS of N(0, sd^2) forecasts at outcomes y (Gneiting & Raftery 2007), elementwise."""
    from scipy.special import ndtr  # here, not at import: `forecast --help` stays light

    z = y / sd
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return sd * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * pdf - 1.0 / math.sqrt(math.pi))


SCALE_GRID = np.exp(np.linspace(math.log(0.4), math.log(2.0), 81))  # variance scales f tried


def mean_crps_by_scale(y: np.ndarray, sd: np.ndarray, grid, weights=None) -> list[float]:
    """Mean CRPS of N(0, f sd^2) at outcomes y, one per scale f in grid; y, sd (n,) finite;
    weights (n,) or None: a weighted mean."""
    return [float(np.average(crps_gaussian0(y, math.sqrt(f) * sd), weights=weights)) for f in grid]


def recency_weights(n: int, half_life: float) -> np.ndarray:
    """(n,) w_i = 2^(-(n - i) / half_life) for cases i = 0..n-1 in time order: the newest
    weighs 2^(-1/half_life), one half-life older half that."""
    return 0.5 ** ((n - np.arange(n)) / half_life)


def min_crps_scale(y, sd, grid=SCALE_GRID, half_life: float | None = None) -> float:
    """The variance scale f in grid (default SCALE_GRID, e^linspace(log 0.4, log 2, 81)) whose
    forecasts N(0, f sd^2) have the least mean CRPS at outcomes y (n,), cases in time order,
    NaN cases ignored; with a half_life (in cases), the mean under recency_weights, a missing
    case's row counting in the others' ages. The first on ties."""
    y, sd = np.asarray(y, float), np.asarray(sd, float)
    ok = np.isfinite(y) & np.isfinite(sd) & (sd > 0)
    if not ok.any():
        return 1.0
    w = None if half_life is None else recency_weights(y.size, half_life)[ok]
    crps = mean_crps_by_scale(y[ok], sd[ok], grid, w)
    return float(grid[int(np.argmin(crps))])


def cross_coverage(scores, levels=(0.8, 0.95), prior: Prior | None = None) -> np.ndarray:
    """(L, H) held-out coverage of split-conformal factors, two-fold: the factors of the first
    half of the cases (rows, in time order) scored on the second half and vice versa, averaged.
    No coverage is measured on the cases that set its factor; NaN where a half has no case."""
    e = np.asarray(scores, float)
    if e.ndim == 1:
        e = e[:, None]
    half = e.shape[0] // 2
    a, b = e[:half], e[half:]
    fa, fb = calibrate(a, levels, prior).factors, calibrate(b, levels, prior).factors
    out = np.empty((len(levels), e.shape[1]))
    for i in range(len(levels)):
        for j in range(e.shape[1]):
            cb, ca = coverage_of(b[:, j], fa[i, j]), coverage_of(a[:, j], fb[i, j])
            out[i, j] = np.nanmean([cb, ca]) if np.isfinite([ca, cb]).any() else math.nan
    return out
