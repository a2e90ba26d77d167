"""One ticker in memory: fit a model into a model file, and forecast from one.

The use cases every door shares, with no data directory and no terminal inside: `api` calls
them in process after reading the files, and the universe workers (forecast/universe/many.py)
call them on what the parent read for them. Notices leave through callbacks:

    on_epoch(Epoch)     one record per finished epoch
    on_notice(text)     anything worth one line to the user (e.g. the first run compiles)

    fit_model(ticker, frame, config)            -> FittedModel: estimator + its model file
    predict_frame(ticker, frame, params, meta, days)          -> Prediction (own model)
    predict_global_frame(ticker, frame, params, meta, days)   -> Prediction (global model)

One verb per meaning: `predict*` is a use case (prices and a model file -> a Prediction with
its warnings and provenance), `forecast` a fitted estimator's table by trading date, and an
estimator's `distribution` (`predictive`, as a tuple) the calibrated distribution itself.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast import calendars, prices
from forecast.config import CAL_HORIZON, TrainConfig
from forecast.errors import ForecastError, UsageError
from forecast.jsonfile import plain
from forecast.model import checkpoint, globalmodel, kernels
from forecast.model.estimator import LEVELS, RNNForecaster, percent
from forecast.model.features import check_features, split_days
from forecast.model.heads import HEADS
from forecast.model.predictive import VAR_LEVELS
from forecast.model.train import Epoch
from forecast.model.valueatrisk import TRADING_DAYS, sessions_per_year
from forecast.prices.schema import exchange_of

PLOT_DAYS = 120  # past days whose fitted sigma a prediction keeps for its volatility chart
STALE_SESSIONS = 3  # cached prices older than this many sessions get a warning
COMPILE_NOTICE = "compiling the Numba kernels (first run only, about 10 s)…"

Notice = Callable[[str], None] | None


# --- fit -----------------------------------------------------------------------------------------


def compile_notice(on_notice: Notice) -> None:
    """Tell the user the kernels will compile when Numba's cache does not hold them yet."""
    if on_notice is not None and not kernels.is_cached():
        on_notice(COMPILE_NOTICE)


def fit(
    frame: pd.DataFrame,
    config: TrainConfig | None = None,
    on_epoch: Callable[[Epoch], None] | None = None,
    on_notice: Notice = None,
) -> RNNForecaster:
    """Fit an RNN (default options: TrainConfig()) on one price frame, the schema of
    forecast.prices (Open, High, Low, Close, Adj Close, Volume, ... by date); the inputs are
    checked before the compile notice."""
    config = config or TrainConfig()
    _, note = check_features(frame, config.features, config.loss)
    if note and on_notice is not None:
        on_notice(note)
    split_days(len(frame) - 1, config.window, config.val_fraction)  # enough days for the window
    compile_notice(on_notice)
    return RNNForecaster(config).fit(frame, on_epoch=on_epoch)


def provenance(ticker: str, frame: pd.DataFrame, config: TrainConfig) -> dict:
    """What a model file records besides its weights: where its prices came from and with what."""
    return {
        "ticker": ticker,
        "exchange": exchange_of(ticker, frame),
        "fingerprint": prices.fingerprint(frame),
        "rows": len(frame),
        "versions": checkpoint.package_versions(),
        "seed": config.seed,
    }


@dataclass
class FittedModel:
    """A fitted estimator and the model file it makes: weights (params) and sidecar (meta)."""

    model: RNNForecaster
    params: dict[str, np.ndarray]
    meta: dict


def fit_model(
    ticker: str,
    frame: pd.DataFrame,
    config: TrainConfig,
    on_epoch: Callable[[Epoch], None] | None = None,
    on_notice: Notice = None,
) -> FittedModel:
    """Fit one ticker's RNN on `frame` and assemble its model file: the estimator's checkpoint
    plus where its prices came from (provenance). The one place a model file is assembled."""
    model = fit(frame, config, on_epoch, on_notice)
    params, meta = model.to_checkpoint()
    meta.update(provenance(ticker, frame, config))
    return FittedModel(model, params, meta)


# --- forecast ------------------------------------------------------------------------------------


