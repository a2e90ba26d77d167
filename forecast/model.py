"""RNNForecaster: fit(prices) -> self, forecast(prices, days) -> calibrated price paths by date.

The familiar estimator shape (statsforecast, sktime): the constructor stores options, `fit`
sets learned attributes ending in `_`, and forecasting before fitting says what to do.
Multi-step forecasts are ancestral samples: each sampled return is fed back as the next
day's input, many seeded paths at once; bands come from the paths, widened or narrowed by
conformal factors measured on the model's own out-of-sample (validation) errors.
"""

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from forecast.config import CAL_HORIZON, TrainConfig
from forecast.conformal import Calibration, calibrate, coverage_of, normalised_scores
from forecast.errors import ForecastError
from forecast.features import Scaler, build_dataset, daily_features
from forecast.heads import HEADS
from forecast.kernels.rnn import (
    from_params,
    last_outputs,
    sample_returns,
    single_threaded_blas,
    to_params,
)
from forecast.train import Epoch, fit_theta

LEVELS = (0.8, 0.95)  # band levels, narrowest first
CAL_PATHS = 200  # paths per origin: the spread s is then within ~5% (1/sqrt(2P)) of its limit
CAL_STRIDE = 2  # every 2nd validation day is an origin
N_QUANTILES = 101  # |return| distribution kept for the direction head's magnitudes


def calibrated_bands(cum: np.ndarray, last: float, calibration: Calibration):
    """Median price and conformal bands from sampled cumulative log returns cum (paths, days).

    Returns (median (days,), {level: (lower, upper)}, s (days,)): the band at horizon h is
    last * exp(m_h ± c_{L,h} s_h), with m and s the paths' median and spread; beyond the
    calibrated horizons the last calibrated factor is reused. A wider level's factor is at
    least the narrower level's, so its band contains the narrower band by construction (two
    conformal quantiles of few cases can come out in the wrong order).
    """
    days = cum.shape[1]
    m, s = np.median(cum, axis=0), cum.std(axis=0)  # (days,) of log(p_{o+h} / p_o)
    hs = np.minimum(np.arange(1, days + 1), calibration.horizon)
    bands = {}
    c = np.zeros(days)
    for level in LEVELS:  # narrowest first
        c = np.maximum(c, [calibration.factor(level, int(k)) for k in hs])
        bands[level] = (last * np.exp(m - c * s), last * np.exp(m + c * s))
    return last * np.exp(m), bands, s


