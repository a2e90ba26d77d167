"""RNNForecaster: fit(prices) -> self, forecast(prices, days) -> calibrated price paths by date.

The familiar estimator shape (statsforecast, sktime): the constructor stores options, `fit`
sets learned attributes ending in `_`, and forecasting before fitting says what to do.
Multi-step forecasts are ancestral samples: each sampled return is fed back as the next
day's input, many seeded paths at once; bands come from the paths, widened or narrowed by
conformal factors measured on the model's own out-of-sample (validation) errors.

The vol head (the default) is an ensemble of cfg.ensemble RNNs, theta_ (M, n_params), each
predicting log sigma = EWMA log-sd + a learned correction, mean 0. Its h-day forecast:

    cumvar_h = mean over paths and members of sum_{k<=h} sigma_k^2   (sample_vol: every
               input fed from the sampled return; units of sd^2)
    sd_h     = sd * sqrt(f * cumvar_h),  f = the scale with the least mean CRPS of the
               day-1 validation errors (a grid 0.4..2)
    median   = the last price (mean 0);  P(up) = 1/2 (a symmetric distribution)
    band     = last * exp(+-c_{L,h} sd_h), c_{L,h} split-conformal factors from every
               validation origin, shrunk toward those of unit-variance t(6) errors at the
               model's own scale sqrt(cumvar_h) (forecast/model/conformal.py, Prior): at
               95% the ~27 validation cases beyond the quantile are too few to trust alone

The scale f weighs the validation origins by recency, halving a year (250 sessions) back
(conformal.recency_weights): volatility's regimes drift, and on both halves of the universe
the weights lowered CRPS on about three series in four (README, "Issue 15", round 5). The
bands do not depend on f (each factor is measured in units of sqrt(f) sd_h, and the prior
sits at the unscaled sd_h), so they are as before; weighting the factors too was measured
and not kept.

The coverage stored with the factors is held out: each half of the validation origins is
scored with the factors the other half set (two-fold cross-conformal), and the two averaged.

The fallback to EGARCH: an EGARCH(1,1) (forecast.model.classical, fitted by arch on the
training part's returns only) gives its own h-day variance cumvar^eg_h at every validation
origin, read from the same days the RNN reads. Both are judged on the validation days' h-day
errors, each at its least-CRPS scale (egarch_vs_rnn: EGARCH's CRPS over the RNN's, averaged
over days 1-5). When EGARCH is better by more than FALLBACK_MARGIN (1%), the model forecasts
with EGARCH's variance instead of the RNN's, scaled and calibrated as above:

    cumvar_h = w cumvar^rnn_h + (1 - w) cumvar^eg_h,   w = 0 if egarch_vs_rnn < 0.99 else 1

So on its validation days the model is never worse than EGARCH by more than 1% of CRPS. The
choice, the ratio and EGARCH's parameters are stored in the model file; train's summary says
which variance was chosen.

The combination without High/Low: when the RNN reads no daily range (close-only prices, or
--features without range and parkinson) and the two tie on validation (egarch_vs_rnn within
1% either way), w = 1/2: the simple average of the two variances, calibrated as above.
Without the range inputs the RNN's variance and EGARCH's are about equally good and their
errors differ, so the average beats either (measured on both halves of the universe's
close-only series; README, "Issue 15"). A validation that clearly prefers one (an EGARCH fit
on too few days can be far worse) takes that one alone. With the range inputs the RNN alone
measured better, and weights chosen on the validation days did not carry over to the test
days, so neither is used:

    w = 0 if egarch_vs_rnn < 0.99;  else 1/2 if no range inputs and egarch_vs_rnn <= 1.01;  else 1
"""

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.config import CAL_HORIZON, TrainConfig
from forecast.errors import ForecastError
from forecast.model.classical import EGARCH
from forecast.model.conformal import (
    SCALE_GRID,
    Calibration,
    Prior,
    gaussian_factor,
    held_out_calibration,
    mean_crps_by_scale,
    min_crps_scale,
    normalised_scores,
)
from forecast.model.features import (
    RANGE_FEATURES,
    SEASON_GAP,
    SEASON_LAGS,
    VOL_CODES,
    Scaler,
    VolScaler,
    build_dataset,
    daily_features,
    log_range,
    random_walk_terms,
    usable_features,
    vol_dataset,
    vol_inputs,
)
from forecast.model.heads import HEADS
from forecast.model.kernels.rnn import (
    GATES,
    from_member_params,
    last_outputs,
    sample_returns,
    sample_vol,
    single_threaded_blas,
    to_params,
)
from forecast.model.predictive import Predictive
from forecast.model.train import (
    Epoch,
    fit_ensemble,
    fit_theta,
    map_members,
    member_epochs,
    member_losses,
)
from forecast.model.valueatrisk import sessions_per_year

LEVELS = (0.8, 0.95)  # band levels, narrowest first
CAL_PATHS = 200  # paths per origin: the spread s is then within ~5% (1/sqrt(2P)) of its limit
CAL_STRIDE = 1  # every validation day is an origin: its one-day case overlaps no other
N_QUANTILES = 101  # |return| distribution kept for the direction head's magnitudes
VOL_CAL_PATHS = 50  # vol head: paths per member and origin; cumvar averages them (no quantiles)
VOL_WARMUP = 250  # vol head: days read before the window so the EWMAs forget their start (0.94^250)
# ... and the season input's look back, in rows: its longest lag and gap, a row a day at most
SEASON_READS = int(SEASON_LAGS.max()) + SEASON_GAP + 1

PRIOR_CASES = 40.0  # vol head: a band factor's prior is worth 40 cases beyond the quantile
PRIOR_NU = 6.0  # ... of unit-variance t(6) errors (README "Issue 15": n0 12/40, nu 5/6/inf)
HALF_LIFE_DAYS = 250  # vol head: a validation case's weight in f halves every 250 sessions (a year)