@dataclass
class Prediction:
    """One ticker's forecast: `table` indexed by the next trading dates (median, lower/upper
    per band level, p_up, coverage, ...), the history it started from, warnings, and which
    model made it (model_label); to_json() is `predict --json`."""

    ticker: str
    last_date: pd.Timestamp
    last_close: float
    loss: str  # the model's head
    # indexed by trading date, one row per day (RNNForecaster.forecast): median, lower/upper_L,
    # p_up, coverage_L; sigma, sigma_ann, sigma_cum, sigma_cum_ann, move; var_a, es_a and
    # their _price for each VaR level a
    table: pd.DataFrame
    history: pd.Series  # every cached close (Adj Close) up to last_date; charts take their tail
    warnings: list[str] = field(default_factory=list)
    trained_through: str = ""
    currency: str | None = None  # when the price source said
    calibrated_days: int = CAL_HORIZON  # horizons with their own conformal factor
    levels: tuple[float, ...] = LEVELS  # band levels, narrowest first
    var_levels: tuple[float, ...] = VAR_LEVELS  # () for a head without a distribution
    short: bool = False  # VaR and ES of a short position (else long)
    sigma_1y: float = float("nan")  # realised sd of the last year's (Y sessions) returns
    fitted_sigma: pd.Series | None = None  # the model's own one-day sigma on past days (plot)
    model_name: str = ""  # the model that made it: the ticker (its own model) or a global name
    model_kind: str = "own"  # "own" or "global"
    model_through: str = ""  # the last price day it learned from (a global model's cut date)
    run: dict = field(default_factory=dict)  # forecast's version, seed, paths, days, exchange

    @property
    def model_label(self) -> str:
        """Which model made this forecast, in one phrase: 'AAPL (own model), trained through
        2023-09-21' or 'GLOBAL (global model), trained through 2023-05-01'."""
        kind = "global model" if self.model_kind == "global" else "own model"
        return f"{self.model_name} ({kind}), trained through {self.model_through or '?'}"

    @property
    def p_up_label(self) -> str:
        return HEADS[self.loss].p_up_label

    @property
    def zero_mean(self) -> bool:
        """The head forecasts spread, not direction: its median and P(up) say nothing."""
        return HEADS[self.loss].zero_mean

    def risk_frame(self) -> pd.DataFrame:
        """The tidy risk view: per day and VaR level, one row (date, h, level, position,
        sigma, sigma_cum, var, es, var_price, es_price)."""
        rows = []
        tb = self.table
        for h, (date, r) in enumerate(tb.iterrows(), start=1):
            for a in self.var_levels:
                p = percent(a)
                rows.append(
                    {
                        "date": date,
                        "h": h,
                        "level": a,
                        "position": "short" if self.short else "long",
                        "sigma": r["sigma"],
                        "sigma_cum": r["sigma_cum"],
                        "var": r[f"var_{p}"],
                        "es": r[f"es_{p}"],
                        "var_price": r[f"var_{p}_price"],
                        "es_price": r[f"es_{p}_price"],
                    }
                )
        return pd.DataFrame(rows)

    def fan_series(self, history_days: int | None = None) -> dict:
        """The arrays a fan chart draws (fanchart.fan_chart and plot.write_fan take them)."""
        tb = self.table
        h = self.history if history_days is None else self.history.iloc[-history_days:]
        inner, outer = percent(self.levels[0]), percent(self.levels[-1])  # narrowest, widest
        return {
            "history_dates": h.index,
            "history_closes": h.to_numpy(),
            "forecast_dates": tb.index,
            "median": tb["median"].to_numpy(),
            "lower_80": tb[f"lower_{inner}"].to_numpy(),
            "upper_80": tb[f"upper_{inner}"].to_numpy(),
            "lower_95": tb[f"lower_{outer}"].to_numpy(),
            "upper_95": tb[f"upper_{outer}"].to_numpy(),
        }

    def to_json(self) -> dict:
        rows = []
        for date, r in self.table.iterrows():
            rows.append(
                {"date": date.strftime("%Y-%m-%d")} | {k: plain(r[k]) for k in self.table.columns}
            )
        return {
            "ticker": self.ticker,
            "last_date": self.last_date.strftime("%Y-%m-%d"),
            "last_close": self.last_close,
            "currency": self.currency,
            "model": {
                "name": self.model_name,
                "kind": self.model_kind,
                "loss": self.loss,
                "trained_through": self.trained_through,
                "through": self.model_through,
            },
            "run": plain(self.run),
            "p_up_meaning": HEADS[self.loss].p_up_meaning,
            "forecasts_direction": not self.zero_mean,
            "levels": [float(L) for L in self.levels],
            "var_levels": [float(a) for a in self.var_levels],
            "position": "short" if self.short else "long",
            "sigma_1y": plain(self.sigma_1y),
            "forecasts": rows,
            "warnings": self.warnings,
        }