class RNNForecaster:
    """An Elman RNN over daily log returns, with a Gaussian, MSE or direction head."""

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
        ds = build_dataset(prices, cfg.features, cfg.window, cfg.loss, cfg.val_fraction)
        result = fit_theta(ds.train, ds.val, cfg, on_epoch)
        self.theta_ = result.theta
        self.D_, self.O_ = len(cfg.features), HEADS[cfg.loss].O
        self.scaler_ = ds.scaler
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        best = result.best
        self.losses_ = {"train": best.train_loss, "val": best.val_loss}
        cut, vf = ds.split.cut, ds.split.val_first
        self.dates_ = {  # the cut dates, stored in the model file
            "train_first": ds.dates[0],
            "train_last": ds.dates[cut - 1],
            "val_first": ds.dates[vf],
            "val_last": ds.dates[-1],
        }
        self.last_fit_date_ = prices.index[-1]
        train_r = ds.returns[:cut]
        self.abs_return_quantiles_ = np.quantile(np.abs(train_r), np.linspace(0, 1, N_QUANTILES))
        self.n_windows_ = (len(ds.train[0]), len(ds.val[0]))
        self.baseline_val_loss_ = self._baseline_val_loss(ds)
        self.resid_std_ = self._residual_std(ds) if HEADS[cfg.loss].fixed_sigma else 1.0
        self.calibration_ = self._calibrate(ds)
        return self

    def _baseline_val_loss(self, ds) -> float:
        """The random walk's loss per step on the same validation windows, in the model's units.

        A model whose validation loss is not below this has learned nothing a random walk
        does not already know (forecast/heads.py says which random walk, per head).
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
        csum = np.concatenate([[0.0], np.cumsum(ds.returns)])
        h = np.arange(1, CAL_HORIZON + 1)
        end = origins[:, None] + h[None, :]  # last day of each horizon
        realised = np.full(median.shape, np.nan)
        ok = end <= N - 1
        start = np.broadcast_to(origins[:, None] + 1, end.shape)
        realised[ok] = csum[end[ok] + 1] - csum[start[ok]]  # sum r_{k+1..k+h}
        scores = normalised_scores(realised, median, scale)  # (n, CAL_HORIZON)
        half = len(origins) // 2
        fitted = calibrate(scores[:half], LEVELS)
        held_out = np.array(
            [
                [coverage_of(scores[half:, j], fitted.factors[i, j]) for j in range(CAL_HORIZON)]
                for i in range(len(LEVELS))
            ]
        )
        return replace(fitted, coverage=held_out)

    # --- sampling --------------------------------------------------------------------------

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

    def forecast_paths(
        self, prices: pd.DataFrame, days: int, n_paths: int = 2000, seed: int | None = None
    ):
        """Sampled cumulative log returns (P, days) and per-step P(up) (P, days) after prices' last day."""
        self._check_fitted()
        T = self.config.window
        X = self.scaled_features(prices)
        if len(X) < T:
            raise ForecastError(
                f"the model reads {T} days but only {len(X)} days of prices are cached"
            )
        rs, ps = self._sample(
            X[None, -T:], days, n_paths, self.config.seed if seed is None else seed
        )
        return np.cumsum(rs[0], axis=1), ps[0]

    def forecast(
        self,
        prices: pd.DataFrame,
        days: int,
        dates=None,
        n_paths: int = 2000,
        seed: int | None = None,
    ) -> pd.DataFrame:
        """Median price, calibrated 80%/95% bands and P(up) for each of the next `days` sessions.

        Columns: median, lower_80, upper_80, lower_95, upper_95, p_up, coverage_80, coverage_95
        (the coverage the calibrated band achieved on held-out validation origins at that
        horizon; NaN beyond the calibrated horizons, whose factor is the last one reused).
        p_up is P(close above the last close) for the gaussian and mse heads, and the model's
        P(up that day) for the direction head.
        """
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged model: checked below
            cum, ps = self.forecast_paths(prices, days, n_paths, seed)
            last = float(prices["Adj Close"].iloc[-1])
            median, bands, _ = calibrated_bands(cum, last, self.calibration_)
        if not all(np.all(np.isfinite(a)) for band in bands.values() for a in band):
            raise ForecastError(
                "this model's forecasts are not finite (training diverged?); "
                "retrain with a smaller --lr"
            )
        out = {"median": median}
        for level, (lower, upper) in bands.items():
            out[f"lower_{int(round(level * 100))}"] = lower
            out[f"upper_{int(round(level * 100))}"] = upper
        out["p_up"] = HEADS[self.config.loss].p_up(ps, cum)
        cal = self.calibration_
        h = np.arange(1, days + 1)
        for level in LEVELS:
            li = cal.levels.index(level)
            measured = cal.coverage[li, np.minimum(h, cal.horizon) - 1]
            # beyond the calibrated horizons the factor is extrapolated: no coverage to show
            out[f"coverage_{int(round(level * 100))}"] = np.where(
                h <= cal.horizon, measured, np.nan
            )
        index = (
            pd.DatetimeIndex(dates, name="Date")
            if dates is not None
            else pd.RangeIndex(1, days + 1, name="day")
        )
        return pd.DataFrame(out, index=index)

    # --- the model file --------------------------------------------------------------------

    def to_checkpoint(self) -> tuple[dict, dict]:
        """(params, meta) for forecast.checkpoint.save_model: named weights and JSON-safe facts."""
        self._check_fitted()
        params = to_params(self.theta_, self.D_, self.config.hidden, self.O_)
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
        return params, meta

    @classmethod
    def from_checkpoint(cls, params: dict, meta: dict) -> "RNNForecaster":
        model = cls(TrainConfig.from_dict(meta["config"]))
        model.theta_, model.D_, _, model.O_ = from_params(params)
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

        checks = {
            "config.hidden": params["Whh"].shape == (H, H),
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
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"{', '.join(bad)} invalid or inconsistent with the weights")
