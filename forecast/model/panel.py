"""The data of one global model over many series: one calendar cut, per-series scalers, pooled windows.

Series share calendar time, not row numbers: a stock listed in 2012 and an index from 1990
have different row k. So every series is cut at the same calendar DATE c, never at a row
index; otherwise a model could train on one series' days after c while validating on
another's (an index and its member, a stock and its twin listing) and look better than it is.

Per series s with feature days d_0 < d_1 < ... (forecast.model.features: day k's target is r_{k+1}):

    cut_s      = #{k : d_k < c}                          first day on or after the cut date
    scaler_s   fitted on days 0 .. cut_s - 1             (only days before c)
    training   windows i with i + T <= cut_s - 1         (every target strictly before c)
    validation windows from day cut_s + T on             (a gap of T days, as for one series)

The training windows of all series are pooled (B = sum of B_s), and so are the validation
windows. Training windows are gathered on demand from the series' scaled days (`Windows`), so
a panel of hundreds of series holds its days once, not T times over.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast.errors import ForecastError
from forecast.model.features import (
    RANGE_FEATURES,
    Dataset,
    Scaler,
    Split,
    VolDataset,
    VolScaler,
    daily_features,
    n_validation,
    random_walk_terms,
    targets,
    vol_dataset_at,
    vol_series,
    windows,
)
from forecast.model.heads import HEADS


def default_cut(dates: list[pd.DatetimeIndex], T: int, val_fraction: float) -> pd.Timestamp:
    """The calendar date that leaves the last val_fraction of the panel's observations (every
    series' days together) after it, less a gap of T trading days: the one-series split, on
    the calendar. Counting observations, not distinct dates, keeps a series that ended years
    ago (a delisted stock, an old index file) from pulling the cut back to its own time,
    which would leave the newest series too few days before the cut."""
    every = np.sort(np.concatenate([d.values for d in dates]))  # (sum of N_s,) with repeats
    union = np.unique(every)
    n_val = n_validation(len(every), val_fraction, T + 1)
    first_val = every[len(every) - n_val]  # the n_val-th newest observation's date
    k = int(np.searchsorted(union, first_val)) - T
    if k < 2 * T:
        raise ForecastError(
            f"the series span only {len(union)} days together; --window {T} needs more history"
        )
    return pd.Timestamp(union[k])


def series_dataset(
    prices: pd.DataFrame, features: tuple[str, ...], T: int, loss: str, cut: pd.Timestamp
) -> Dataset:
    """One series' Dataset (forecast.model.features) split at the calendar date `cut`.

    Raises ForecastError when the series has fewer than 2T days before `cut` (too few to fit
    its scaler and give training windows); it may have no validation windows.
    """
    F = daily_features(prices, features)
    Fv = F.to_numpy(np.float64)
    if not np.all(np.isfinite(Fv)):
        raise ForecastError("prices give non-finite returns (zero or missing prices?)")
    cut_k = int(F.index.searchsorted(pd.Timestamp(cut), side="left"))  # days strictly before cut
    if cut_k < 2 * T:
        raise ForecastError(
            f"only {cut_k} days before the cut date {pd.Timestamp(cut):%Y-%m-%d}; "
            f"--window {T} needs at least {2 * T}"
        )
    split = Split(cut=cut_k, val_first=cut_k + T, n_days=len(F))
    r = Fv[:, 0]
    scaler = Scaler.fit(Fv[:cut_k])  # days before the cut date only
    X = scaler.transform(Fv)
    z = targets(r, scaler, loss)
    train = windows(X, z, T, 0, cut_k - 2)  # the last target of window i is day i + T < cut_k
    val = windows(X, z, T, split.val_first, len(F) - 2)
    return Dataset(F.index, r, X, z, scaler, split, train, val)


def series_vol_dataset(
    prices: pd.DataFrame, features: tuple[str, ...], T: int, burn: int, cut: pd.Timestamp
) -> VolDataset:
    """One series' VolDataset (the vol head's, forecast.model.features) split at the calendar date
    `cut`: its scaler and training targets are the returns dated before `cut`.

    Prices without daily High and Low feed the range inputs their proxies (vol_inputs), so
    every series reads the same features. Raises ForecastError when the series has fewer
    than 2T returns before `cut`; it may have no validation windows.
    """
    dates, r, hl = vol_series(prices, features)
    cut_k = int(dates.searchsorted(pd.Timestamp(cut), side="left"))  # returns before cut
    if cut_k < 2 * T:
        raise ForecastError(
            f"only {cut_k} days before the cut date {pd.Timestamp(cut):%Y-%m-%d}; "
            f"--window {T} needs at least {2 * T}"
        )
    return vol_dataset_at(dates, r, hl, features, T, burn, cut_k)


class Windows:
    """Windows gathered on demand from stacked days: behaves like xs (B, T, D) or zs (B, T) for
    indexing with an array of window numbers, which is all the training loop does with it."""

    def __init__(self, days: np.ndarray, starts: np.ndarray, T: int):
        self.days = days  # (N_all, D) or (N_all,): every series' days, one after another
        self.starts = starts  # (B,) row in `days` of each window's first day
        self.T = T
        self.shape = (len(starts), T, *days.shape[1:])

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, idx) -> np.ndarray:
        rows = self.starts[idx][:, None] + np.arange(self.T)[None, :]  # (b, T)
        return np.ascontiguousarray(self.days[rows])

    def __array__(self, dtype=None, copy=None):
        a = self[np.arange(len(self.starts))]
        return a if dtype is None else a.astype(dtype)


@dataclass
class Panel:
    """Pooled windows of many series cut at one calendar date."""

    cut: pd.Timestamp  # first date NOT in any training part
    tickers: list[str]  # series that contributed training windows, in the order given
    scalers: dict[str, Scaler | VolScaler]  # each series' own training-part statistics
    counts: dict[str, tuple[int, int]]  # ticker -> (training windows, validation windows)
    skipped: dict[str, str]  # ticker -> why it contributed nothing
    # xs (B, T, D), zs (B, T): gathered on demand (Windows), or arrays for the vol head, whose
    # windows overlap by only the burn-in (stride T - burn) so hold each day ~1.5 times
    train: tuple[Windows, Windows] | tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]  # xs (Bv, T, D), zs (Bv, T), C-contiguous
    last_dates: dict[str, pd.Timestamp]  # each series' last price date
    baseline_val_loss: float  # the random walk's loss per step on the pooled validation windows
    baselines: dict[str, float]  # ticker -> its random walk's loss per step (NaN: no validation)
    # tickers whose prices have no daily High and Low, when the features want them (their
    # range inputs read proxies: forecast.model.features.vol_inputs)
    close_only: list[str] = field(default_factory=list)
    # the validation windows (xs, zs) as every series reads them without High and Low (its
    # range inputs fed their proxies), to choose what serves close-only tickers; None unless
    # some series are close-only
    val_close: tuple[np.ndarray, np.ndarray] | None = None


def build_panel(
    frames,
    features: tuple[str, ...],
    T: int,
    loss: str,
    val_fraction: float,
    cut: pd.Timestamp | None = None,
    burn: int = 0,
) -> Panel:
    """Panel of `frames` (an iterable of (ticker, prices)); cut at `cut`, else default_cut.
    burn: the vol head's unscored first steps of a window (TrainConfig.burn).

    frames may be a generator: each series is reduced to its scaled days at once, so only one
    price frame is in memory at a time when the cut date is given. Without a cut date the
    frames' dates are needed first, so a generator is read twice only if it is a list.
    """
    if cut is None:
        frames = list(frames)
        cut = default_cut([f.index[1:] for _, f in frames], T, val_fraction)
    cut = pd.Timestamp(cut)
    vol = HEADS[loss].offset  # the vol head's datasets: EWMA offset, burn-in
    X_parts, z_parts, starts, xv, zv = [], [], [], [], []
    scalers, counts, skipped, last_dates, tickers, baselines = {}, {}, {}, {}, [], {}
    offset, rw_total, rw_count = 0, 0.0, 0
    close_only, wants_range = [], any(f in RANGE_FEATURES for f in features)
    ranged = {}  # position in xv -> (dates, returns, cut) of a series read with High and Low
    for ticker, prices in frames:
        try:
            if vol:
                ds = series_vol_dataset(prices, features, T, burn, cut)
            else:
                ds = series_dataset(prices, features, T, loss, cut)
        except ForecastError as e:
            skipped[ticker] = str(e)
            continue
        n_train = len(ds.train[0])
        if vol:  # the windows themselves (they barely overlap)
            X_parts.append(ds.train[0])
            z_parts.append(ds.train[1])
        else:  # the days, and where each window starts in them
            starts.append(offset + np.arange(n_train))
            X_parts.append(ds.X)
            z_parts.append(ds.z)
            offset += len(ds.X)
        xv.append(ds.val[0])
        zv.append(ds.val[1])
        if vol and wants_range:
            if ds.hl is None:
                close_only.append(ticker)
            else:
                ranged[len(xv) - 1] = (ds.dates, ds.returns, ds.split.cut)
        scalers[ticker] = ds.scaler
        counts[ticker] = (n_train, len(ds.val[0]))
        last_dates[ticker] = prices.index[-1]
        tickers.append(ticker)
        # each series' own random walk (its scaler, its training returns), summed over steps
        total, count = random_walk_terms(ds, loss, T, burn)
        rw_total, rw_count = rw_total + total, rw_count + count
        baselines[ticker] = total / count if count else float("nan")
    if not tickers:
        reasons = "; ".join(f"{t}: {why}" for t, why in list(skipped.items())[:3])
        raise ForecastError(f"no series has enough history before {cut:%Y-%m-%d} ({reasons})")
    val = (np.ascontiguousarray(np.concatenate(xv)), np.ascontiguousarray(np.concatenate(zv)))
    if len(val[0]) == 0:
        raise ForecastError(
            f"no series has validation days after {cut:%Y-%m-%d} plus the {T}-day gap; "
            "use an earlier cut or a shorter --window"
        )
    X_all, z_all = np.concatenate(X_parts), np.concatenate(z_parts)
    if vol:
        train = (X_all, z_all)
    else:
        starts_all = np.concatenate(starts)
        train = (Windows(X_all, starts_all, T), Windows(z_all, starts_all, T))
    rw = rw_total / rw_count
    val_close = None
    if close_only:  # the same validation days, range inputs read as a close-only import's
        xs = list(xv)
        for i, (dates, r, cut_k) in ranged.items():
            xs[i] = vol_dataset_at(dates, r, None, features, T, burn, cut_k).val[0]
        val_close = (np.ascontiguousarray(np.concatenate(xs)), val[1])
    return Panel(
        cut,
        tickers,
        scalers,
        counts,
        skipped,
        train,
        val,
        last_dates,
        rw,
        baselines,
        close_only,
        val_close,
    )
