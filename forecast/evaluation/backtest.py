"""Walk-forward backtest: the RNN and five yardsticks forecast the same origins, scored alike.

The last `test_days` closes are the targets of one-day forecasts: the origins are the
`test_days` trading days before them, and each origin forecasts h = 1..K days ahead wherever
the target day exists (h = 1 keeps every origin, h = K loses the last K − 1). Origins are cut
into folds of `refit_every` consecutive origins; at a fold's first origin o every model is
refitted on the prices up to and including o's close (at most the last `max_train` returns),
and every forecast from an origin reads prices up to and including its own close, never after:

    N prices, index 0 .. N−1;  origins o = N − 1 − test_days .. N − 2
    fold j:  fit on prices[max(0, o_j − max_train) : o_j + 1]   forecast from o_j .. o_j + k − 1

Each model's forecast at horizon h is a predictive distribution of the h-day log return
x = ln(P[o+h]/P[o]) (Adj Close), summarised by a mean and an sd:

    rnn     sampled paths; center m = their median, bands P[o]·exp(m ± c_{L,h}·s) with conformal
            factors c; read as mean m and sd = (ln upper_95 − ln lower_95)/(2·z_0.975) = c_95·s/z
    naive   the constant-volatility random walk: N(0, hσ²), σ = std of the fit's returns
    drift   random walk with drift: N(h·r̄, hσ²), r̄ = mean of the fit's returns
    ewma    RiskMetrics λ = 0.94;  garch, egarch: (E)GARCH(1,1), zero mean, fitted with arch
            (forecast.evaluation.yardsticks): N(0, Σ_{j≤h} E σ²_{o+j})

A Gaussian model's median price is P[o]·exp(mean), its band at level L P[o]·exp(mean ± z·sd),
its P(up) Φ(mean/sd). Scores per model and horizon (forecast.evaluation.metrics): MAE, RMSE, relative MAE
(÷ naive) and MASE of the median; direction of the median against the better constant call
(always up or always down); coverage and Winkler score of the 80% and 95% bands (prices);
CRPS and NLL of x under N(mean, sd²). The best baseline is the one with the lowest CRPS (mean
over horizons of its CRPS ÷ naive's); Diebold–Mariano tests on per-case CRPS say whether a
model beats it.

Skill on point forecasts is claimed at horizon h only when the RNN's relative MAE is below 1
AND a Diebold–Mariano test (absolute-error loss, HLN-corrected) rejects equal accuracy with
naive at 5%, AND the RNN is not merely matching drift there (drift not significantly better
than naive, or the RNN significantly better than drift too).
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from forecast.config import TrainConfig, check_range
from forecast.errors import ForecastError
from forecast.evaluation import metrics
from forecast.evaluation.randomwalk import RandomWalk
from forecast.evaluation.yardsticks import EGARCH, EWMA, GARCH
from forecast.files import write_output
from forecast.jsonfile import plain
from forecast.model.estimator import LEVELS, RNNForecaster
from forecast.model.features import min_prices

BASELINES = ("naive", "drift", "ewma", "garch", "egarch")
MODELS = ("rnn", *BASELINES)
ALPHA = 0.05  # significance level of the skill tests
Z = {L: float(stats.norm.ppf((1 + L) / 2)) for L in LEVELS}  # z_{(1+L)/2}
EXPORT_COLUMNS = (
    "model",
    "ticker",
    "origin",
    "h",
    "target_date",
    "price_origin",
    "price_target",
    "mean",
    "sd",
    "median",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
    "p_up",
)


def yardsticks() -> dict:
    """Fresh baseline models, by name, each with fit(r) -> self and forecast(r, ends, K)."""
    return {
        "naive": RandomWalk(),
        "drift": RandomWalk(drift=True),
        "ewma": EWMA(),
        "garch": GARCH(),
        "egarch": EGARCH(),
    }


@dataclass(frozen=True)
class Fold:
    """One refit: what the fitted model reports it saw, and the origins it then forecast."""

    first_origin: pd.Timestamp
    last_origin: pd.Timestamp
    n_origins: int
    fit_last_date: pd.Timestamp  # model.last_fit_date_: last day of the frame it was fitted on
    scaler_last_date: pd.Timestamp  # model.dates_["train_last"]: last day the scaler saw
    train_days: int  # prices given to fit
    fit_first_date: pd.Timestamp | None = None  # first day of that frame (max_train cuts it)
    unconverged: tuple[str, ...] = ()  # yardsticks whose optimizer did not converge here

    def to_json(self) -> dict:
        return {
            "first_origin": _day(self.first_origin),
            "last_origin": _day(self.last_origin),
            "n_origins": self.n_origins,
            "fit_first_date": _day(self.fit_first_date) if self.fit_first_date else None,
            "fit_last_date": _day(self.fit_last_date),
            "scaler_last_date": _day(self.scaler_last_date),
            "train_days": self.train_days,
            "unconverged": list(self.unconverged),
        }


@dataclass
class Cases:
    """Every forecast of the backtest. n origins, K horizons; arrays (n, K) unless noted.

    y is NaN (and target_dates NaT) where the target day lies past the data.
    """

    last: np.ndarray  # (n,) close at the origin, p_o
    scale: np.ndarray  # (n,) MASE scale: in-sample one-step naive MAE of prices[:o + 1]
    y: np.ndarray  # realised closes p_{o+h}
    origin_dates: pd.DatetimeIndex = None  # (n,)
    target_dates: np.ndarray = None  # datetime64[ns]: the day of p_{o+h}
    point: dict[str, np.ndarray] = field(default_factory=dict)  # model → median price
    lower: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)  # (model, L) → band
    upper: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)
    mean: dict[str, np.ndarray] = field(default_factory=dict)  # model → mean of ln(p_{o+h}/p_o)
    sd: dict[str, np.ndarray] = field(default_factory=dict)  # model → its sd
    p_up: dict[str, np.ndarray] = field(default_factory=dict)  # model → P(p_{o+h} > p_o)

    @property
    def log_return(self) -> np.ndarray:
        """Realised h-day log returns ln(p_{o+h}/p_o), (n, K)."""
        return np.log(self.y / self.last[:, None])


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
    best_baseline: str = ""
    ticker: str = ""

    def to_json(self) -> dict:
        """JSON-safe summary (NaN and inf → None)."""
        return plain(
            {
                "options": self.options,
                "origins": len(self.origins),
                "first_origin": _day(self.origins[0]),
                "last_origin": _day(self.origins[-1]),
                "folds": [f.to_json() for f in self.folds],
                "models": self.metrics,
                "best_baseline": self.best_baseline,
                "verdict": self.verdict,
                "wall_time_s": round(self.wall_time, 3),
            }
        )

    def forecasts(self, ticker: str | None = None) -> pd.DataFrame:
        """Every scored forecast: one row per model, origin and horizon (EXPORT_COLUMNS).

        origin and target_date are ISO dates (YYYY-MM-DD); price_origin and price_target the
        Adj Close on them; mean and sd the predictive mean and standard deviation of
        ln(price_target / price_origin) (for the RNN: its median and its calibrated 95% band's
        half-width in log space ÷ z_0.975); median, lower_L and upper_L prices; p_up the
        forecast P(price_target > price_origin). Rows exist only where the target day is in the
        data: n origins at h = 1, n − h + 1 at h. Ordered by model (MODELS), origin, h.
        """
        c = self.cases
        n, K = c.y.shape
        ok = np.isfinite(c.y)  # (n, K)
        j, k = np.nonzero(ok)  # row-major: origin, then h
        origin = np.asarray(c.origin_dates.strftime("%Y-%m-%d"))[j]
        target = pd.DatetimeIndex(c.target_dates[j, k]).strftime("%Y-%m-%d")
        frames = []
        for model in self.metrics:
            cols = {
                "model": model,
                "ticker": ticker if ticker is not None else self.ticker,
                "origin": origin,
                "h": k + 1,
                "target_date": np.asarray(target),
                "price_origin": c.last[j],
                "price_target": c.y[j, k],
                "mean": c.mean[model][j, k],
                "sd": c.sd[model][j, k],
                "median": c.point[model][j, k],
            }
            for level in LEVELS:
                pct = int(round(level * 100))
                cols[f"lower_{pct}"] = c.lower[model, level][j, k]
                cols[f"upper_{pct}"] = c.upper[model, level][j, k]
            cols["p_up"] = c.p_up[model][j, k]
            frames.append(pd.DataFrame(cols, columns=list(EXPORT_COLUMNS)))
        return pd.concat(frames, ignore_index=True)

    def write_forecasts_csv(self, path: str | Path, ticker: str | None = None) -> int:
        """Write forecasts() to `path` as CSV, atomically (the old file survives a crash); a
        FIFO, a device or "-" (stdout) is written in place, never replaced (files.write_output).

        Returns the number of rows. Raises ForecastError when the file cannot be written.
        """
        table = self.forecasts(ticker)
        data = table.to_csv(index=False, lineterminator="\n").encode("utf-8")
        try:
            write_output(Path(path), data)
        except OSError as e:
            raise ForecastError(
                f"cannot write {path} ({e.strerror or e}); choose a writable file path"
            ) from None
        return len(table)


def _day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


# --- options ---------------------------------------------------------------------------------


def _min_fit_prices(cfg: TrainConfig) -> int:
    """Fewest prices RNNForecaster.fit accepts for cfg.window (the chronological split's need)."""
    return min_prices(cfg.window, cfg.val_fraction)


def _validate(
    n_prices: int, cfg: TrainConfig, horizon, refit_every, test_days, n_paths, max_train
) -> int:
    """Raise ForecastError naming the option to change; return the first origin's index."""
    check_range("horizon", horizon)
    if refit_every < 1:
        raise ForecastError(f"--refit-every must be at least 1 trading day, got {refit_every}")
    check_range("paths", n_paths)
    if test_days < horizon + 1:
        raise ForecastError(
            f"--test-days {test_days} leaves fewer than 2 origins with {horizon} realised days "
            f"after them; use --test-days {horizon + 1} or more"
        )
    need = _min_fit_prices(cfg)
    if max_train is not None and max_train + 1 < need:
        raise ForecastError(
            f"--max-train {max_train} returns are too few for --window {cfg.window}; "
            f"use --max-train {need - 1} or more"
        )
    first = n_prices - 1 - test_days
    if first + 1 < need:
        most = n_prices - need
        hint = f"use --test-days {most} or less, " if most >= horizon + 1 else ""
        raise ForecastError(
            f"--test-days {test_days} leaves {max(first + 1, 0)} of {n_prices} days to train the "
            f"first fold, but --window {cfg.window} needs at least {need}; {hint}a shorter "
            "--window, or fetch more history"
        )
    return first


# --- forecasts -------------------------------------------------------------------------------


def _rnn_forecast(model: RNNForecaster, history: pd.DataFrame, K: int, n_paths: int, seed: int):
    """The RNN's calibrated forecast from history's last close, as _store takes it
    (RNNForecaster.predictive: median, bands, mean and sd of the log return, p_up)."""
    return model.predictive(history, days=K, n_paths=n_paths, seed=seed)[:5]


def _gaussian_forecast(last: np.ndarray, mean: np.ndarray, sd: np.ndarray):
    """From mean and sd (k, K) of the log return at origins with closes last (k,): as _store takes it."""
    p = last[:, None]
    bands = {L: (p * np.exp(mean - Z[L] * sd), p * np.exp(mean + Z[L] * sd)) for L in LEVELS}
    p_up = stats.norm.cdf(mean / sd)  # P(x > 0) for x ~ N(mean, sd²)
    return p * np.exp(mean), bands, mean, sd, p_up


def _store(cases: Cases, rows, model: str, median, bands, mean, sd, p_up) -> None:
    cases.point[model][rows] = median
    for level in LEVELS:
        cases.lower[model, level][rows], cases.upper[model, level][rows] = bands[level]
    cases.mean[model][rows] = mean
    cases.sd[model][rows] = sd
    cases.p_up[model][rows] = p_up


# --- the walk --------------------------------------------------------------------------------


def run_backtest(
    prices: pd.DataFrame,
    cfg: TrainConfig,
    *,
    horizon: int = 5,
    refit_every: int = 21,
    test_days: int = 250,
    max_train: int | None = None,
    n_paths: int = 500,
    seed: int = 0,
    ticker: str = "",
    on_fold: Callable[[int, int], None] | None = None,
    fit: Callable[[pd.DataFrame, pd.Timestamp], RNNForecaster] | None = None,
) -> BacktestResult:
    """Walk forward over the last `test_days` days; score the RNN and the five yardsticks.

    max_train: at most this many returns (the last ones up to the refit origin) per fit;
    None fits on all history. on_fold(i, n_folds) is called with i = 0 before the first fit
    and i after fold i is done. Raises ForecastError when the options don't fit the history,
    saying what to change.
    fit(train, origin) replaces the per-fold RNNForecaster(cfg).fit(train), with train the
    prices through the fold's first origin (a global model refits on every series cut at
    that origin's date).
    """
    t0 = time.perf_counter()
    cfg = cfg.validate()
    K = horizon
    N = len(prices)
    first = _validate(N, cfg, horizon, refit_every, test_days, n_paths, max_train)
    idx = np.arange(first, N - 1)  # (n,) origin indices: each has at least the next day
    n = idx.size
    adj = prices["Adj Close"].to_numpy(np.float64)
    if not np.all(np.isfinite(adj) & (adj > 0)):
        raise ForecastError("Adj Close has missing or non-positive prices; re-fetch the data")
    r = np.diff(np.log(adj))  # r[t] = ln(p_{t+1}/p_t)
    abs_diff = np.abs(np.diff(adj))
    csum = np.concatenate([[0.0], np.cumsum(abs_diff)])
    target = idx[:, None] + np.arange(1, K + 1)[None, :]  # (n, K) index of p_{o+h}
    exists = target <= N - 1
    safe = np.minimum(target, N - 1)
    cases = Cases(
        last=adj[idx],
        scale=csum[idx] / idx,  # mean |p_t − p_{t−1}| over prices[:o + 1]
        y=np.where(exists, adj[safe], np.nan),
        origin_dates=pd.DatetimeIndex(prices.index[idx]),
        target_dates=np.where(exists, prices.index.to_numpy()[safe], np.datetime64("NaT")),
    )
    for name in MODELS:
        for store in (cases.point, cases.mean, cases.sd, cases.p_up):
            store[name] = np.full((n, K), np.nan)
        for level in LEVELS:
            cases.lower[name, level] = np.full((n, K), np.nan)
            cases.upper[name, level] = np.full((n, K), np.nan)

    starts = list(range(0, n, refit_every))  # fold j covers origins starts[j] .. + refit_every − 1
    folds = []
    if on_fold:
        on_fold(0, len(starts))
    for f, j0 in enumerate(starts):
        j1 = min(j0 + refit_every, n)
        i0, i_last = int(idx[j0]), int(idx[j1 - 1])
        lo = 0 if max_train is None else max(0, i0 - max_train)  # first price of the fit
        train = prices.iloc[lo : i0 + 1]  # up to and including the fold's first origin
        model = fit(train, prices.index[i0]) if fit else RNNForecaster(cfg).fit(train)
        unconverged = []
        r_fold = r[lo:i_last]  # returns up to the fold's last origin, none after
        ends = idx[j0:j1] - lo  # returns seen at each origin
        for name, yardstick in yardsticks().items():
            yardstick.fit(r[lo:i0])  # the same returns the RNN's fit saw
            if not yardstick.converged_:
                unconverged.append(name)
            mean, sd = yardstick.forecast(r_fold, ends, K)
            _store(cases, slice(j0, j1), name, *_gaussian_forecast(adj[idx[j0:j1]], mean, sd))
        fold = Fold(
            first_origin=prices.index[i0],
            last_origin=prices.index[i_last],
            n_origins=j1 - j0,
            fit_last_date=pd.Timestamp(model.last_fit_date_),
            scaler_last_date=pd.Timestamp(model.dates_["train_last"]),
            train_days=len(train),
            fit_first_date=prices.index[lo],
            unconverged=tuple(unconverged),
        )
        if not (
            fold.fit_last_date <= fold.first_origin and fold.scaler_last_date <= fold.first_origin
        ):
            raise AssertionError(
                f"leakage: fold {f + 1} was fitted on data up to {fold.fit_last_date}"
            )
        folds.append(fold)
        for j in range(j0, j1):
            i = int(idx[j])
            history = prices.iloc[max(0, i - model.reads) : i + 1]  # what the RNN reads, to o
            _store(cases, j, "rnn", *_rnn_forecast(model, history, K, n_paths, seed + i))
        if on_fold:
            on_fold(f + 1, len(starts))

    scores, best = score(cases)
    options = {
        "horizon": horizon,
        "refit_every": refit_every,
        "test_days": test_days,
        "max_train": max_train,
        "n_paths": n_paths,
        "seed": seed,
        "config": cfg.to_dict(),
    }
    return BacktestResult(
        origins=pd.DatetimeIndex(prices.index[idx]),
        metrics=scores,
        folds=folds,
        verdict=verdict(scores, best),
        wall_time=time.perf_counter() - t0,
        options=options,
        cases=cases,
        best_baseline=best,
        ticker=ticker,
    )


# --- scores ----------------------------------------------------------------------------------


def score(cases: Cases) -> tuple[dict[str, list[dict]], str]:
    """Per model, a list over h = 1..K of metric dicts; and the best baseline's name.

    Horizon h is scored on the origins whose target exists (n − h + 1 of them).
    """
    K = cases.y.shape[1]
    models = [m for m in MODELS if m in cases.point]
    out = {name: [] for name in models}
    crps_cases = {name: [] for name in models}  # per h, (n_h,) CRPS of each case
    x_all = cases.log_return
    for k in range(K):
        h = k + 1
        ok = np.isfinite(cases.y[:, k])
        y, last, x = cases.y[ok, k], cases.last[ok], x_all[ok, k]
        err = {name: y - cases.point[name][ok, k] for name in models}  # e = y − ŷ
        for name in models:
            yhat = cases.point[name][ok, k]
            mu, sd = cases.mean[name][ok, k], cases.sd[name][ok, k]
            acc, n_dir, up_share, p_dir = metrics.direction_vs_base_rate(y, yhat, last)
            row = {
                "horizon": h,
                "n": int(ok.sum()),
                "mae": metrics.mae(y, yhat),
                "rmse": metrics.rmse(y, yhat),
                "rel_mae": metrics.relative_mae(y, yhat, cases.point["naive"][ok, k]),
                "mase": metrics.mase(y, yhat, cases.scale[ok]),
                "direction_accuracy": acc,
                "direction_n": n_dir,
                "direction_up_share": up_share,
                "direction_p_value": p_dir,
            }
            for level in LEVELS:
                lo, up = cases.lower[name, level][ok, k], cases.upper[name, level][ok, k]
                pct = int(round(level * 100))
                row[f"coverage_{pct}"] = metrics.coverage(y, lo, up)
                row[f"interval_score_{pct}"] = metrics.interval_score(y, lo, up, alpha=1 - level)
            row["interval_score"] = row.pop("interval_score_95")
            c = metrics.crps_gaussian_cases(x, mu, sd)
            crps_cases[name].append(c)
            row["crps"] = float(np.mean(c))
            row["nll"] = metrics.nll_gaussian(x, mu, sd)
            nan2 = (math.nan, math.nan)
            dm = metrics.diebold_mariano(err[name], err["naive"], h) if name != "naive" else nan2
            dm_d = metrics.diebold_mariano(err[name], err["drift"], h) if name == "rnn" else nan2
            row["dm_stat"], row["dm_p_value"] = dm  # vs naive; < 0: smaller errors than naive
            row["dm_drift_stat"], row["dm_drift_p_value"] = dm_d  # rnn vs drift
            out[name].append(row)
    best = best_baseline(out)
    for name in models:
        for k, row in enumerate(out[name]):
            stat_p = metrics.diebold_mariano_losses(crps_cases[name][k], crps_cases[best][k], k + 1)
            row["crps_vs_best"] = row["crps"] / out[best][k]["crps"]
            row["dm_crps_stat"], row["dm_crps_p_value"] = stat_p  # < 0: lower CRPS than best
    return out, best


def best_baseline(scores: dict[str, list[dict]]) -> str:
    """The baseline with the lowest CRPS: mean over horizons of its CRPS ÷ naive's CRPS."""

    def rel(name):
        return np.mean(
            [r["crps"] / q["crps"] for r, q in zip(scores[name], scores["naive"], strict=True)]
        )

    return min((b for b in BASELINES if b in scores), key=rel)


def _beats(row: dict, key: str = "dm") -> bool:
    """Smaller losses than the reference and a DM test that rejects equality at ALPHA."""
    stat, p = row[f"{key}_stat"], row[f"{key}_p_value"]
    return bool(stat < 0 and p < ALPHA)  # nan compares False


def _worse(row: dict, key: str = "dm") -> bool:
    stat, p = row[f"{key}_stat"], row[f"{key}_p_value"]
    return bool(stat > 0 and p < ALPHA)


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


def _distribution(scores: dict[str, list[dict]], best: str) -> str:
    """Whether the RNN's predictive distribution beats the best baseline's (DM test on CRPS)."""
    rnn = scores["rnn"]
    groups = {
        "beats it": [r for r in rnn if _beats(r, "dm_crps")],
        "does not beat it": [
            r for r in rnn if not _beats(r, "dm_crps") and not _worse(r, "dm_crps")
        ],
        "is worse": [r for r in rnn if _worse(r, "dm_crps")],
    }
    parts = [
        f"{what} at {_days([r['horizon'] for r in rows])} (CRPS ×"
        f"{_num([r['crps_vs_best'] for r in rows], '.3f')}, DM p="
        f"{_num([r['dm_crps_p_value'] for r in rows], '.2f')})"
        for what, rows in groups.items()
        if rows
    ]
    return f"best baseline by CRPS: {best}; the RNN " + ", ".join(parts)


def verdict(scores: dict[str, list[dict]], best: str | None = None) -> str:
    """Plain words: point-forecast skill (only when earned), direction, the predictive
    distribution against the best baseline, and how the RNN's bands covered."""
    rnn = scores["rnn"]
    K = len(rnn)
    sk = skill_horizons(scores)
    rel = [r["rel_mae"] for r in rnn]
    d1 = rnn[0]
    direction = (
        f"1-day direction {d1['direction_accuracy']:.1%} of {d1['direction_n']} "
        f"({d1['direction_up_share']:.1%} up days), p={d1['direction_p_value']:.2f}"
        if d1["direction_n"]
        else "no 1-day direction calls"
    )
    cov95 = np.mean([r["coverage_95"] for r in rnn])
    cov80 = np.mean([r["coverage_80"] for r in rnn])
    bands = f"intervals: {cov95:.1%} of cases inside the 95% band, {cov80:.1%} inside the 80% band"
    all_h = list(range(1, K + 1))
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
    parts = [head, direction]
    if best is not None and "dm_crps_stat" in rnn[0]:
        parts.append(_distribution(scores, best))
    parts.append(bands)
    return "; ".join(parts)
