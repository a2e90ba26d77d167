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
            (forecast.model.classical): N(0, Σ_{j≤h} E σ²_{o+j})

A Gaussian model's median price is P[o]·exp(mean), its band at level L P[o]·exp(mean ± z·sd),
its P(up) Φ(mean/sd). Scores per model and horizon (forecast.evaluation.metrics): MAE, RMSE, relative MAE
(÷ naive) and MASE of the median; direction of the median against the better constant call
(always up or always down); coverage and Winkler score of the 80% and 95% bands (prices);
CRPS and NLL of x under N(mean, sd²). The best baseline is the one with the lowest CRPS (mean
over horizons of its CRPS ÷ naive's); Diebold–Mariano tests on per-case CRPS say whether a
model beats it.

Risk (forecast.evaluation.riskbacktests): every model's VaR_a and ES_a of a long position at
each --var level a, from its own distribution (the RNN: the Gaussian whose a-quantile is its
(2a − 1) band's lower edge, forecast.model.predictive; the yardsticks: their N(mean, sd²)),
scored on the same origins: exceedances, Kupiec, Christoffersen, Acerbi–Székely Z2, and the
Basel zone of the last 250 one-day 99% VaRs; the variance forecasts sd² scored with QLIKE
and MSE against the squared h-day log return, with a Diebold–Mariano test on QLIKE against the
yardstick with the least mean QLIKE ("best variance").

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
from forecast.evaluation import metrics, riskbacktests
from forecast.evaluation.randomwalk import RandomWalk
from forecast.files import write_output
from forecast.jsonfile import plain
from forecast.model.classical import EGARCH, EWMA, GARCH
from forecast.model.estimator import LEVELS, RNNForecaster, percent
from forecast.model.features import min_prices
from forecast.model.predictive import VAR_LEVELS, day_sigma
from forecast.model.valueatrisk import var_es, z

BASELINES = ("naive", "drift", "ewma", "garch", "egarch")
MODELS = ("rnn", *BASELINES)
ALPHA = 0.05  # significance level of the skill tests
BASEL_LEVEL = riskbacktests.BASEL_LEVEL  # every backtest forecasts the one-day 99% VaR
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
    "sigma",
    "var_95",
    "es_95",
    "var_99",
    "es_99",
)


def export_columns(levels=LEVELS, var_levels=VAR_LEVELS) -> tuple[str, ...]:
    """forecasts()' columns for band `levels` and VaR `var_levels` (EXPORT_COLUMNS: the defaults)."""
    bands = [f"{side}_{percent(L)}" for L in levels for side in ("lower", "upper")]
    risk = [f"{k}_{percent(a)}" for a in var_levels for k in ("var", "es")]
    head = EXPORT_COLUMNS[: EXPORT_COLUMNS.index("lower_80")]
    return (*head, *bands, "p_up", "sigma", *risk)


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
    levels: tuple[float, ...] = LEVELS  # band levels
    var_levels: tuple[float, ...] = VAR_LEVELS  # VaR/ES levels asked for (BASEL_LEVEL is kept too)
    # (model, a) → VaR_a and ES_a of a long position, loss fractions of p_o; and the sd σ_a of
    # the Gaussian in log returns they come from (N(mean, σ_a²): the Z2 test's null)
    var: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)
    es: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)
    risk_sd: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)

    @property
    def risk_levels(self) -> tuple[float, ...]:
        """The VaR levels stored: those asked for and the Basel 99%."""
        return tuple(sorted({*self.var_levels, BASEL_LEVEL}))

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
    risk_verdict: str = ""  # the RNN's VaR, ES and variance forecasts in plain words
    best_baseline: str = ""
    ticker: str = ""
    basel: dict[str, dict] = field(default_factory=dict)  # model → exceptions, days, zone
    best_variance: str = ""  # the yardstick with the least mean QLIKE

    def to_json(self) -> dict:
        """JSON-safe summary (NaN and inf → None)."""
        return plain(
            {
                "options": self.options,
                "basel": self.basel,
                "best_variance": self.best_variance,
                "risk_verdict": self.risk_verdict,
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
        forecast P(price_target > price_origin); sigma the sd of that day's own log return,
        sqrt(sd_h² − sd_{h−1}²); var_a and es_a the VaR and ES of a long position as loss
        fractions of price_origin. Rows exist only where the target day is in the
        data: n origins at h = 1, n − h + 1 at h. Ordered by model (MODELS), origin, h.
        """
        c = self.cases
        columns = export_columns(c.levels, c.var_levels)
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
            for level in c.levels:
                pct = percent(level)
                cols[f"lower_{pct}"] = c.lower[model, level][j, k]
                cols[f"upper_{pct}"] = c.upper[model, level][j, k]
            cols["p_up"] = c.p_up[model][j, k]
            cols["sigma"] = day_sigma(c.sd[model], axis=1)[j, k]  # sd (n, K) of h-day returns
            for a in c.var_levels:
                cols[f"var_{percent(a)}"] = c.var[model, a][j, k]
                cols[f"es_{percent(a)}"] = c.es[model, a][j, k]
            frames.append(pd.DataFrame(cols, columns=list(columns)))
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


def _rnn_forecast(model, history: pd.DataFrame, K: int, n_paths: int, seed: int, cases: Cases):
    """The RNN's calibrated forecast from history's last close, as _store takes it: median,
    bands, mean and sd of the log return, p_up (RNNForecaster.distribution), and VaR/ES."""
    dist = model.distribution(history, days=K, n_paths=n_paths, seed=seed)
    levels, var_levels = cases.levels, cases.risk_levels
    risk_sd = dist.risk_sds(var_levels, levels)  # σ_a: its a-quantile is the band's edge
    return (
        dist.last * np.exp(dist.center),
        dist.bands(levels, var_levels),
        dist.center,
        dist.sd,
        dist.p_up,
        risk_sd,
    )


def _gaussian_forecast(last: np.ndarray, mean: np.ndarray, sd: np.ndarray, cases: Cases):
    """From mean and sd (k, K) of the log return at origins with closes last (k,): as _store takes it."""
    p = last[:, None]
    zs = {L: z((1 + L) / 2) for L in cases.levels}  # z_{(1+L)/2}
    bands = {L: (p * np.exp(mean - zs[L] * sd), p * np.exp(mean + zs[L] * sd)) for L in zs}
    p_up = stats.norm.cdf(mean / sd)  # P(x > 0) for x ~ N(mean, sd²)
    return p * np.exp(mean), bands, mean, sd, p_up, {a: sd for a in cases.risk_levels}


def _store(cases: Cases, rows, model: str, median, bands, mean, sd, p_up, risk_sd) -> None:
    cases.point[model][rows] = median
    for level in cases.levels:
        cases.lower[model, level][rows], cases.upper[model, level][rows] = bands[level]
    cases.mean[model][rows] = mean
    cases.sd[model][rows] = sd
    cases.p_up[model][rows] = p_up
    for a, sd_a in risk_sd.items():
        var, es = var_es(mean, sd_a, a)  # long position, from N(mean, σ_a²)
        cases.var[model, a][rows], cases.es[model, a][rows] = var, es
        cases.risk_sd[model, a][rows] = sd_a


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
    levels=LEVELS,
    var_levels=VAR_LEVELS,
) -> BacktestResult:
    """Walk forward over the last `test_days` days; score the RNN and the five yardsticks.

    max_train: at most this many returns (the last ones up to the refit origin) per fit;
    None fits on all history. on_fold(i, n_folds) is called with i = 0 before the first fit
    and i after fold i is done. Raises ForecastError when the options don't fit the history,
    saying what to change.
    fit(train, origin) replaces the per-fold RNNForecaster(cfg).fit(train), with train the
    prices through the fold's first origin (a global model refits on every series cut at
    that origin's date).
    levels: band levels (fractions, e.g. (0.8, 0.95)); var_levels: VaR/ES levels (0.95, 0.99).
    """
    t0 = time.perf_counter()
    cfg = cfg.validate()
    levels, var_levels = _check_levels(levels, "levels"), _check_levels(var_levels, "var_levels")
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
        levels=levels,
        var_levels=var_levels,
    )
    for name in MODELS:
        for store in (cases.point, cases.mean, cases.sd, cases.p_up):
            store[name] = np.full((n, K), np.nan)
        for level in levels:
            cases.lower[name, level] = np.full((n, K), np.nan)
            cases.upper[name, level] = np.full((n, K), np.nan)
        for a in cases.risk_levels:
            for store in (cases.var, cases.es, cases.risk_sd):
                store[name, a] = np.full((n, K), np.nan)

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
            forecast = _gaussian_forecast(adj[idx[j0:j1]], mean, sd, cases)
            _store(cases, slice(j0, j1), name, *forecast)
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
            _store(cases, j, "rnn", *_rnn_forecast(model, history, K, n_paths, seed + i, cases))
        if on_fold:
            on_fold(f + 1, len(starts))

    scores, best = score(cases)
    best_variance = risk_scores(cases, scores, seed)
    basel = {m: basel_of(cases, m) for m in scores}
    options = {
        "horizon": horizon,
        "refit_every": refit_every,
        "test_days": test_days,
        "max_train": max_train,
        "n_paths": n_paths,
        "seed": seed,
        "levels": list(levels),
        "var_levels": list(var_levels),
        "config": cfg.to_dict(),
    }
    return BacktestResult(
        origins=pd.DatetimeIndex(prices.index[idx]),
        metrics=scores,
        folds=folds,
        verdict=verdict(scores, best),
        risk_verdict=risk_verdict(scores, basel, best_variance, var_levels),
        wall_time=time.perf_counter() - t0,
        options=options,
        cases=cases,
        best_baseline=best,
        ticker=ticker,
        basel=basel,
        best_variance=best_variance,
    )


def _check_levels(values, name: str) -> tuple[float, ...]:
    """Sorted levels, each in (0.5, 0.999) and given once; ForecastError otherwise."""
    out = tuple(sorted(float(v) for v in values))
    if not out or not all(0.5 < v < 0.999 for v in out) or len(set(out)) != len(out):
        raise ForecastError(f"{name} must be distinct fractions in (0.5, 0.999), got {values}")
    return out


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
            for level in cases.levels:
                lo, up = cases.lower[name, level][ok, k], cases.upper[name, level][ok, k]
                pct = percent(level)
                row[f"coverage_{pct}"] = metrics.coverage(y, lo, up)
                row[f"interval_score_{pct}"] = metrics.interval_score(y, lo, up, alpha=1 - level)
            # the widest band's Winkler score, the one the verdict and summaries compare
            row["interval_score"] = row[f"interval_score_{percent(cases.levels[-1])}"]
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
            ref = out[best][k]["interval_score"]  # 0 on constant prices: no ratio
            row["interval_score_vs_best"] = row["interval_score"] / ref if ref else math.nan
            row["dm_crps_stat"], row["dm_crps_p_value"] = stat_p  # < 0: lower CRPS than best
    return out, best


def risk_scores(cases: Cases, scores: dict[str, list[dict]], seed: int = 0) -> str:
    """Add each model's risk backtests to its rows in `scores` (per horizon); return the
    yardstick with the least mean QLIKE ("best variance"), which the DM test on QLIKE uses.

    Row keys per VaR level a (e.g. 95): var_95_exceed, var_95_n, var_95_rate (all cases);
    var_95_tested (the non-overlapping cases the tests use), kupiec_95_p, ind_95_p, cc_95_p,
    es_95_z2, es_95_z2_p. Per row: qlike and mse_var of sd² against the squared log return,
    qlike_vs_best (the difference from the best variance yardstick's; < 0: lower),
    dm_qlike_stat, dm_qlike_p_value."""
    K = cases.y.shape[1]
    models = [m for m in MODELS if m in cases.point]
    x_all = cases.log_return  # (n, K)
    qlike = {m: [] for m in models}
    for k in range(K):
        h = k + 1
        ok = np.isfinite(cases.y[:, k])
        x = x_all[ok, k]
        X = np.expm1(x)  # the long position's return
        sub = riskbacktests.non_overlapping(int(ok.sum()), h)
        for name in models:
            row = scores[name][k]
            mean, sd = cases.mean[name][ok, k], cases.sd[name][ok, k]
            for a in cases.var_levels:
                var, es = cases.var[name, a][ok, k], cases.es[name, a][ok, k]
                sd_a = cases.risk_sd[name, a][ok, k]
                hit = X < -var  # the loss exceeded VaR_a
                p = 1.0 - a
                pct = percent(a)
                row[f"var_{pct}_exceed"] = int(hit.sum())
                row[f"var_{pct}_n"] = int(hit.size)
                row[f"var_{pct}_rate"] = float(hit.mean()) if hit.size else math.nan
                row[f"var_{pct}_tested"] = int(sub.size)
                row[f"kupiec_{pct}_p"] = riskbacktests.kupiec(hit[sub], p)[1]
                ch = riskbacktests.christoffersen(hit[sub], p)
                row[f"ind_{pct}_p"], row[f"cc_{pct}_p"] = ch["p_ind"], ch["p_cc"]
                m_s, s_s = mean[sub], sd_a[sub]

                def simulate(rng, S, m_s=m_s, s_s=s_s):  # P&L drawn from the forecasts
                    return np.expm1(m_s + s_s * rng.standard_normal((S, m_s.size)))

                z2, z2_p = riskbacktests.z2_test(
                    X[sub], var[sub], es[sub], p, simulate, seed=[seed, k, int(a * 1000)]
                )
                row[f"es_{pct}_z2"], row[f"es_{pct}_z2_p"] = z2, z2_p
            y2 = x**2  # one proxy for every model, as Patton's robustness needs
            q = riskbacktests.qlike_cases(y2, sd**2)
            qlike[name].append(q)
            row["qlike"] = float(np.mean(q))
            row["mse_var"] = float(np.mean(riskbacktests.mse_cases(y2, sd**2)))
    yard = [b for b in BASELINES if b in qlike]
    best = min(yard, key=lambda b: np.mean([np.mean(q) for q in qlike[b]]))
    for name in models:
        for k, row in enumerate(scores[name]):
            row["qlike_vs_best"] = row["qlike"] - scores[best][k]["qlike"]  # < 0: better
            stat_p = metrics.diebold_mariano_losses(qlike[name][k], qlike[best][k], k + 1)
            row["dm_qlike_stat"], row["dm_qlike_p_value"] = stat_p
    return best


def basel_of(cases: Cases, model: str) -> dict:
    """The Basel traffic light of a model's one-day 99% VaR over the last 250 origins (all of
    them when fewer): exceptions, days, zone (riskbacktests.basel_zone on that many days)."""
    x = cases.log_return[:, 0]
    ok = np.isfinite(x)
    X, var = np.expm1(x[ok]), cases.var[model, BASEL_LEVEL][ok, 0]
    last = slice(-riskbacktests.BASEL_DAYS, None)
    hit = X[last] < -var[last]
    k, n = int(hit.sum()), int(hit.size)
    return {"exceptions": k, "days": n, "zone": riskbacktests.basel_zone(k, n)}


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


def _p(value: float) -> str:
    return "–" if value != value else f"{value:.2f}"


def risk_verdict(scores: dict[str, list[dict]], basel: dict, best_variance: str, var_levels) -> str:
    """Plain words on the RNN's risk forecasts at one day: VaR exceedances and their tests at
    each level, the Basel zone, the ES test, and QLIKE against the best variance yardstick."""
    r1 = scores["rnn"][0]
    parts = []
    for a in var_levels:
        p = percent(a)
        n, k = r1[f"var_{p}_n"], r1[f"var_{p}_exceed"]
        parts.append(
            f"1-day VaR {p}% exceeded on {k} of {n} days ({r1[f'var_{p}_rate']:.1%}, "
            f"expected {1 - a:.1%}; Kupiec p={_p(r1[f'kupiec_{p}_p'])}, Christoffersen cc "
            f"p={_p(r1[f'cc_{p}_p'])}; ES {p}% Z2 {r1[f'es_{p}_z2']:+.2f}, "
            f"p={_p(r1[f'es_{p}_z2_p'])})"
        )
    b = basel.get("rnn")
    if b:
        parts.append(
            f"Basel {b['zone']} ({b['exceptions']} exceptions of the 99% VaR in {b['days']} days)"
        )
    rows = scores["rnn"]
    dq = [r["qlike_vs_best"] for r in rows]
    ps = [r["dm_qlike_p_value"] for r in rows]
    better = [r["horizon"] for r in rows if _beats(r, "dm_qlike")]
    worse = [r["horizon"] for r in rows if _worse(r, "dm_qlike")]
    where = (f"; lower at {_days(better)}" if better else "") + (
        f"; higher at {_days(worse)}" if worse else ""
    )
    parts.append(
        f"variance forecasts: QLIKE {_num(dq, '+.3f')} vs {best_variance} "
        f"(DM p={_num(ps, '.2f')}{where or '; no significant difference'})"
    )
    return "RNN risk: " + "; ".join(parts)


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
    pcts = sorted((k[9:] for k in rnn[0] if k.startswith("coverage_")), key=float, reverse=True)
    cov = [f"{np.mean([r[f'coverage_{p}'] for r in rnn]):.1%}" for p in pcts]  # widest first
    bands = f"intervals: {cov[0]} of cases inside the {pcts[0]}% band" + "".join(
        f", {c} inside the {p}% band" for c, p in zip(cov[1:], pcts[1:], strict=True)
    )
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
