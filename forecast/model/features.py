"""From prices to model inputs: daily features, a scaler fitted on the training part, sliding windows.

Day k's inputs x_k are features known at its close; its target is the next day's log return
r_{k+1} = log(AdjClose_{k+1} / AdjClose_k), scaled like the "return" feature. A window i
reads days i .. i+T-1 and is trained on the targets r_{i+1} .. r_{i+T} (one per step).

Chronological split (N days):   [ train: 0 .. cut-1 | gap: T days | validation: cut+T .. N-1 ]
Training windows use no target on or after `cut`; the scaler sees only days before `cut`.
The gap keeps validation inputs clear of every day whose return was a training target.

The vol head (the default) reads its own inputs, all in units of sd, the std of the training
part's returns (VolScaler; kernel codes and formulas in forecast/model/kernels/rnn.py):

    return     r/sd clipped to +-8                  abs        min(|r|/sd, 8) - 0.8
    ewma       e = 0.5 log v, v = EWMA(0.94) of (r/sd)^2, v = 1 before the first day
    range      log((hl/m_hl + 0.1)/1.1), hl = log(High/Low), m_hl its training mean
    parkinson  0.5 log(vp + 1e-4), vp = EWMA(0.94) of hl^2/(4 ln 2)/sd^2, started at its
               training mean kp
    season     max over the sessions 13, 26, 39 and 52 weeks before the day forecast of
               max(a - 2, 0), a = min(|r|/sd / sqrt(v of the day before), 8) that day's move in
               EWMA sds: companies report every quarter, on about the same weekday, so a big move
               one to four quarters back flags a likely earnings day (README, "Round 10")

and is trained on windows with a burn-in (vol_dataset): each window's first steps only warm
up the state, its last T - burn steps are scored, and consecutive windows' scored steps tile
the days, so each target is scored once. Its split has no gap: validation windows may read
training-period inputs but score only targets on or after the cut.
"""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.config import DEFAULT_FEATURES, HEAD_FEATURES
from forecast.errors import ForecastError
from forecast.model.heads import HEADS
from forecast.model.kernels import rnn

VOL_FEATURES = HEAD_FEATURES["vol"]  # the vol head's inputs, each coded for the kernel:
VOL_CODES = {
    "return": rnn.RET,
    "abs": rnn.ABS,
    "ewma": rnn.EWMA,
    "range": rnn.RANGE,
    "parkinson": rnn.PARK,
    "season": rnn.SEASON,
}
RANGE_FEATURES = ("range", "parkinson")  # need daily High and Low
SEASON_LAGS = np.array([91, 182, 273, 364])  # calendar days: 13, 26, 39, 52 weeks, same weekday
SEASON_FLOOR = 2.0  # moves within 2 EWMA sds read 0: most days, and all days of a calm series
SEASON_GAP = 7  # calendar days: a lagged session further than this after its date is not it


def close_features(features: tuple[str, ...]) -> tuple[str, ...]:
    """features less the range inputs: what prices without High and Low can give."""
    return tuple(f for f in features if f not in RANGE_FEATURES)


def daily_features(prices: pd.DataFrame, features: tuple[str, ...]) -> pd.DataFrame:
    """Per-day features (N, D) indexed by date; the first price day is dropped (it has no return).

    return  log(AdjClose_t / AdjClose_{t-1})       the series being forecast
    range   log(High_t / Low_t)                    intraday range: a volatility proxy
    volume  log((V_t + 1) / (V_{t-1} + 1))         volume change (+1: zero-volume days)
    """
    check_features(prices, features)
    adj = prices["Adj Close"].to_numpy(np.float64)
    columns = {"return": np.diff(np.log(adj))}
    if "range" in features:
        columns["range"] = np.log(
            prices["High"].to_numpy(np.float64) / prices["Low"].to_numpy(np.float64)
        )[1:]
    if "volume" in features:
        columns["volume"] = np.diff(np.log(prices["Volume"].to_numpy(np.float64) + 1.0))
    return pd.DataFrame({f: columns[f] for f in features}, index=prices.index[1:])


