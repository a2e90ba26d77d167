"""Walk-forward backtest: the RNN and random-walk baselines forecast the same origins, scored alike.

Origins are the trading days in the last `test_days` of the history that still have `horizon`
realised days after them. They are cut into folds of `refit_every` consecutive origins; each
fold fits a fresh scaler and model on an expanding window that ends the day BEFORE its first
origin, and every forecast from origin o reads prices up to and including o's close:

    N prices, index 0 .. N−1;  origins o = N − test_days .. N − 1 − horizon
    fold j:  fit on prices[:o_j]   (o_j its first origin)   forecast from o_j .. o_j + k − 1

Forecasts at horizon h = 1..H from an origin with close p_o (Adj Close throughout):

    rnn     ŷ = p_o·exp(m),  band_L = p_o·exp(m ± c_{L,h}·s)   m, s median and std of the sampled
                                                              cumulative log returns, c conformal
    naive   ŷ = p_o,         band_L = p_o·exp(± z_L·σ·√h)      σ std of daily log returns to o
    drift   ŷ = p_o·exp(h·r̄), band_L = naive band · exp(h·r̄)   (the same width, moved to ŷ)

Scores per model and horizon are those of forecast.metrics. Two choices made here:
- CRPS is the closed-form Gaussian CRPS on log prices, N(log ŷ, σ_h²) with σ_h = s for the RNN
  (the spread of its sampled paths, before conformal widening) and σ·√h for the baselines.
  On log prices it is a relative error, comparable across price levels and models.
- Direction is the sign of ŷ − p_o against the sign of y − p_o; the verdict quotes the
  one-day rate, whose cases do not overlap, so its binomial p-value means what it says.

Skill is claimed at horizon h only when the RNN's relative MAE is below 1 AND a Diebold–Mariano
test (absolute-error loss, HLN-corrected) rejects equal accuracy with naive at 5%, AND the RNN
is not merely matching drift there (drift not significantly better than naive, or the RNN
significantly better than drift too).
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast import baselines, metrics
from forecast.config import MAX_HORIZON, TrainConfig
from forecast.errors import ForecastError
from forecast.features import split_days
from forecast.model import LEVELS, RNNForecaster, calibrated_bands

MODELS = ("rnn", "naive", "drift")
ALPHA = 0.05  # significance level of the skill test


@dataclass(frozen=True)
class Fold:
    """One refit: what the fitted model reports it saw, and the origins it then forecast."""

    first_origin: pd.Timestamp
    last_origin: pd.Timestamp
    n_origins: int
    fit_last_date: pd.Timestamp  # model.last_fit_date_: last day of the frame it was fitted on
    scaler_last_date: pd.Timestamp  # model.dates_["train_last"]: last day the scaler saw
    train_days: int  # prices given to fit

    def to_json(self) -> dict:
        return {
            "first_origin": _day(self.first_origin),
            "last_origin": _day(self.last_origin),
            "n_origins": self.n_origins,
            "fit_last_date": _day(self.fit_last_date),
            "scaler_last_date": _day(self.scaler_last_date),
            "train_days": self.train_days,
        }


@dataclass
class Cases:
    """Every forecast of the backtest. n origins, H horizons; all price arrays (n, H)."""

    last: np.ndarray  # (n,) close at the origin, p_o
    scale: np.ndarray  # (n,) MASE scale: in-sample one-step naive MAE of prices[:o + 1]
    y: np.ndarray  # (n, H) realised closes p_{o+h}
    point: dict[str, np.ndarray] = field(default_factory=dict)  # model → ŷ
    lower: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)  # (model, L) → band
    upper: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)
    sigma_log: dict[str, np.ndarray] = field(default_factory=dict)  # model → σ_h of log price


@dataclass
class BacktestResult:
    """What `run_backtest` found; `metrics[model][h − 1]` holds horizon h's scores."""

    origins: pd.DatetimeIndex
    metrics: dict[str, list[dict]]
    folds: list[Fold]
    verdict: str
    wall_time: float  # seconds
    options: dict
    cases: Cases

    def to_json(self) -> dict:
        """JSON-safe summary (NaN and inf → None)."""
        return _clean(
            {
                "options": self.options,
                "origins": len(self.origins),
                "first_origin": _day(self.origins[0]),
                "last_origin": _day(self.origins[-1]),
                "folds": [f.to_json() for f in self.folds],
                "models": self.metrics,
                "verdict": self.verdict,
                "wall_time_s": round(self.wall_time, 3),
            }
        )


def _day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


