"""From prices to model inputs: daily features, a scaler fitted on the training part, sliding windows.

Day k's inputs x_k are features known at its close; its target is the next day's log return
r_{k+1} = log(AdjClose_{k+1} / AdjClose_k), scaled like the "return" feature. A window i
reads days i .. i+T-1 and is trained on the targets r_{i+1} .. r_{i+T} (one per step).

Chronological split (N days):   [ train: 0 .. cut-1 | gap: T days | validation: cut+T .. N-1 ]
Training windows use no target on or after `cut`; the scaler sees only days before `cut`.
The gap keeps validation inputs clear of every day whose return was a training target.
"""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.errors import ForecastError
from forecast.heads import HEADS


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


def check_features(prices: pd.DataFrame, features: tuple[str, ...]) -> None:
    """Refuse features the data cannot give: "range" without High/Low, "volume" without Volume.

    A CSV import without those columns fills High = Low = Close and Volume = 0, which would
    feed the model a constant input while the user believes it reads the range or volume.
    """
    if "range" in features and (
        not {"High", "Low"} <= set(prices.columns) or bool((prices["High"] == prices["Low"]).all())
    ):
        raise ForecastError(
            "--features range needs daily High and Low prices, and these prices have none "
            "(High equals Low on every day); drop range from --features"
        )
    if "volume" in features and (
        "Volume" not in prices.columns or bool((prices["Volume"] == 0).all())
    ):
        raise ForecastError(
            "--features volume needs traded volumes, and these prices have none "
            "(Volume is 0 on every day); drop volume from --features"
        )


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
    """z (N,) with z_k the target for day k: r_{k+1} in the head's units (forecast/heads.py).

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


def _cut(n_days: int, T: int, val_fraction: float) -> int:
    """First day not in the training part: n_days minus validation and the gap."""
    n_val = max(int(round(val_fraction * n_days)), T + 1)  # at least one validation window
    return n_days - n_val - T


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