def has_range(prices: pd.DataFrame) -> bool:
    """Whether prices carry daily High and Low (a Date,Close import fills High = Low = Close)."""
    return {"High", "Low"} <= set(prices.columns) and not bool(
        (prices["High"] == prices["Low"]).all()
    )


def usable_features(
    prices: pd.DataFrame, features: tuple[str, ...], loss: str
) -> tuple[tuple[str, ...], str | None]:
    """(features the vol head can read from these prices, a note or None).

    The vol head's default set drops its range inputs on close-only prices, with a note,
    instead of failing: close-only data is common. A set the user chose is kept (and
    check_features refuses range inputs the prices cannot give); other heads keep theirs.
    """
    vol = loss in HEADS and HEADS[loss].offset  # loss "": a check that names no head
    if not vol or has_range(prices) or features != DEFAULT_FEATURES["vol"]:
        return features, None
    dropped = [f for f in features if f in RANGE_FEATURES]
    if not dropped:
        return features, None
    kept = close_features(features)
    return kept, (
        f"these prices have no daily High and Low: the model reads {','.join(kept)} "
        f"without {','.join(dropped)}"
    )


def check_features(
    prices: pd.DataFrame, features: tuple[str, ...], loss: str = ""
) -> tuple[tuple[str, ...], str | None]:
    """Refuse features the data cannot give: "range" without High/Low, "volume" without Volume.
    Returns usable_features' (features, note): what the model will read, and why if it differs.

    A CSV import without those columns fills High = Low = Close and Volume = 0, which would
    feed the model a constant input while the user believes it reads the range or volume.
    The vol head instead drops its range inputs (usable_features).
    """
    features, note = usable_features(prices, features, loss)
    for name in RANGE_FEATURES:
        if name in features and not has_range(prices):
            raise ForecastError(
                f"--features {name} needs daily High and Low prices, and these prices have "
                f"none (High equals Low on every day); drop {name} from --features"
            )
    if "volume" in features and (
        "Volume" not in prices.columns or bool((prices["Volume"] == 0).all())
    ):
        raise ForecastError(
            "--features volume needs traded volumes, and these prices have none "
            "(Volume is 0 on every day); drop volume from --features"
        )
    return features, note


@dataclass(frozen=True)
class Scaler:
    """Per-feature standardisation x' = (x - mean) / std, fitted on training days only."""

    mean: np.ndarray  # (D,)
    std: np.ndarray  # (D,)

    @classmethod
    def fit(cls, F: np.ndarray) -> "Scaler":
        """F (N, D): training-part features only."""
        std = F.std(axis=0)
        return cls(F.mean(axis=0), np.where(std > 0, std, 1.0))  # a constant feature stays 0

    def transform(self, F: np.ndarray) -> np.ndarray:
        return (F - self.mean) / self.std

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Scaler":
        return cls(np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64))


def targets(returns: np.ndarray, scaler: Scaler, loss: str) -> np.ndarray:
    """z (N,) with z_k the target for day k: r_{k+1} in the head's units (forecast/model/heads.py).

    The last day has no next day yet: its target is NaN and no training window may use it.
    """
    nxt = np.append(returns[1:], np.nan)
    return HEADS[loss].target(nxt, float(scaler.mean[0]), float(scaler.std[0]))


def windows(
    X: np.ndarray, z: np.ndarray, T: int, first: int, last: int
) -> tuple[np.ndarray, np.ndarray]:
    """All windows whose days lie in [first, last] and whose targets are known.

    X (N, D) scaled features, z (N,) targets -> xs (B, T, D), zs (B, T), C-contiguous.
    Window i covers days i .. i+T-1; it is kept when first <= i and i+T-1 <= last.
    """
    starts = np.arange(first, last - T + 2)
    idx = starts[:, None] + np.arange(T)[None, :]  # (B, T) day index of each step
    xs = np.ascontiguousarray(X[idx])
    zs = np.ascontiguousarray(z[idx])
    return xs, zs