FALLBACK_SCALES = SCALE_GRID[::4]  # 21 scales: each model is judged at its best scale
FALLBACK_HORIZONS = 5  # the days the fallback compares the two models on
FALLBACK_MARGIN = 0.01  # EGARCH is chosen only when at least 1% better: not on noise
COMBINED_WEIGHT = 0.5  # the RNN's weight without High/Low, where the two tie: a simple average


def best_scale_crps(y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(H,) per horizon the least mean CRPS of N(0, f v) at outcomes y over f in
    FALLBACK_SCALES; y, v (n, H), y NaN past the data (ignored). Scale-free on purpose: the
    scale is set afterwards (f, the conformal factors), so only the shape across origins counts."""
    out = np.full(y.shape[1], np.nan)
    for h in range(y.shape[1]):
        ok = np.isfinite(y[:, h])
        if ok.any():
            out[h] = min(mean_crps_by_scale(y[ok, h], np.sqrt(v[ok, h]), FALLBACK_SCALES))
    return out


def rnn_weight(egarch_vs_rnn: float, reads_range: bool) -> float:
    """w, the RNN's weight in the variance (module docstring): 0 where EGARCH was at least 1%
    better on validation (the fallback), 1/2 where the RNN reads no High/Low and the two tie
    within 1%, else 1 (also for NaN: nothing to compare on)."""
    if egarch_vs_rnn < 1.0 - FALLBACK_MARGIN:
        return 0.0
    if not reads_range and egarch_vs_rnn <= 1.0 + FALLBACK_MARGIN:
        return COMBINED_WEIGHT
    return 1.0


def egarch_vs_rnn(y: np.ndarray, v_rnn: np.ndarray, v_eg: np.ndarray) -> float:
    """EGARCH's validation CRPS over the RNN's, each at its best scale, averaged over days
    1..FALLBACK_HORIZONS: y, v_rnn, v_eg (n, H) h-day outcomes and the two models' variances."""
    H = min(FALLBACK_HORIZONS, y.shape[1])
    ratio = best_scale_crps(y[:, :H], v_eg[:, :H]) / best_scale_crps(y[:, :H], v_rnn[:, :H])
    return float(np.nanmean(ratio)) if np.isfinite(ratio).any() else 1.0


def percent(level: float) -> str:
    """A level's column suffix: 0.8 -> "80", 0.975 -> "97.5" (forecast table, JSON, export)."""
    return f"{level * 100:.10g}"


def calibrated_bands(cum: np.ndarray, last: float, calibration: Calibration):
    """Median price and conformal bands from sampled cumulative log returns cum (paths, days).

    Returns (median (days,), {level: (lower, upper)}, s (days,)): the band at horizon h is
    last * exp(m_h ± w_{L,h}), w = c_{L,h} s_h nested and widening (forecast.model.predictive).
    """
    m, s = np.median(cum, axis=0), cum.std(axis=0)  # (days,) of log(p_{o+h} / p_o)
    dist = Predictive(last, m, s, s, np.full(len(m), np.nan), calibration)
    return last * np.exp(m), dist.bands(LEVELS), s


def paths_distribution(
    cum: np.ndarray, ps: np.ndarray, last: float, calibration, direction: bool
) -> Predictive:
    """The calibrated forecast from sampled paths cum (P, days): centre their median, spread
    their std, sd the 95% band's half-width / z_0.975 (the Gaussian it implies); p_up the
    paths' share above 0, or the mean step P(up) ps of a direction head."""
    m, s = np.median(cum, axis=0), cum.std(axis=0)  # (days,) of log(p_{o+h} / p_o)
    p_up = ps.mean(axis=0) if direction else (cum > 0).mean(axis=0)
    dist = Predictive(last, m, s, s, p_up, calibration, cum)
    dist.sd = dist.half_widths(LEVELS)[0.95] / gaussian_factor(0.95)
    return dist


def summary(dist: Predictive, levels=LEVELS):
    """(median price, {level: (lower, upper)}, mean, sd, p_up, cum) of a Predictive."""
    median = dist.last * np.exp(dist.center)
    return median, dist.bands(levels), dist.center, dist.sd, dist.p_up, dist.cum


def realised_sums(returns: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """(n, horizon): r_{k+1} + ... + r_{k+h} for origins k (n,), NaN past the last return."""
    N = len(returns)
    csum = np.concatenate([[0.0], np.cumsum(returns)])
    h = np.arange(1, horizon + 1)
    end = origins[:, None] + h[None, :]  # last day of each horizon
    out = np.full(end.shape, np.nan)
    ok = end <= N - 1
    start = np.broadcast_to(origins[:, None] + 1, end.shape)
    out[ok] = csum[end[ok] + 1] - csum[start[ok]]
    return out


class RNNForecaster:
    """An Elman RNN over daily log returns, with a Gaussian, MSE or direction head.

    One estimator per head family, behind one interface (fit, predictive, forecast,
    to_checkpoint, from_checkpoint): this class samples paths from a head's per-step
    distribution; VolForecaster (the vol head, the default) forecasts a variance path.
    RNNForecaster(config) makes the one config.loss needs, so RNNForecaster(TrainConfig())
    is a VolForecaster.
    """

    def __new__(cls, config: TrainConfig | None = None):
        if cls is RNNForecaster and (config or TrainConfig()).loss == "vol":
            cls = VolForecaster
        return super().__new__(cls)

    def __getnewargs__(self):  # copies and pickles make the same class from the same config
        return (self.config,)

    def __init__(self, config: TrainConfig | None = None):
        self.config = config or TrainConfig()  # checked when it was made

    # --- fitting ---------------------------------------------------------------------------

    def fit(
        self, prices: pd.DataFrame, on_epoch: Callable[[Epoch], None] | None = None
    ) -> "RNNForecaster":
        """Train on `prices` (the schema of forecast.prices), validate, calibrate. Returns self."""
        with single_threaded_blas():  # bit-reproducible: no BLAS thread-count effects
            return self._fit(prices, on_epoch)

    def _fit(self, prices, on_epoch):
        cfg = self.config
        self.notes_ = []
        ds = build_dataset(prices, cfg.features, cfg.window, cfg.loss, cfg.val_fraction)
        result = fit_theta(ds.train, ds.val, cfg, on_epoch)
        self.theta_ = result.theta
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        best = result.best
        self.losses_ = {"train": best.train_loss, "val": best.val_loss}
        return self.adopt(ds, prices)

    @classmethod
    def from_weights(
        cls,
        config: TrainConfig,
        theta: np.ndarray,
        ds,
        prices: pd.DataFrame,
        *,
        losses: dict,
        best_epoch: int = 0,
        member_epochs: list[tuple[int, int]] | None = None,
    ) -> "RNNForecaster":
        """A fitted estimator from weights trained elsewhere and one series' dataset `ds`: how a
        global model gives each ticker a model of its own (its scaler, split facts, random
        walk and calibration), the same estimator a fit on that series would be.

        theta: (n_params,), or (M, n_params) for an ensemble; losses: {"train", "val"} per scored step.
        """
        m = cls(config)
        m.theta_, m.history_, m.best_epoch_, m.losses_ = theta, [], best_epoch, losses
        if member_epochs is not None:
            m.member_epochs_ = member_epochs
        return m.adopt(ds, prices)

    def adopt(self, ds, prices: pd.DataFrame) -> "RNNForecaster":
        """Everything a model takes from its series besides the weights theta_: the scaler,
        split facts, the random walk's validation loss, the spread of an mse head and the
        calibration. A fit calls it after training; from_weights for a global model's ticker."""
        cfg = self.config
        self.D_, self.O_ = len(cfg.features), HEADS[cfg.loss].O
        self.scaler_ = ds.scaler
        self._set_split_facts(ds, prices, ds.split.val_first)
        has_val = len(ds.val[0]) > 0  # a global model's ticker may have no full window after it
        self.baseline_val_loss_ = self._baseline_val_loss(ds) if has_val else float("nan")
        fixed_sigma = HEADS[cfg.loss].fixed_sigma
        if fixed_sigma and not has_val:
            raise ForecastError(
                "no full validation window to measure an mse model's spread on; fetch newer prices"
            )
        self.resid_std_ = self._residual_std(ds) if fixed_sigma else 1.0
        self.calibration_ = self._calibrate(ds)
        return self

    def _set_split_facts(self, ds, prices: pd.DataFrame, val_first: int) -> None:
        """What every fit records of its split: the cut dates (stored in the model file), the
        last price day, the training part's |return| quantiles and the window counts."""
        cut = ds.split.cut
        self.dates_ = {
            "train_first": ds.dates[0],
            "train_last": ds.dates[cut - 1],
            "val_first": ds.dates[val_first],
            "val_last": ds.dates[-1],
        }
        self.last_fit_date_ = prices.index[-1]
        self.abs_return_quantiles_ = np.quantile(
            np.abs(ds.returns[:cut]), np.linspace(0, 1, N_QUANTILES)
        )
        self.n_windows_ = (len(ds.train[0]), len(ds.val[0]))

    def _baseline_val_loss(self, ds) -> float:
        """The random walk's loss per step on the same validation windows, in the model's units.

        A model whose validation loss is not below this has learned nothing a random walk
        does not already know (forecast/model/heads.py says which random walk, per head).
        """
        mean, std = float(self.scaler_.mean[0]), float(self.scaler_.std[0])
        r_train = ds.returns[: ds.split.cut]
        return HEADS[self.config.loss].baseline_loss(ds.val[1], r_train, mean, std)

    def _residual_std(self, ds) -> float:
        """A head without its own sigma (mse): std of validation errors (scaled units)."""
        xv, zv = ds.val
        _, yT = last_outputs(self.theta_, self.D_, self.config.hidden, self.O_, xv)
        return float(np.std(zv[:, -1] - yT[:, 0]))

    def _calibrate(self, ds) -> Calibration:
        """Conformal factors from forecasts made at validation origins, scored on what happened.

        The factors come from the earlier half of the origins; the coverage stored beside them
        is what the calibrated bands achieved on the later half, which did not set them.
        """
        T, N = self.config.window, len(ds.returns)
        origins = np.arange(ds.split.val_first, N - 1, CAL_STRIDE)  # day k: forecast r_{k+1..}
        idx = origins[:, None] - T + 1 + np.arange(T)[None, :]  # (n, T) window ending at k
        cum = self._sample_cumulative(ds.X[idx], CAL_HORIZON, CAL_PATHS, seed=self.config.seed)
        median, scale = np.median(cum, axis=1), cum.std(axis=1)  # (n, h)
        realised = realised_sums(ds.returns, origins, CAL_HORIZON)  # sum r_{k+1..k+h}
        scores = normalised_scores(realised, median, scale)  # (n, CAL_HORIZON)
        return held_out_calibration(scores, LEVELS, "half")

    # --- sampling --------------------------------------------------------------------------

    def fitted_sigma(self, prices: pd.DataFrame, days: int) -> pd.Series | None:
        """The model's past one-day sigmas (VolForecaster); None for heads without one."""
        return None

    def _check_fitted(self):
        if not hasattr(self, "theta_"):
            raise ForecastError("this model is not trained yet; run `forecast train TICKER` first")

    def _sample(self, windows: np.ndarray, days: int, n_paths: int, seed: int):
        """windows (n, T, D) scaled -> rs (n, P, days) sampled log returns, ps (n, P, days) P(up)."""
        cfg, H = self.config, self.config.hidden
        n = windows.shape[0]
        with single_threaded_blas():
            hT, yT = last_outputs(self.theta_, self.D_, H, self.O_, np.ascontiguousarray(windows))
        h0 = np.repeat(hT, n_paths, axis=0)  # (n*P, H): every path starts from its origin's state
        y0 = np.repeat(yT, n_paths, axis=0)
        rng = np.random.default_rng([seed, 2])
        head = HEADS[cfg.loss]
        noise, mags = head.draw_noise(rng, days, n * n_paths, self.abs_return_quantiles_)
        mean, std = float(self.scaler_.mean[0]), float(self.scaler_.std[0])
        rs, ps = sample_returns(
            self.theta_,
            self.D_,
            H,
            self.O_,
            head.kernel_id,
            h0,
            y0,
            noise,
            mags,
            mean,
            std,
            self.resid_std_,
        )
        return rs.reshape(n, n_paths, days), ps.reshape(n, n_paths, days)

    def _sample_cumulative(self, windows, days, n_paths, seed):
        rs, _ = self._sample(windows, days, n_paths, seed)
        return np.cumsum(rs, axis=2)  # (n, P, days) log(price_{k+h} / price_k)

    def scaled_features(self, prices: pd.DataFrame) -> np.ndarray:
        """Daily features of `prices` (N, D), scaled with the training part's statistics."""
        F = daily_features(prices, self.config.features)
        return self.scaler_.transform(F.to_numpy(np.float64))

    @property
    def reads(self) -> int:
        """Price days a forecast needs before its origin: the window."""
        return self.config.window

    def forecast_paths(
        self, prices: pd.DataFrame, days: int, n_paths: int = 2000, seed: int | None = None
    ):
        """Sampled cumulative log returns (P, days) and per-step P(up) (P, days) after prices' last day."""
        self._check_fitted()
        seed = self.config.seed if seed is None else seed
        T = self.config.window
        X = self.scaled_features(prices)
        if len(X) < T:
            raise ForecastError(
                f"the model reads {T} days but only {len(X)} days of prices are cached"
            )
        rs, ps = self._sample(X[None, -T:], days, n_paths, seed)
        return np.cumsum(rs[0], axis=1), ps[0]

    def distribution(
        self, prices: pd.DataFrame, days: int, n_paths: int = 2000, seed: int | None = None
    ) -> Predictive:
        """The calibrated forecast distribution after prices' last day (forecast.model.predictive):
        bands at any level, sigmas, VaR and ES.

        vol head: centre 0, spread = sd = sd_h. Other heads: the paths' median and spread,
        sd = the 95% band's half-width / z_0.975 (the Gaussian it implies).
        """
        self._check_fitted()
        seed = self.config.seed if seed is None else seed
        cum, ps = self.forecast_paths(prices, days, n_paths, seed)
        last = float(prices["Adj Close"].iloc[-1])
        direction = self.config.loss == "direction"
        return paths_distribution(cum, ps, last, self.calibration_, direction)

    def predictive(
        self, prices: pd.DataFrame, days: int, n_paths: int = 2000, seed: int | None = None
    ):
        """The calibrated forecast after prices' last day, each (days,) unless said:
        (median price, {level: (lower, upper)} prices, mean and sd of log(p_{o+h} / p_o),
        p_up, sampled cumulative log returns (P, days)); `distribution` has the rest."""
        return summary(self.distribution(prices, days, n_paths, seed))

    def forecast(
        self,
        prices: pd.DataFrame,
        days: int,
        dates=None,
        n_paths: int = 2000,
        seed: int | None = None,
        levels=LEVELS,
        var_levels=(),
        short: bool = False,
        exchange: str = "XNYS",
    ) -> pd.DataFrame:
        """The forecast distribution of each of the next `days` sessions, one row per day,
        indexed by their dates: `dates` if given, else the sessions of `exchange` (an
        exchange_calendars code such as XNYS, XLON, XTKS) after prices' last day.

        Columns, for each band level L in `levels` (e.g. 80, 95) and VaR level a in
        `var_levels` (e.g. 95, 99), as percentages:

            median          median price (the last close for the vol head: mean 0)
            lower_L upper_L the calibrated band (prices)
            p_up            P(close above the last close) for the vol, gaussian and mse heads
                            (1/2 for the vol head), the model's P(up that day) for direction
            coverage_L      the coverage the band achieved on held-out validation origins at
                            that horizon (NaN beyond the calibrated horizons)
            sigma           sd of the day's log return;  sigma_ann = sigma * sqrt(Y)
            sigma_cum       sd of the h-day log return;  sigma_cum_ann = sigma_cum * sqrt(Y/h)
                            (Y: sessions a year on `exchange`, 252; 365 for 24/7, 260 for 24/5)
            move            last * sigma_cum: the expected move, +-1 sigma in price
            var_a, es_a     Value at Risk and Expected Shortfall of a long (or `short`)
                            position, as loss fractions of the last close
            var_a_price, es_a_price   the same in price

        VaR_a is the lower (short: upper) edge of the band of level 2a - 1, read as a loss
        (forecast.model.valueatrisk).
        """
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged model: checked below
            dist = self.distribution(prices, days, n_paths, seed)
            bands = dist.bands(levels, var_levels)
        if not all(np.all(np.isfinite(a)) for band in bands.values() for a in band):
            raise ForecastError(
                "this model's forecasts are not finite (training diverged?); "
                "retrain with a smaller --lr"
            )
        out = {"median": dist.last * np.exp(dist.center)}
        for level, (lower, upper) in bands.items():
            out[f"lower_{percent(level)}"] = lower
            out[f"upper_{percent(level)}"] = upper
        out["p_up"] = dist.p_up
        for level in levels:
            # beyond the calibrated horizons the factor is extrapolated: no coverage to show
            out[f"coverage_{percent(level)}"] = dist.coverage(level)
        out.update(dist.sigmas(sessions_per_year(exchange)))
        out["move"] = dist.last * dist.sd
        for a, (var, es) in dist.risk(var_levels, levels, short).items():
            out[f"var_{percent(a)}"], out[f"es_{percent(a)}"] = var, es
            out[f"var_{percent(a)}_price"] = dist.last * var
            out[f"es_{percent(a)}_price"] = dist.last * es
        if dates is None:
            from forecast import calendars  # exchange_calendars: imported only when needed

            dates = calendars.next_trading_days(prices.index[-1], days, exchange)
        return pd.DataFrame(out, index=pd.DatetimeIndex(dates, name="Date"))

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to one .npz file (weights, and its facts as JSON inside),
        atomically; returns the path. RNNForecaster.load(path) reads it back."""
        import io
        import json

        from forecast.files import atomic_write_bytes

        params, meta = self.to_checkpoint()
        blob = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **params, __meta__=blob)
        path = Path(path)
        atomic_write_bytes(path, buffer.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "RNNForecaster":
        """A model written by save(path), of the class its head needs (RNNForecaster.load
        gives a VolForecaster for a vol model); ForecastError if the file is not one."""
        import json

        try:
            with np.load(Path(path), allow_pickle=False) as z:  # never unpickle a file
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
            return RNNForecaster.from_checkpoint(arrays, meta)
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise ForecastError(
                f"{path} is not a model written by RNNForecaster.save ({e})"
            ) from None

    def risk(
        self,
        prices: pd.DataFrame,
        days: int,
        var_levels=(0.95, 0.99),
        short: bool = False,
        n_paths: int = 2000,
        seed: int | None = None,
    ) -> pd.DataFrame:
        """VaR and ES after prices' last day as a tidy frame, one row per horizon and level:
        h, level, position, sigma (the day's), sigma_cum (the h-day return's), var, es (loss
        fractions of the last close) and var_price, es_price (forecast.model.valueatrisk)."""
        dist = self.distribution(prices, days, n_paths, seed)
        sig = dist.sigmas()
        rows = []
        for a, (var, es) in dist.risk(var_levels, short=short).items():
            for k in range(days):
                rows.append(
                    {
                        "h": k + 1,
                        "level": a,
                        "position": "short" if short else "long",
                        "sigma": sig["sigma"][k],
                        "sigma_cum": sig["sigma_cum"][k],
                        "var": var[k],
                        "es": es[k],
                        "var_price": dist.last * var[k],
                        "es_price": dist.last * es[k],
                    }
                )
        return pd.DataFrame(rows).sort_values(["h", "level"], ignore_index=True)

    # --- the model file --------------------------------------------------------------------

    def to_checkpoint(self) -> tuple[dict, dict]:
        """(params, meta) for forecast.model.checkpoint.save_model: named weights and JSON-safe facts."""
        self._check_fitted()
        D, H, O = self.D_, self.config.hidden, self.O_
        if self.theta_.ndim == 2:  # an ensemble: each array gets a leading member axis (M, ...)
            members = [to_params(t, D, H, O) for t in self.theta_]
            params = {k: np.stack([p[k] for p in members]) for k in members[0]}
        else:
            params = to_params(self.theta_, D, H, O)
        meta = {
            "config": self.config.to_dict(),
            "features": list(self.config.features),
            "scaler": self.scaler_.to_dict(),
            "dates": {k: v.strftime("%Y-%m-%d") for k, v in self.dates_.items()},
            "last_fit_date": self.last_fit_date_.strftime("%Y-%m-%d"),
            "best_epoch": self.best_epoch_,
            "epochs_run": len(self.history_),
            "losses": self.losses_,
            "baseline_val_loss": self.baseline_val_loss_,
            "resid_std": self.resid_std_,
            "n_windows": {"train": self.n_windows_[0], "val": self.n_windows_[1]},
            "abs_return_quantiles": self.abs_return_quantiles_.tolist(),
            "calibration": self.calibration_.to_dict(),
        }
        return params, meta | self._head_meta()

    def _head_meta(self) -> dict:
        """What the model file records that only this estimator has (none here)."""
        return {}

    def _read_head_meta(self, meta: dict) -> None:
        """The inverse of _head_meta, when a model file is loaded."""

    def _head_checks(self, M: int | None) -> dict[str, bool]:
        """Consistency checks of the weights' member count M (None: one network) and the
        head's own facts, for _check_consistent: here one network, no ensemble."""
        return {"config.ensemble": M is None}

    @classmethod
    def from_checkpoint(cls, params: dict, meta: dict) -> "RNNForecaster":
        model = cls(TrainConfig.from_dict(meta["config"]))
        model.theta_, model.D_, _, model.O_ = from_member_params(params)  # (M, P) or (P,)
        model.notes_ = []
        model._read_head_meta(meta)
        model.scaler_ = Scaler.from_dict(meta["scaler"])
        model.dates_ = {k: pd.Timestamp(v) for k, v in meta["dates"].items()}
        model.last_fit_date_ = pd.Timestamp(meta["last_fit_date"])
        model.best_epoch_ = meta["best_epoch"]
        model.history_ = []  # the epoch log is not stored; losses_ holds the best epoch's
        model.losses_ = dict(meta["losses"])
        model.resid_std_ = float(meta["resid_std"])
        model.n_windows_ = (meta["n_windows"]["train"], meta["n_windows"]["val"])
        model.baseline_val_loss_ = float(meta["baseline_val_loss"])
        model.abs_return_quantiles_ = np.asarray(meta["abs_return_quantiles"], dtype=np.float64)
        model.calibration_ = Calibration.from_dict(meta["calibration"])
        model._check_consistent(params)
        return model

    def _check_consistent(self, params: dict) -> None:
        """The JSON's facts must agree with the weights (the hash covers only the weights)."""
        H, D, O = self.config.hidden, self.D_, self.O_
        cal, sc, q = self.calibration_, self.scaler_, self.abs_return_quantiles_

        def finite(a):
            return bool(np.all(np.isfinite(a)))

        M = self.theta_.shape[0] if self.theta_.ndim == 2 else None
        head = self._head_checks(M)
        checks = {
            "config.hidden": params["Whh"].shape[-2:] == (GATES[self.config.cell] * H, H),
            "config.ensemble": head.pop("config.ensemble"),
            "features": len(self.config.features) == D,
            "loss": HEADS[self.config.loss].O == O,
            "scaler": sc.mean.shape == sc.std.shape == (D,)
            and finite(sc.mean)
            and finite(sc.std)
            and bool(np.all(sc.std > 0)),
            "calibration": tuple(cal.levels) == LEVELS
            and cal.factors.ndim == 2
            and cal.factors.shape[0] == len(LEVELS)
            and cal.factors.shape[1] >= 1
            and cal.coverage.shape == cal.factors.shape
            and finite(cal.factors)
            and bool(np.all(cal.factors > 0)),
            "abs_return_quantiles": q.shape == (N_QUANTILES,) and finite(q),
            "resid_std": np.isfinite(self.resid_std_) and self.resid_std_ > 0,
            **head,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"{', '.join(bad)} invalid or inconsistent with the weights")


class VolForecaster(RNNForecaster):
    """The vol head: an ensemble of RNNs, theta_ (M, n_params), each predicting log sigma =
    EWMA log-sd + a learned correction, mean 0 (the module docstring gives its h-day forecast).

    Its own steps, as arch keeps a volatility process per class: the vol dataset (EWMA offset,
    burn-in), the ensemble fit, the variance paths (sample_vol) and the scale/conformal
    calibration. A global model views its shared weights for one ticker with from_weights
    (forecast/model/globalmodel.py), which ends in `adopt`, as a fit does.
    """

    def _fit(self, prices, on_epoch):
        features, note = usable_features(prices, self.config.features, "vol")
        cfg = self.config = replace(self.config, features=features)  # what the model reads
        self.notes_ = [note] if note else []
        T, burn = cfg.window, cfg.burn
        ds = vol_dataset(prices, features, T, burn, cfg.val_fraction)
        results = fit_ensemble(ds.train, ds.val, cfg, on_epoch, steps=T - burn)
        self.theta_ = np.stack([r.theta for r in results])  # (M, n_params)
        self.history_ = results[0].history
        self.best_epoch_ = results[0].best_epoch
        self.member_epochs_ = member_epochs(results)
        self.losses_ = member_losses(results)  # per scored step, averaged over members
        return self.adopt(ds, prices)

    def adopt(self, ds, prices: pd.DataFrame) -> "VolForecaster":
        """Everything a vol model takes from its series besides the weights theta_ (M, P):
        scalers, split facts, the random walk's validation loss and the calibration. A fit
        calls it after training; a global model (forecast/model/globalmodel.py) for each ticker."""
        self.D_, self.O_ = len(self.config.features), 1
        self.vol_scaler_ = ds.scaler
        D, sd = self.D_, ds.scaler.sd
        self.scaler_ = Scaler(np.zeros(D), np.full(D, sd))  # the unit of every input: sd
        self._set_split_facts(ds, prices, ds.split.cut)  # vol: validation scores from the cut on
        total, count = random_walk_terms(ds, "vol", self.config.window, self.config.burn)
        self.baseline_val_loss_ = total / count if count else float("nan")
        self.resid_std_ = 1.0
        self.egarch_ = EGARCH().fit(ds.returns[: ds.split.cut])  # training returns only
        self.calibration_, self.scale_ = self._calibrate_vol(ds)
        return self

    def _egarch_cumvar(self, returns: np.ndarray, origins: np.ndarray, days: int) -> np.ndarray:
        """EGARCH's cumulative h-day variance (n, days), units of sd^2, at the close of days
        `origins` (n,) of `returns`, each read from the last window + VOL_WARMUP returns up to
        its origin (calibration and forecasts start the recursion alike)."""
        L = self.config.window + VOL_WARMUP
        first = origins - L + 1  # (n,) first return of each origin's window; < 0: from day 0
        idx = np.maximum(first[:, None] + np.arange(L)[None, :], 0)
        R = np.where(first[:, None] + np.arange(L)[None, :] >= 0, returns[idx], 0.0)  # (n, L)
        step = self.egarch_.step_variances_windows(R, np.maximum(-first, 0), days)
        return np.cumsum(step, axis=1) / self.vol_scaler_.sd**2

    def _blended(self, cumvar: np.ndarray, cumvar_eg: np.ndarray) -> np.ndarray:
        """w_h cumvar_h + (1 - w_h) cumvar^eg_h (n, days), w_h = blend_weights_ (rnn_weight: 1,
        0 or 1/2 at every horizon); beyond the weights' horizons the last weight is reused."""
        w = self.blend_weights_[
            np.minimum(np.arange(cumvar.shape[1]), len(self.blend_weights_) - 1)
        ]
        return w * cumvar + (1.0 - w) * cumvar_eg

    def _vol_cumvar(self, inputs, origins, days, n_paths, seed):
        """cumvar (n, days): mean over members and n_paths paths each of sum_{k<=h} sigma_k^2,
        for forecasts made at the close of days `origins` (n,) of `inputs` (units of sd^2);
        and the paths' cumulative r/sd (n, M * n_paths, days), members one after another."""
        T, H, D = self.config.window, self.config.hidden, self.D_
        n, M = len(origins), self.theta_.shape[0]
        idx = origins[:, None] - T + 1 + np.arange(T)[None, :]  # (n, T) window ending at k
        xs = np.ascontiguousarray(inputs.X[idx])
        rng = np.random.default_rng([seed, 2])
        noise = np.ascontiguousarray(rng.standard_normal((days, n * n_paths)).T)  # day by day
        codes = np.array([VOL_CODES[f] for f in self.config.features], dtype=np.int64)
        kp = self.vol_scaler_.kp
        season = np.repeat(inputs.season_ahead(origins, days), n_paths, axis=0)  # (n P, days)
        cumvar = np.zeros((n, days))
        paths = np.empty((n, M, n_paths, days))

        def member(m: int):  # (zs, var), each (n * n_paths, days); nogil kernels only
            hT, yT = last_outputs(self.theta_[m], D, H, 1, xs)
            s0 = inputs.e[origins] + yT[:, 0]  # day 1's log sigma
            return sample_vol(
                self.theta_[m],
                D,
                H,
                codes,
                np.repeat(hT, n_paths, axis=0),
                np.repeat(s0, n_paths),
                np.repeat(inputs.v[origins], n_paths),
                np.repeat(inputs.vp[origins], n_paths),
                noise,
                kp,
                season,
            )

        with single_threaded_blas():
            draws = map_members(member, M)  # members on threads, like their training
        for m, (zs, var) in enumerate(draws):  # members in order: a fixed summation order
            cumvar += np.cumsum(var, axis=1).reshape(n, n_paths, days).mean(axis=1)
            paths[:, m] = np.cumsum(zs, axis=1).reshape(n, n_paths, days)
        return cumvar / M, paths.reshape(n, M * n_paths, days)

    def _calibrate_vol(self, ds):
        """(Calibration, f) from forecasts at every CAL_STRIDE-th validation origin.

        f: the variance scale with the least mean Gaussian CRPS of the day-1 errors. Factors:
        split conformal on |y| / sd_h over all those origins, shrunk toward the t(PRIOR_NU)
        factors at the unscaled sd_h (a Prior). f weighs the origins by recency (half-life
        HALF_LIFE_DAYS); the factors, and so the bands, do not depend on f. Coverage: two-fold
        cross-conformal (each half scored with the factors of the other half), so no number
        is measured on the cases that set it.
        """
        N = len(ds.returns)
        origins = np.arange(ds.split.val_first, N - 1, CAL_STRIDE)  # day k: forecast r_{k+1..}
        cumvar, _ = self._vol_cumvar(
            ds.inputs, origins, CAL_HORIZON, VOL_CAL_PATHS, self.config.seed
        )
        realised = realised_sums(ds.returns, origins, CAL_HORIZON)
        cumvar_eg = self._egarch_cumvar(ds.returns, origins, CAL_HORIZON)
        unit = ds.scaler.sd**2  # weights chosen on the validation days' h-day errors
        self.egarch_ratio_ = egarch_vs_rnn(realised, unit * cumvar, unit * cumvar_eg)
        w = rnn_weight(self.egarch_ratio_, reads_range=ds.hl is not None)
        self.blend_weights_ = np.full(CAL_HORIZON, w)
        cumvar = self._blended(cumvar, cumvar_eg)
        sd_h = ds.scaler.sd * np.sqrt(cumvar)  # (n, CAL_HORIZON) before scaling
        half_life = HALF_LIFE_DAYS / CAL_STRIDE  # in origins: recent days weigh more
        f = min_crps_scale(realised[:, 0], sd_h[:, 0], half_life=half_life)
        scores = normalised_scores(realised, 0.0, np.sqrt(f) * sd_h)  # (n, CAL_HORIZON)
        # factors shrunk toward t(PRIOR_NU) errors at the model's own (likelihood) scale sd_h,
        # which is 1/sqrt(f) in these scores' units (forecast/model/conformal.py)
        prior = Prior(1.0 / math.sqrt(f), PRIOR_CASES, PRIOR_NU)
        return held_out_calibration(scores, LEVELS, "cross", prior), f

    def distribution(
        self, prices: pd.DataFrame, days: int, n_paths: int = 2000, seed: int | None = None
    ) -> Predictive:
        """The vol head's forecast for the next `days` after prices' last day: centre 0,
        spread = sd = sd_h (module docstring)."""
        self._check_fitted()
        seed = self.config.seed if seed is None else seed
        _, r, inputs = self._inputs(prices)
        T = self.config.window
        if len(r) < T:
            raise ForecastError(
                f"the model reads {T} days but only {len(r)} days of prices are cached"
            )
        origin = np.array([len(r) - 1])
        cumvar_rnn, cumvar, paths = self._forecast_cumvar(r, inputs, origin, days, n_paths, seed)
        sd_unit = self.vol_scaler_.sd
        sd = sd_unit * np.sqrt(self.scale_ * cumvar[0])  # (days,) of log(p_{o+h} / p_o)
        last = float(prices["Adj Close"].iloc[-1])
        # sampled paths, the same scale: each day's cumulative return stretched to the blend's
        cum = paths[0] * sd_unit * np.sqrt(self.scale_ * cumvar[0] / cumvar_rnn[0])
        return Predictive(last, np.zeros(days), sd, sd, np.full(days, 0.5), self.calibration_, cum)

    def fitted_sigma(self, prices: pd.DataFrame, days: int) -> pd.Series:
        """The one-day sigma for each of the last `days` days of prices, each the forecast made
        at the close before it (what the model said then, reading nothing later): the
        conditional volatility an arch user plots."""
        self._check_fitted()
        dates, r, inputs = self._inputs(prices)
        T = self.config.window
        origins = np.arange(max(T - 1, len(r) - 1 - days), len(r) - 1)  # close k: for day k + 1
        if origins.size == 0:
            return pd.Series(dtype=float)
        # day 1 of one path: no noise reaches it
        _, cumvar, _ = self._forecast_cumvar(r, inputs, origins, 1, 1, self.config.seed)
        sigma = self.vol_scaler_.sd * np.sqrt(self.scale_ * cumvar[:, 0])
        return pd.Series(sigma, index=dates[origins + 1], name="sigma")

    def _inputs(self, prices: pd.DataFrame):
        """(dates (N,), returns r (N,), VolInputs) of prices, as this model reads them; a
        model with range inputs handed prices without High and Low gets their proxies."""
        F = daily_features(prices, ("return",))
        r = F["return"].to_numpy(np.float64)
        needs_range = any(f in RANGE_FEATURES for f in self.config.features)
        hl = log_range(prices) if needs_range else None  # None: proxies (features.vol_inputs)
        return F.index, r, vol_inputs(F.index, r, hl, self.vol_scaler_, self.config.features)

    def _forecast_cumvar(self, r, inputs, origins, days, n_paths, seed):
        """(the RNN's cumvar, the cumvar forecast with, paths) at `origins` (_vol_cumvar):
        the RNN's, or its blend with EGARCH's (the fallback, or the average without High/Low)."""
        cumvar_rnn, paths = self._vol_cumvar(inputs, origins, days, n_paths, seed)
        if self.variance_choice == "rnn":  # the usual choice: no EGARCH recursion to run
            return cumvar_rnn, cumvar_rnn, paths
        return cumvar_rnn, self._blended(cumvar_rnn, self._egarch_cumvar(r, origins, days)), paths

    def forecast_paths(
        self, prices: pd.DataFrame, days: int, n_paths: int = 2000, seed: int | None = None
    ):
        """Sampled cumulative log returns (P, days), and P(up) 1/2 per step (mean 0)."""
        cum = self.distribution(prices, days, n_paths, seed).cum
        return cum, np.full(cum.shape, 0.5)

    @property
    def reads(self) -> int:
        """Price days a forecast needs before its origin: the window, the days the EWMA
        inputs need to forget their starting value (VOL_WARMUP), and a year more for the
        season input's look back (SEASON_READS)."""
        season = SEASON_READS if "season" in self.config.features else 0
        return self.config.window + VOL_WARMUP + season

    def _head_meta(self) -> dict:
        return {
            "vol": {
                **self.vol_scaler_.to_dict(),
                "scale": self.scale_,
                "member_epochs": [list(e) for e in self.member_epochs_],
                "blend": {  # the variance is w_h RNN + (1 - w_h) EGARCH (module docstring)
                    "model": "egarch",
                    "chosen": self.variance_choice,
                    "egarch_vs_rnn": self.egarch_ratio_,
                    "weights": self.blend_weights_.tolist(),
                    "params": self.egarch_.params_.tolist(),
                    "bounds": list(self.egarch_.bounds_),
                    "converged": bool(self.egarch_.converged_),
                },
            }
        }

    def _read_head_meta(self, meta: dict) -> None:
        if "vol" not in meta:
            raise ValueError("vol (the vol head's statistics) missing")
        vol = meta["vol"]
        self.vol_scaler_ = VolScaler.from_dict(vol)
        self.scale_ = float(vol["scale"])
        self.member_epochs_ = [tuple(e) for e in vol["member_epochs"]]
        self._read_blend(vol.get("blend"))

    @property
    def variance_choice(self) -> str:
        """Which variance the vol model forecasts with: "rnn", "egarch" or "blend"."""
        w = self.blend_weights_
        return "rnn" if np.all(w == 1) else "egarch" if np.all(w == 0) else "blend"

    def _read_blend(self, blend: dict | None) -> None:
        """The EGARCH blend from a model file's vol section; a file from before the blend
        (no "blend") forecasts with the RNN alone (weight 1), as it was calibrated."""
        self.egarch_ = EGARCH()
        self.egarch_ratio_ = math.nan if blend is None else float(blend["egarch_vs_rnn"])
        if blend is None:
            self.blend_weights_ = np.ones(1)
            self.egarch_.params_ = np.array([0.0, 0.0, 0.0, 0.0])
            self.egarch_.bounds_ = (1e-300, 1e300)
            self.egarch_.converged_ = False
            return
        if blend.get("model") != "egarch":
            raise ValueError(f"vol.blend.model {blend.get('model')!r} unknown")
        self.blend_weights_ = np.asarray(blend["weights"], dtype=np.float64)
        self.egarch_.params_ = np.asarray(blend["params"], dtype=np.float64)
        lo, hi = blend["bounds"]
        self.egarch_.bounds_ = (float(lo), float(hi))
        self.egarch_.converged_ = bool(blend["converged"])

    def _head_checks(self, M: int | None) -> dict[str, bool]:
        vs, w, eg = self.vol_scaler_, self.blend_weights_, self.egarch_
        return {
            "config.ensemble": M == self.config.ensemble,
            "vol": all(math.isfinite(x) and x > 0 for x in (vs.sd, vs.m_hl, vs.kp, self.scale_))
            and len(self.member_epochs_) == M,
            "vol.blend": w.ndim == 1
            and 1 <= len(w) <= self.calibration_.factors.shape[1]
            and bool(np.all((w >= 0) & (w <= 1)))
            and eg.params_.shape == (4,)
            and bool(np.all(np.isfinite(eg.params_)))
            and 0 < eg.bounds_[0] <= eg.bounds_[1],
        }