# --- options ---------------------------------------------------------------------------------


def _min_fit_prices(cfg: TrainConfig) -> int:
    """Fewest prices RNNForecaster.fit accepts for cfg.window (the chronological split's need)."""
    n = 2
    while True:
        try:
            split_days(n - 1, cfg.window, cfg.val_fraction)  # n prices → n − 1 feature days
            return n
        except ForecastError:
            n += 1


def _validate(n_prices: int, cfg: TrainConfig, horizon, refit_every, test_days, n_paths) -> int:
    """Raise ForecastError naming the option to change; return the first origin's index."""
    if not 1 <= horizon <= MAX_HORIZON:
        raise ForecastError(f"--horizon must be 1..{MAX_HORIZON} trading days, got {horizon}")
    if refit_every < 1:
        raise ForecastError(f"--refit-every must be at least 1 trading day, got {refit_every}")
    if not 10 <= n_paths <= 100_000:
        raise ForecastError(
            f"--paths must be between 10 (a median and a spread) and 100000, got {n_paths}"
        )
    if test_days < horizon + 2:
        raise ForecastError(
            f"--test-days {test_days} leaves fewer than 2 origins with {horizon} realised days "
            f"after them; use --test-days {horizon + 2} or more"
        )
    need = _min_fit_prices(cfg)
    first = n_prices - test_days
    if first < need:
        most = n_prices - need
        hint = f"use --test-days {most} or less, " if most >= horizon + 2 else ""
        raise ForecastError(
            f"--test-days {test_days} leaves {max(first, 0)} of {n_prices} days to train the first "
            f"fold, but --window {cfg.window} needs at least {need}; {hint}a shorter --window, "
            "or fetch more history"
        )
    return first


# --- forecasts -------------------------------------------------------------------------------


def _rnn_forecast(model: RNNForecaster, history: pd.DataFrame, H: int, n_paths: int, seed: int):
    """(point (H,), {L: (lower, upper)}, s (H,)) exactly as RNNForecaster.forecast builds them."""
    cum, _ = model.forecast_paths(history, days=H, n_paths=n_paths, seed=seed)  # (P, H)
    return calibrated_bands(cum, float(history["Adj Close"].iloc[-1]), model.calibration_)


def _baseline_forecasts(closes: np.ndarray, H: int):
    """naive and drift forecasts from closes[-1]: {model: (point, {L: (lower, upper)}, σ_h)}."""
    rw = baselines.random_walk_intervals(closes, H, LEVELS)  # full history up to the origin
    sigma_h = rw.sigma * np.sqrt(np.arange(1, H + 1))  # σ·√h
    naive = baselines.naive(closes, H)
    drift = baselines.drift(closes, H)
    shift = drift / naive  # exp(h·r̄)
    return {
        "naive": (naive, {L: (rw.lower[L], rw.upper[L]) for L in LEVELS}, sigma_h),
        "drift": (drift, {L: (rw.lower[L] * shift, rw.upper[L] * shift) for L in LEVELS}, sigma_h),
    }


def _store(cases: Cases, j: int, model: str, point, bands, sigma_h) -> None:
    cases.point[model][j] = point
    for level in LEVELS:
        cases.lower[model, level][j], cases.upper[model, level][j] = bands[level]
    cases.sigma_log[model][j] = sigma_h


# --- the walk --------------------------------------------------------------------------------