@dataclass(frozen=True)
class Split:
    """Day indices of the chronological split (into the daily feature rows)."""

    cut: int  # first day NOT in the training part
    val_first: int  # first validation day (cut + T)
    n_days: int  # N


def n_validation(n: int, val_fraction: float, least: int) -> int:
    """Days held out for validation of n: the last val_fraction of them, at least `least`.

    The one split rule: a ticker's fit (least T + 1: one validation window), the vol head's
    (T - burn + 1) and a panel's calendar cut (panel.default_cut) all hold out this many."""
    return max(int(round(val_fraction * n)), least)


def _cut(n_days: int, T: int, val_fraction: float) -> int:
    """First day not in the training part: n_days minus validation and the gap."""
    return n_days - n_validation(n_days, val_fraction, T + 1) - T


def min_prices(T: int, val_fraction: float) -> int:
    """The fewest price rows split_days accepts for window T: its training part must hold 2T days.

    cut(N) = N - max(round(vf N), T + 1) - T never decreases as N grows, so the answer is the
    first N from a lower bound where cut(N) >= 2T. Since |round(vf N) - vf N| <= 1/2 the bound
    N >= (3T - 1/2) / (1 - vf) is at most a few days short: the loop runs at most a few times.
    """
    n = max(4 * T + 1, math.ceil((3 * T - 0.5) / (1 - val_fraction)))
    while _cut(n, T, val_fraction) < 2 * T:
        n += 1
    return n + 1  # N feature days come from N + 1 prices


def split_days(n_days: int, T: int, val_fraction: float) -> Split:
    """Train, then a gap of T days, then validation: the last val_fraction of the days."""
    cut = _cut(n_days, T, val_fraction)
    if cut < 2 * T:  # a handful of training windows at the very least
        raise ForecastError(
            f"--window {T} needs at least {min_prices(T, val_fraction)} days of prices "
            f"but only {n_days + 1} are cached; use a shorter --window or fetch more history"
        )
    return Split(cut=cut, val_first=cut + T, n_days=n_days)


@dataclass(frozen=True)
class Dataset:
    """Everything training needs, built so nothing after the cut shapes the training part."""

    dates: pd.DatetimeIndex  # (N,) dates of the feature rows
    returns: np.ndarray  # (N,) raw log returns r_k
    X: np.ndarray  # (N, D) scaled features
    z: np.ndarray  # (N,) targets (scaled next return, or 0/1 for direction)
    scaler: Scaler
    split: Split
    train: tuple[np.ndarray, np.ndarray]  # xs (B, T, D), zs (B, T)
    val: tuple[np.ndarray, np.ndarray]


def build_dataset(
    prices: pd.DataFrame, features: tuple[str, ...], T: int, loss: str, val_fraction: float
) -> Dataset:
    F = daily_features(prices, features)
    if not np.all(np.isfinite(F.to_numpy())):
        raise ForecastError(
            "prices give non-finite returns (zero or missing prices?); re-fetch the data"
        )
    split = split_days(len(F), T, val_fraction)
    Fv = F.to_numpy(np.float64)
    r = Fv[:, 0]
    scaler = Scaler.fit(Fv[: split.cut])  # training days only
    X = scaler.transform(Fv)
    z = targets(r, scaler, loss)
    # a training window's last target is day i+T, which must be < cut
    train = windows(X, z, T, 0, split.cut - 2)
    val = windows(X, z, T, split.val_first, len(F) - 2)
    return Dataset(F.index, r, X, z, scaler, split, train, val)


# --- the vol head's inputs and windows -----------------------------------------------------------