def predict_frame(
    ticker: str,
    frame: pd.DataFrame,
    params: dict,
    meta: dict,
    days: int,
    n_paths: int = 2000,
    seed: int | None = None,
    today: dt.date | None = None,
    **risk,
) -> Prediction:
    """predict() for a saved model (params, meta) and prices already in memory: what a worker
    with no access to the data directory runs. risk: levels, var_levels, short (_prediction)."""
    try:
        model = RNNForecaster.from_checkpoint(params, meta)
        fingerprint = str(meta["fingerprint"])
        exchange = exchange_of(ticker, frame, meta.get("exchange"))
    except (ForecastError, KeyError, TypeError, ValueError, IndexError) as e:
        raise ForecastError(
            f"the model file for {ticker} is inconsistent ({e}); retrain with `forecast train {ticker}`"
        ) from None
    warnings = _freshness_warnings(
        ticker, frame, model, fingerprint, exchange, today or dt.date.today()
    )
    pred = _prediction(
        ticker, frame, model, exchange, days, n_paths, seed, warnings, meta["last_fit_date"], **risk
    )
    pred.model_name, pred.model_kind = ticker, "own"
    pred.model_through = str(meta["last_fit_date"])
    return pred


def predict_global_frame(
    ticker: str,
    frame: pd.DataFrame,
    params: dict,
    meta: dict,
    days: int,
    n_paths: int = 2000,
    seed: int | None = None,
    today: dt.date | None = None,
    **risk,
) -> Prediction:
    """predict_frame() with a global model (params, meta), for a ticker it saw or not."""
    model = globalmodel.for_ticker(params, meta, ticker, frame)
    exchange = exchange_of(ticker, frame)
    warnings = _stale_warnings(ticker, frame, exchange, today or dt.date.today())
    trained = f"{meta['name']} (global, cut {meta['cut_date']})"
    pred = _prediction(
        ticker, frame, model, exchange, days, n_paths, seed, warnings, trained, **risk
    )
    pred.model_name, pred.model_kind = str(meta["name"]), "global"
    pred.model_through = str(meta["cut_date"])
    return pred


def risk_levels(loss: str, var_levels) -> tuple[float, ...]:
    """The VaR levels to show for a head: VAR_LEVELS by default, none for a head without a
    distribution; asking one for VaR is a usage error."""
    if not HEADS[loss].has_distribution:
        if var_levels:
            raise UsageError(
                f"--var: a {loss} model forecasts no distribution to read VaR from; "
                "train with --loss vol, gaussian or mse"
            )
        return ()
    return VAR_LEVELS if var_levels is None else tuple(var_levels)


def realised_sigma(closes: pd.Series, days: int = TRADING_DAYS) -> float:
    """sqrt(mean r²) of the last `days` daily log returns: the one-year volatility a screen
    compares the forecast sigma with (zero mean, like the vol head)."""
    r = np.diff(np.log(closes.to_numpy(np.float64)[-(days + 1) :]))
    return float(np.sqrt(np.mean(r**2))) if r.size else float("nan")