def run_backtest(
    prices: pd.DataFrame,
    cfg: TrainConfig,
    *,
    horizon: int = 5,
    refit_every: int = 21,
    test_days: int = 250,
    n_paths: int = 500,
    seed: int = 0,
    on_fold: Callable[[int, int], None] | None = None,
    fit: Callable[[pd.DataFrame, pd.Timestamp], RNNForecaster] | None = None,
) -> BacktestResult:
    """Walk forward over the last `test_days` days; score the RNN, naive and drift forecasts.

    on_fold(i, n_folds) is called with i = 0 before the first fit and i after fold i is done.
    Raises ForecastError when the options don't fit the history, saying what to change.
    fit(train, first_origin) replaces the per-fold RNNForecaster(cfg).fit(train) (a global
    model refits on every series cut at first_origin's date).
    """
    t0 = time.perf_counter()
    cfg = cfg.validate()
    H = horizon
    N = len(prices)
    first = _validate(N, cfg, horizon, refit_every, test_days, n_paths)
    idx = np.arange(first, N - H)  # (n,) origin indices with H realised days after them
    n = idx.size
    adj = prices["Adj Close"].to_numpy(np.float64)
    if not np.all(np.isfinite(adj) & (adj > 0)):
        raise ForecastError("Adj Close has missing or non-positive prices; re-fetch the data")
    abs_diff = np.abs(np.diff(adj))
    csum = np.concatenate([[0.0], np.cumsum(abs_diff)])
    cases = Cases(
        last=adj[idx],
        scale=csum[idx] / idx,  # mean |p_t − p_{t−1}| over prices[:o + 1]
        y=adj[idx[:, None] + np.arange(1, H + 1)[None, :]],
    )
    for name in MODELS:
        cases.point[name] = np.empty((n, H))
        cases.sigma_log[name] = np.empty((n, H))
        for level in LEVELS:
            cases.lower[name, level] = np.empty((n, H))
            cases.upper[name, level] = np.empty((n, H))

    starts = list(range(0, n, refit_every))  # fold j covers origins starts[j] .. + refit_every − 1
    folds = []
    if on_fold:
        on_fold(0, len(starts))
    for f, j0 in enumerate(starts):
        j1 = min(j0 + refit_every, n)
        o_first = prices.index[idx[j0]]
        train = prices.iloc[: idx[j0]]  # strictly before the fold's first origin
        model = fit(train, o_first) if fit else RNNForecaster(cfg).fit(train)
        fold = Fold(
            first_origin=o_first,
            last_origin=prices.index[idx[j1 - 1]],
            n_origins=j1 - j0,
            fit_last_date=pd.Timestamp(model.last_fit_date_),
            scaler_last_date=pd.Timestamp(model.dates_["train_last"]),
            train_days=len(train),
        )
        if not (fold.fit_last_date < o_first and fold.scaler_last_date < o_first):
            raise AssertionError(
                f"leakage: fold {f + 1} was fitted on data up to {fold.fit_last_date}"
            )
        folds.append(fold)
        for j in range(j0, j1):
            i = int(idx[j])
            history = prices.iloc[: i + 1]  # up to and including the origin
            _store(cases, j, "rnn", *_rnn_forecast(model, history, H, n_paths, seed + i))
            for name, forecast in _baseline_forecasts(adj[: i + 1], H).items():
                _store(cases, j, name, *forecast)
        if on_fold:
            on_fold(f + 1, len(starts))

    scores = score(cases)
    options = {
        "horizon": horizon,
        "refit_every": refit_every,
        "test_days": test_days,
        "n_paths": n_paths,
        "seed": seed,
        "config": cfg.to_dict(),
    }
    return BacktestResult(
        origins=pd.DatetimeIndex(prices.index[idx]),
        metrics=scores,
        folds=folds,
        verdict=verdict(scores),
        wall_time=time.perf_counter() - t0,
        options=options,
        cases=cases,
    )


# --- scores ----------------------------------------------------------------------------------


def score(cases: Cases) -> dict[str, list[dict]]:
    """Per model, a list over h = 1..H of metric dicts (the keys of BacktestResult.to_json)."""
    H = cases.y.shape[1]
    out = {name: [] for name in MODELS}
    for k in range(H):
        h = k + 1
        y = cases.y[:, k]
        err = {name: y - cases.point[name][:, k] for name in MODELS}  # e = y − ŷ
        for name in MODELS:
            yhat = cases.point[name][:, k]
            acc, n_dir, p_dir = metrics.direction_accuracy(y, yhat, cases.last)
            row = {
                "horizon": h,
                "mae": metrics.mae(y, yhat),
                "rmse": metrics.rmse(y, yhat),
                "rel_mae": metrics.relative_mae(y, yhat, cases.point["naive"][:, k]),
                "mase": metrics.mase(y, yhat, cases.scale),
                "direction_accuracy": acc,
                "direction_n": n_dir,
                "direction_p_value": p_dir,
            }
            for level in LEVELS:
                lo, up = cases.lower[name, level][:, k], cases.upper[name, level][:, k]
                pct = int(round(level * 100))
                row[f"coverage_{pct}"] = metrics.coverage(y, lo, up)
                row[f"interval_score_{pct}"] = metrics.interval_score(y, lo, up, alpha=1 - level)
            row["interval_score"] = row.pop("interval_score_95")
            row["crps"] = metrics.crps_gaussian(
                np.log(y), np.log(yhat), cases.sigma_log[name][:, k]
            )
            nan2 = (math.nan, math.nan)
            dm = metrics.diebold_mariano(err[name], err["naive"], h) if name != "naive" else nan2
            dm_d = metrics.diebold_mariano(err[name], err["drift"], h) if name == "rnn" else nan2
            row["dm_stat"], row["dm_p_value"] = dm  # vs naive; < 0: smaller errors than naive
            row["dm_drift_stat"], row["dm_drift_p_value"] = dm_d  # rnn vs drift
            out[name].append(row)
    return out