@dataclass(frozen=True)
class VolScaler:
    """The vol head's training statistics (days before the cut only)."""

    sd: float  # std of the training returns: the unit of every input
    m_hl: float  # mean log(High/Low); 1.0 without High/Low (then unused)
    kp: float  # mean Parkinson variance hl^2/(4 ln 2)/sd^2; 1.0 without High/Low

    @classmethod
    def fit(cls, r: np.ndarray, hl: np.ndarray | None) -> "VolScaler":
        """r (n,) and hl (n,) or None: the training part's returns and log ranges."""
        sd = float(r.std())
        sd = sd if sd > 0 else 1.0  # flat prices: returns stay 0 in any unit
        if hl is None:
            return cls(sd, 1.0, 1.0)
        m_hl = max(float(hl.mean()), 1e-8)
        kp = float(np.mean(hl**2 / (4 * math.log(2)) / sd**2))
        return cls(sd, m_hl, kp if kp > 0 else 1.0)

    def to_dict(self) -> dict:
        return {"sd": self.sd, "m_hl": self.m_hl, "kp": self.kp}

    @classmethod
    def from_dict(cls, d: dict) -> "VolScaler":
        return cls(float(d["sd"]), float(d["m_hl"]), float(d["kp"]))


def ewma(x2: np.ndarray, v0: float) -> np.ndarray:
    """v (N,): v_k = LAM v_{k-1} + (1 - LAM) x2_k with v_{-1} = v0: the forecast for day k+1."""
    v = np.empty(len(x2))
    prev = v0
    for k in range(len(x2)):
        prev = rnn.LAM * prev + (1.0 - rnn.LAM) * x2[k]
        v[k] = prev
    return v


def log_range(prices: pd.DataFrame) -> np.ndarray | None:
    """log(High/Low) (N,) per feature day (the first price day dropped), or None without them."""
    if not has_range(prices):
        return None
    return np.log(prices["High"].to_numpy(np.float64) / prices["Low"].to_numpy(np.float64))[1:]


def surprises(z: np.ndarray, v: np.ndarray) -> np.ndarray:
    """a (N,): each day's move in units of the EWMA sd forecast for it, min(|z_k| /
    sqrt(v_{k-1}), CLIP) with v_{-1} = 1; z = r/sd (N,), v (N,) the EWMA after each day."""
    return np.minimum(np.abs(z) / np.sqrt(np.append(1.0, v[:-1])), rnn.CLIP)


def season_rows(dates: pd.DatetimeIndex) -> np.ndarray:
    """rows (N, 4): for day k and each of SEASON_LAGS, the first day after date_k - lag, which
    is the session that lag before day k + 1 (the day forecast at k's close; after a holiday,
    one session off); -1 where the history starts later or skips more than SEASON_GAP days.
    Weekdays or every day alike: a crypto series' Saturday follows its Friday."""
    day = dates.values.astype("datetime64[D]").astype(np.int64)  # (N,) days since 1970
    want = day[:, None] - SEASON_LAGS[None, :]  # (N, 4)
    rows = np.searchsorted(day, want, side="right")  # first day after each lagged date
    found = rows < len(day)
    ok = found & (day[np.where(found, rows, 0)] <= want + SEASON_GAP) & (rows > 0)
    return np.where(ok, rows, -1)