def _prediction(
    ticker,
    frame,
    model,
    exchange,
    days,
    n_paths,
    seed,
    warnings,
    trained_through,
    levels=LEVELS,
    var_levels=None,
    short=False,
):
    var_levels = risk_levels(model.config.loss, var_levels)
    warnings = warnings + _fallback_warnings(ticker, model.calibration_, levels, var_levels)
    table = forecast(
        model,
        frame,
        days,
        exchange,
        n_paths=n_paths,
        seed=seed,
        levels=levels,
        var_levels=var_levels,
        short=short,
    )
    return Prediction(
        ticker=ticker,
        last_date=frame.index[-1],
        last_close=float(frame["Adj Close"].iloc[-1]),
        loss=model.config.loss,
        table=table,
        history=frame["Adj Close"],
        warnings=warnings,
        trained_through=trained_through,
        calibrated_days=model.calibration_.horizon,
        levels=tuple(levels),
        var_levels=var_levels,
        short=short,
        sigma_1y=realised_sigma(frame["Adj Close"], sessions_per_year(exchange)),
        fitted_sigma=model.fitted_sigma(frame, PLOT_DAYS),
        currency=frame.attrs.get("currency"),
        run={
            "forecast_version": _version(),
            "seed": model.config.seed if seed is None else seed,
            "paths": n_paths,
            "days": days,
            "exchange": exchange,
            "levels": list(levels),
            "var_levels": list(var_levels),
            "short": short,
        },
    )


def _version() -> str:
    from forecast import __version__

    return __version__


def forecast(
    model: RNNForecaster,
    frame: pd.DataFrame,
    days: int = 5,
    exchange: str = "XNYS",
    n_paths: int = 2000,
    seed: int | None = None,
    levels=LEVELS,
    var_levels=(),
    short: bool = False,
) -> pd.DataFrame:
    """A fitted model's forecast from the last day of one price frame, indexed by the next
    `days` sessions of `exchange` (a MIC, e.g. calendars.exchange_for(ticker)): the columns
    of RNNForecaster.forecast for band `levels` and VaR `var_levels`."""
    dates = calendars.next_trading_days(frame.index[-1], days, exchange)
    return model.forecast(
        frame,
        days,
        dates=dates,
        n_paths=n_paths,
        seed=seed,
        levels=levels,
        var_levels=var_levels,
        short=short,
        exchange=exchange,  # the dates are given; the exchange still sets the annualisation
    )


def _fallback_warnings(ticker, calibration, levels, var_levels) -> list[str]:
    """Say when a level asked for has no conformal factor: the model file predates the kept
    validation scores, so that level's band (or VaR) uses the Gaussian factor."""
    from forecast.model.predictive import band_level

    if calibration.scores is not None:
        return []
    wanted = sorted({*levels, *(band_level(a) for a in var_levels)})
    missing = [L for L in wanted if not any(abs(L - c) < 1e-9 for c in calibration.levels)]
    if not missing:
        return []
    names = ", ".join(f"{L * 100:.10g}%" for L in missing)
    return [
        f"the {ticker} model file keeps no validation scores, so the {names} band"
        f"{'s use' if len(missing) > 1 else ' uses'} the Gaussian factor instead of a conformal "
        f"one (VaR a% reads the (2a − 1)% band); run `forecast train {ticker}` to calibrate "
        "every level"
    ]


def _stale_warnings(ticker, frame, exchange, today) -> list[str]:
    """Say when the cached prices end more than STALE_SESSIONS sessions before today."""
    last = frame.index[-1]
    behind = calendars.trading_days_between(last, pd.Timestamp(today), exchange)
    if behind <= STALE_SESSIONS:
        return []
    return [
        f"cached {ticker} prices end {last:%Y-%m-%d}, {behind} trading days ago; "
        f"forecasts start from there (run `forecast fetch {ticker}` for newer prices)"
    ]


def _freshness_warnings(ticker, frame, model, fingerprint, exchange, today) -> list[str]:
    """Say when the cache is old, or no longer the data the model was trained on."""
    out = _stale_warnings(ticker, frame, exchange, today)
    trained = frame.loc[: model.last_fit_date_]
    if (
        trained.empty
        or trained.index[-1] != model.last_fit_date_
        or prices.fingerprint(trained) != fingerprint
    ):
        out.append(
            f"the cached {ticker} prices differ from those the model was trained on "
            f"(new split or dividend adjustment, or another range?); run `forecast train {ticker}`"
        )
    elif len(frame) > len(trained):
        out.append(
            f"the model was trained through {model.last_fit_date_:%Y-%m-%d}; "
            f"{len(frame) - len(trained)} newer days are used as inputs only "
            f"(run `forecast train {ticker}` to learn from them)"
        )
    return out