def _beats(row: dict, key: str = "dm") -> bool:
    """Smaller errors than the reference and a DM test that rejects equal accuracy at ALPHA."""
    stat, p = row[f"{key}_stat"], row[f"{key}_p_value"]
    return bool(stat < 0 and p < ALPHA)  # nan compares False


def skill_horizons(scores: dict[str, list[dict]]) -> dict[str, list[int]]:
    """Horizons where rnn / drift beat naive (relative MAE < 1 and DM rejects), and where the
    RNN's edge is its own: drift has none there, or the RNN beats drift significantly too."""
    rnn = scores["rnn"]
    beats = {
        name: [r["horizon"] for r in scores[name] if r["rel_mae"] < 1 and _beats(r)]
        for name in ("rnn", "drift")
    }
    own = [h for h in beats["rnn"] if h not in beats["drift"] or _beats(rnn[h - 1], "dm_drift")]
    return {"rnn": beats["rnn"], "drift": beats["drift"], "rnn_own": own}


def _days(hs: list[int]) -> str:
    """[1, 2, 3, 5] → "1–3, 5 days"."""
    runs, start = [], None
    for a, b in zip([None, *hs], [*hs, None], strict=True):
        if start is None:
            start = b
        elif b is None or b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}–{a}")
            start = b
    return ", ".join(runs) + (" day" if hs == [1] else " days")


def _num(values, fmt: str) -> str:
    return "/".join(format(v, fmt) for v in values)


def verdict(scores: dict[str, list[dict]]) -> str:
    """One plain-words sentence: skill (only when earned), then how the RNN's bands did."""
    rnn = scores["rnn"]
    H = len(rnn)
    sk = skill_horizons(scores)
    rel = [r["rel_mae"] for r in rnn]
    d1 = rnn[0]
    direction = (
        f"1-day direction {d1['direction_accuracy']:.1%} of {d1['direction_n']}, "
        f"p={d1['direction_p_value']:.2f}"
        if d1["direction_n"]
        else "no 1-day direction calls"
    )
    cov95 = np.mean([r["coverage_95"] for r in rnn])
    cov80 = np.mean([r["coverage_80"] for r in rnn])
    bands = f"intervals: {cov95:.1%} of cases inside the 95% band, {cov80:.1%} inside the 80% band"
    all_h = list(range(1, H + 1))
    if sk["rnn_own"]:
        own = sk["rnn_own"]
        rows = [rnn[h - 1] for h in own]
        head = (
            f"RNN: beats a random walk at {_days(own)} (relative MAE "
            f"{_num([r['rel_mae'] for r in rows], '.2f')}, DM p="
            f"{_num([r['dm_p_value'] for r in rows], '.3f')})"
        )
        rest = [h for h in all_h if h not in own]
        if rest:
            head += f"; no skill at {_days(rest)}"
    elif sk["rnn"]:
        matched = sk["rnn"]
        drift_rel = [scores["drift"][h - 1]["rel_mae"] for h in matched]
        head = (
            f"RNN: no skill of its own at {_days(all_h)}: it beats a random walk at "
            f"{_days(matched)} (relative MAE {_num([rel[h - 1] for h in matched], '.2f')}), "
            f"but so does drift (relative MAE {_num(drift_rel, '.2f')}), and the RNN's edge is "
            "no better than drift's"
        )
    else:
        lo, hi = min(rel), max(rel)
        rel_text = f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}–{hi:.2f}"
        ahead = [
            r["dm_p_value"] for r in rnn if r["rel_mae"] < 1 and math.isfinite(r["dm_p_value"])
        ]
        p_text = f"; where lower, DM p≥{min(ahead):.2f}" if ahead else ""
        head = (
            f"RNN: no skill over a random walk at {_days(all_h)} (relative MAE {rel_text}{p_text})"
        )
        if sk["drift"]:
            head += f"; drift beats the random walk at {_days(sk['drift'])}"
    worse = [r for r in rnn if r["dm_stat"] > 0 and r["dm_p_value"] < ALPHA]
    if worse:
        ps = _num([r["dm_p_value"] for r in worse], ".3f")
        at = _days([r["horizon"] for r in worse])
        head += f"; significantly worse than the random walk at {at} (DM p={ps})"
    return f"{head}; {direction}; {bands}"