def season_values(a: np.ndarray, rows: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The season input (...): max over the lags of max(a - SEASON_FLOOR, 0) at rows (..., 4),
    0 where a row is -1 or after `known` (...), the last day a forecast may read."""
    hit = (rows >= 0) & (rows <= known[..., None])
    excess = np.maximum(a[np.where(hit, rows, 0)] - SEASON_FLOOR, 0.0)
    return np.where(hit, excess, 0.0).max(axis=-1)


@dataclass(frozen=True)
class VolInputs:
    """The vol head's inputs over a run of days, and the recursions' states sampling continues."""

    X: np.ndarray  # (N, D) inputs, in the order of the features
    e: np.ndarray  # (N,) EWMA log-sd offset: 0.5 log v
    v: np.ndarray  # (N,) EWMA variance (units of sd^2) after each day
    vp: np.ndarray  # (N,) Parkinson EWMA variance after each day (kp where there is no range)
    a: np.ndarray  # (N,) each day's move in EWMA sds (surprises): what `season` reads
    rows: np.ndarray  # (N, 4) the days `season` reads for each day (season_rows)

    def season_ahead(self, origins: np.ndarray, days: int) -> np.ndarray:
        """(n, days): the season input after future day j + 1 of each origin (j = 0..days-1),
        which forecasts day j + 2. Its lagged sessions are origin's, j + 1 sessions on; a
        session after the origin (a horizon of more than ~13 weeks) reads 0."""
        step = np.arange(1, days + 1)[None, :, None]  # (1, days, 1)
        rows = self.rows[origins][:, None, :]  # (n, 1, 4)
        rows = np.where(rows >= 0, rows + step, -1)  # (n, days, 4)
        known = np.broadcast_to(origins[:, None], rows.shape[:2])
        return season_values(self.a, rows, known)


def vol_inputs(
    dates: pd.DatetimeIndex,
    r: np.ndarray,
    hl: np.ndarray | None,
    sc: VolScaler,
    features: tuple[str, ...],
) -> VolInputs:
    """Inputs for days `dates` (N,) of returns r (N,) and log ranges hl (N,), or None when the
    prices have no High/Low: then `range` and `parkinson`, if asked for, use the EWMA sigma
    instead."""
    z = r / sc.sd
    v = ewma(z * z, 1.0)
    e = 0.5 * np.log(v)
    a = surprises(z, v)
    rows = season_rows(dates)
    if hl is not None:
        vp = ewma(hl**2 / (4 * math.log(2)) / sc.sd**2, sc.kp)
        rel_range = hl / sc.m_hl
    else:  # no High/Low (prices replaced by a close-only import): the range inputs enter at
        # their expected value given the EWMA sigma of the day before, as future days do
        sig = np.exp(np.append(0.0, e[:-1]))  # units of sd
        vp = ewma(sc.kp * sig * sig, sc.kp) if len(r) else np.zeros(0)
        rel_range = sig
    cols = {
        "return": lambda: np.clip(z, -rnn.CLIP, rnn.CLIP),
        "abs": lambda: np.minimum(np.abs(z), rnn.CLIP) - rnn.ABS_CENTER,
        "ewma": lambda: e,
        "range": lambda: np.log((rel_range + rnn.RANGE_FLOOR) / (1.0 + rnn.RANGE_FLOOR)),
        "parkinson": lambda: 0.5 * np.log(vp + rnn.PARK_FLOOR),
        "season": lambda: season_values(a, rows, np.arange(len(r))),
    }
    X = np.stack([cols[f]() for f in features], axis=1) if features else np.zeros((len(r), 0))
    return VolInputs(np.ascontiguousarray(X), e, v, vp, a, rows)


def burn_windows(
    X: np.ndarray, z: np.ndarray, T: int, burn: int, first: int, last: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows whose scored steps (the last T - burn) tile days first..last, newest kept whole.

    X (N, D), z (N,) -> xs (B, T, D), zs (B, T) with zs NaN on each window's first `burn`
    steps (no loss there). A window may start before `first` (it reads earlier inputs) but
    not before day 0; the stride between windows is T - burn.
    """
    stride = T - burn
    ends = np.arange(last, first + stride - 2, -stride)[::-1]  # last day of each window
    ends = ends[ends - T + 1 >= 0]
    idx = ends[:, None] - T + 1 + np.arange(T)[None, :]  # (B, T)
    zs = np.array(z[idx])
    zs[:, :burn] = np.nan
    return np.ascontiguousarray(X[idx]), np.ascontiguousarray(zs)


@dataclass(frozen=True)
class VolDataset:
    """Everything the vol head's training and calibration need, nothing after the cut in the
    statistics: day k's target is z'_k = (r_{k+1}/sd) e^(-e_k), NaN for the last day."""

    dates: pd.DatetimeIndex  # (N,)
    returns: np.ndarray  # (N,) raw log returns
    hl: np.ndarray | None  # (N,) log(High/Low) or None
    scaler: VolScaler
    inputs: VolInputs
    z: np.ndarray  # (N,) targets z'
    split: Split  # cut: first day whose return is not a training target; val_first = cut - 1
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]


def vol_series(prices: pd.DataFrame, features: tuple[str, ...]):
    """(dates (N,), returns r (N,), log ranges hl (N,) or None) that the vol head reads from
    prices: hl only when `features` has range inputs and the prices have High and Low."""
    F = daily_features(prices, ("return",))
    r = F["return"].to_numpy(np.float64)
    hl = log_range(prices) if any(f in RANGE_FEATURES for f in features) else None
    if not np.all(np.isfinite(r)) or (hl is not None and not np.all(np.isfinite(hl))):
        raise ForecastError(
            "prices give non-finite returns (zero or missing prices?); re-fetch the data"
        )
    return F.index, r, hl


def vol_dataset(
    prices: pd.DataFrame, features: tuple[str, ...], T: int, burn: int, val_fraction: float
) -> VolDataset:
    dates, r, hl = vol_series(prices, features)
    N = len(r)
    split_days(N, T, val_fraction)  # the same "enough days" rule (and message) as every head
    cut = N - n_validation(N, val_fraction, T - burn + 1)  # returns r_cut.. are validation
    return vol_dataset_at(dates, r, hl, features, T, burn, cut)


def vol_dataset_at(
    dates: pd.DatetimeIndex,
    r: np.ndarray,
    hl: np.ndarray | None,
    features: tuple[str, ...],
    T: int,
    burn: int,
    cut: int,
) -> VolDataset:
    """The VolDataset of returns r (N,) and log ranges hl (N,) or None, split at day `cut`
    (the first return that is not a training target): vol_dataset's split by val_fraction,
    forecast/model/panel.py's at a calendar date shared by many series."""
    N = len(r)
    sc = VolScaler.fit(r[:cut], None if hl is None else hl[:cut])
    inputs = vol_inputs(dates, r, hl, sc, features)
    z = HEADS["vol"].target(np.append(r[1:], np.nan), 0.0, sc.sd, inputs.e)  # z'_k for r_{k+1}
    train = burn_windows(inputs.X, z, T, burn, burn, cut - 2)  # targets r_{k+1}, k + 1 < cut
    val = burn_windows(inputs.X, z, T, burn, cut - 1, N - 2)
    return VolDataset(dates, r, hl, sc, inputs, z, Split(cut, cut - 1, N), train, val)


def vol_baseline_terms(ds: VolDataset, T: int, burn: int) -> tuple[float, int]:
    """(sum, count) over the scored validation steps of the random walk N(0, sd^2)'s loss in
    the vol head's units: NLL(z' | sigma = 1) - e per step (every vol model's random walk)."""
    cut = ds.split.cut
    ew, zv = burn_windows(ds.inputs.e[:, None], ds.z, T, burn, cut - 1, len(ds.z) - 2)
    terms = HEADS["vol"].baseline_terms(zv, ew[:, :, 0])  # NaN: burn-in
    return float(np.nansum(terms)), int(np.count_nonzero(~np.isnan(terms)))


def random_walk_terms(ds, loss: str, T: int, burn: int) -> tuple[float, int]:
    """(sum, count) of the random walk's loss over a dataset's scored validation steps, in the
    head's units (heads.py says which random walk); (0, 0) without validation windows. What a
    model's and a panel's "vs random walk" compare with."""
    if HEADS[loss].offset:
        return vol_baseline_terms(ds, T, burn)
    zv = ds.val[1]
    if not len(zv):
        return 0.0, 0
    mean, std = float(ds.scaler.mean[0]), float(ds.scaler.std[0])
    rw = HEADS[loss].baseline_loss(zv, ds.returns[: ds.split.cut], mean, std)
    return rw * zv.size, zv.size
