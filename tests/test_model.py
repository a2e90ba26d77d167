"""RNNForecaster learns real signals, beats the naive forecast out of sample, and is reproducible."""

import math

import numpy as np
import pandas as pd
import pytest
from synthetic import ar1_returns, prices_from_returns, regime_returns

from forecast.config import TrainConfig
from forecast.errors import ForecastError
from forecast.model.estimator import RNNForecaster
from forecast.model.heads import HEADS
from forecast.model.kernels.rnn import last_outputs

FAST = dict(window=20, hidden=8, epochs=15, batch_size=32, lr=5e-3, patience=4)


def one_step(model, prices: pd.DataFrame) -> pd.DataFrame:
    """The next-day forecast made at every day with a full window, indexed by that day:
    columns mu, sigma (of the log return) and p_up, from the head's own formulas."""
    T = model.config.window
    X = model.scaled_features(prices)  # (N, D)
    idx = np.arange(T - 1, len(X))[:, None] - T + 1 + np.arange(T)[None, :]  # (n, T)
    _, yT = last_outputs(model.theta_, model.D_, model.config.hidden, model.O_, X[idx])
    mean, std = float(model.scaler_.mean[0]), float(model.scaler_.std[0])
    mu, sigma, p_up = HEADS[model.config.loss].distribution(yT, mean, std, model.resid_std_)
    index = prices.index[1:][T - 1 :]  # feature rows start at the second price day
    return pd.DataFrame({"mu": mu, "sigma": sigma, "p_up": p_up}, index=index)


def held_back(model, prices, n_test):
    """One-step predictions on the last n_test days, which the model never saw, and the truth."""
    pred = one_step(model, prices).iloc[-n_test - 1 : -1]  # made on day k for day k+1
    r = np.log(prices["Adj Close"]).diff().shift(-1).loc[pred.index]  # r_{k+1}
    return pred, r.to_numpy()


def test_learns_ar1_and_beats_naive_on_held_back_days():
    """AR(1) with phi=0.3: the best forecast cuts MSE by 1-phi^2 ~ 9% against naive (r=0)."""
    r = ar1_returns(2600, phi=0.3, sigma=0.01, seed=1)
    prices = prices_from_returns(r)
    n_test = 500
    model = RNNForecaster(TrainConfig(loss="mse", **FAST)).fit(prices.iloc[:-n_test])
    pred, truth = held_back(model, prices, n_test)
    mse_model = np.mean((truth - pred["mu"].to_numpy()) ** 2)
    mse_naive = np.mean(truth**2)  # random walk: tomorrow's log return is 0
    assert mse_model < 0.95 * mse_naive, mse_model / mse_naive


def test_learns_volatility_regimes_and_beats_constant_vol_nll():
    r, _ = regime_returns(2600, seed=2)
    prices = prices_from_returns(r)
    n_test = 500
    model = RNNForecaster(TrainConfig(loss="gaussian", **FAST)).fit(prices.iloc[:-n_test])
    pred, truth = held_back(model, prices, n_test)

    def nll(mu, sigma):
        return np.mean(0.5 * np.log(2 * np.pi) + np.log(sigma) + 0.5 * ((truth - mu) / sigma) ** 2)

    sigma_train = np.std(r[:-n_test])  # constant-volatility random walk fitted on the past only
    nll_model = nll(pred["mu"].to_numpy(), pred["sigma"].to_numpy())
    nll_naive = nll(0.0, sigma_train)
    assert nll_model < nll_naive - 0.1, (nll_model, nll_naive)


def test_direction_head_learns_which_way_ar1_returns_lean():
    """phi = 0.3: after an up day, up is more likely; P(up) must say so on held-back days."""
    r = ar1_returns(2600, phi=0.3, sigma=0.01, seed=3)
    prices = prices_from_returns(r)
    n_test = 500
    model = RNNForecaster(TrainConfig(loss="direction", **FAST)).fit(prices.iloc[:-n_test])
    p = one_step(model, prices)["p_up"].iloc[-n_test - 1 : -1]  # made on day k for day k+1
    today = np.log(prices["Adj Close"]).diff().loc[p.index]  # r_k, known when forecasting
    assert p[today > 0].mean() > p[today < 0].mean() + 0.05
    fc = model.forecast(prices, 5, n_paths=200)
    assert ((fc["p_up"] >= 0) & (fc["p_up"] <= 1)).all()


def test_non_finite_forecasts_are_refused():
    prices = prices_from_returns(ar1_returns(700, 0.3, 0.01, seed=8))
    model = RNNForecaster(TrainConfig(window=10, hidden=6, epochs=2)).fit(prices)
    model.theta_[-1] = 800.0  # by for log sigma: sigma = e^800 overflows
    with pytest.raises(ForecastError, match="not finite"):
        model.forecast(prices, 3, n_paths=200)


@pytest.mark.parametrize("loss", ["vol", "gaussian", "mse", "direction"])
def test_same_seed_same_weights_and_forecast(loss):
    prices = prices_from_returns(ar1_returns(700, 0.3, 0.01, seed=4))
    cfg = TrainConfig(loss=loss, window=10, hidden=6, epochs=3, batch_size=16)
    a = RNNForecaster(cfg).fit(prices)
    b = RNNForecaster(cfg).fit(prices)
    assert a.theta_.tobytes() == b.theta_.tobytes()
    pd.testing.assert_frame_equal(
        a.forecast(prices, 3, n_paths=200), b.forecast(prices, 3, n_paths=200)
    )
    c = RNNForecaster(TrainConfig(**{**cfg.__dict__, "seed": 1})).fit(prices)
    assert c.theta_.tobytes() != a.theta_.tobytes()


def test_checkpoint_round_trip_gives_the_same_forecast():
    prices = prices_from_returns(ar1_returns(700, 0.3, 0.01, seed=5))
    model = RNNForecaster(TrainConfig(window=10, hidden=6, epochs=2)).fit(prices)
    params, meta = model.to_checkpoint()
    again = RNNForecaster.from_checkpoint(params, meta)
    pd.testing.assert_frame_equal(
        model.forecast(prices, 4, n_paths=300), again.forecast(prices, 4, n_paths=300)
    )


def test_forecast_bands_are_ordered_and_widen():
    prices = prices_from_returns(regime_returns(900, seed=6)[0])
    model = RNNForecaster(TrainConfig(window=10, hidden=6, epochs=3)).fit(prices)
    fc = model.forecast(prices, 10, n_paths=1000)
    assert (fc["lower_95"] <= fc["lower_80"]).all() and (fc["lower_80"] <= fc["median"]).all()
    assert (fc["median"] <= fc["upper_80"]).all() and (fc["upper_80"] <= fc["upper_95"]).all()
    width = fc["upper_95"] - fc["lower_95"]
    assert width.iloc[-1] > width.iloc[0]


def test_predicting_before_fitting_says_what_to_do():
    with pytest.raises(ForecastError, match="forecast train"):
        RNNForecaster().forecast(prices_from_returns(np.zeros(10)), 3)


def test_scaler_and_training_ignore_everything_after_the_cut():
    """Changing prices after the training cut changes neither the scaler nor the weights."""
    r = ar1_returns(800, 0.3, 0.01, seed=7)
    cfg = TrainConfig(window=10, hidden=6, epochs=2, patience=10)
    a = RNNForecaster(cfg).fit(prices_from_returns(r))
    cut = a.dates_["train_last"]
    r2 = r.copy()
    r2[len(r) - 100 :] *= 5.0  # wild validation-period moves
    b = RNNForecaster(cfg).fit(prices_from_returns(r2))
    assert b.dates_["train_last"] == cut
    np.testing.assert_array_equal(a.scaler_.mean, b.scaler_.mean)
    np.testing.assert_array_equal(a.scaler_.std, b.scaler_.std)
    # the first epoch's training loss sees only training windows; it must be identical
    assert a.history_[0].train_loss == b.history_[0].train_loss


def test_calibrated_bands_cover_what_they_claim_on_held_back_regime_days():
    """Volatility regimes, 4000 days, the last 800 held back: next-day 80%/95% bands cover ~80%/95%.

    Tolerance: three standard errors of the difference between two binomial proportions, the
    calibration set's (n_cal validation origins fix the conformal factor) and the test set's:
    3 sqrt(L (1 - L) (1/n_cal + 1/n_test)), about 0.08 at 80% and 0.045 at 95% here.
    """
    r, _ = regime_returns(4000, seed=11)
    prices = prices_from_returns(r)
    n_test = 800
    model = RNNForecaster(TrainConfig(window=30, hidden=16, epochs=20)).fit(prices.iloc[:-n_test])
    hits = {0.8: [], 0.95: []}
    for k in range(len(prices) - n_test, len(prices) - 1):
        fc = model.forecast(prices.iloc[: k + 1], 1, n_paths=400)
        actual = prices["Adj Close"].iloc[k + 1]
        for level, h in hits.items():
            pct = int(level * 100)
            h.append(fc[f"lower_{pct}"].iloc[0] <= actual <= fc[f"upper_{pct}"].iloc[0])
    n_cal = int(model.calibration_.n[0])
    for level, h in hits.items():
        tolerance = 3 * np.sqrt(level * (1 - level) * (1 / n_cal + 1 / len(h)))
        assert abs(np.mean(h) - level) < tolerance, (level, np.mean(h), n_cal, len(h))


def test_the_95_band_contains_the_80_band_by_construction():
    """Even a calibration whose 95% factor came out below the 80% one (few, odd cases)."""
    from forecast.model.conformal import Calibration
    from forecast.model.estimator import calibrated_bands

    factors = np.array([[1.3, 1.0, 2.0], [1.2, 1.9, 1.5]])  # (levels, horizons): h1, h3 crossed
    cal = Calibration(
        (0.8, 0.95), factors, np.full((2, 3), np.nan), np.zeros(3), np.zeros((2, 3), bool)
    )
    cum = np.random.default_rng(0).normal(0, 0.02, (500, 5)).cumsum(axis=1)
    _, bands, _ = calibrated_bands(cum, 100.0, cal)
    (lo80, hi80), (lo95, hi95) = bands[0.8], bands[0.95]
    assert np.all(lo95 <= lo80) and np.all(hi80 <= hi95)
    assert np.all(lo80 < hi80)
    assert lo95[1] < lo80[1] and hi80[1] < hi95[1]  # where the factors were in order: wider


VOL_FAST = dict(window=30, hidden=8, epochs=20, burn_in=10, ensemble=2, patience=4)


def vol_one_step(model, prices: pd.DataFrame, n_test: int):
    """The vol model's day-1 sd of the log return made at each of the last n_test days but the
    final one (its target is not known), and the realised next-day returns."""
    from forecast.model.features import log_range, vol_inputs

    r = np.diff(np.log(prices["Adj Close"].to_numpy()))
    hl = log_range(prices)
    inputs = vol_inputs(prices.index[1:], r, hl, model.vol_scaler_, model.config.features)
    origins = np.arange(len(r) - n_test - 1, len(r) - 1)
    cumvar, _ = model._vol_cumvar(inputs, origins, 1, 1, seed=0)
    sd = model.vol_scaler_.sd * np.sqrt(model.scale_ * cumvar[:, 0])
    return sd, r[origins + 1], inputs


def test_a_vol_forecast_reads_only_its_last_reads_days():
    """The backtest hands a model its last `reads` days (window, EWMA warm-up and the season
    input's year of look back); the forecast is then the full history's, and a year less
    would change it."""
    from forecast.model.estimator import SEASON_READS

    rng = np.random.default_rng(4)
    prices = prices_from_returns(0.01 * rng.standard_t(3, size=900))
    model = RNNForecaster(TrainConfig(**VOL_FAST)).fit(prices)
    assert "season" in model.config.features and model.variance_choice == "rnn"
    full = model.distribution(prices, 5, n_paths=50).sd
    last = model.distribution(prices.iloc[-(model.reads + 1) :], 5, n_paths=50).sd
    np.testing.assert_allclose(last, full, rtol=1e-6)
    short = prices.iloc[-(model.reads - SEASON_READS + 1) :]
    assert not np.allclose(model.distribution(short, 5, n_paths=50).sd, full, rtol=1e-6)


def test_vol_head_learns_volatility_regimes_on_held_back_days():
    """Held-back Gaussian NLL (mean 0) better than the constant-volatility random walk's, and
    within 1% of EWMA's (the offset it starts from): the correction does not ruin it."""
    r, _ = regime_returns(2600, seed=2)
    prices = prices_from_returns(r)
    n_test = 500
    model = RNNForecaster(TrainConfig(**VOL_FAST)).fit(prices.iloc[:-n_test])
    sd, truth, inputs = vol_one_step(model, prices, n_test)

    def nll(s):
        return np.mean(0.5 * np.log(2 * np.pi) + np.log(s) + 0.5 * (truth / s) ** 2)

    ewma_sd = model.vol_scaler_.sd * np.exp(inputs.e[len(r) - n_test - 1 : len(r) - 1])
    assert nll(sd) < nll(np.full_like(sd, np.std(r[:-n_test]))) - 0.1
    assert nll(sd) < nll(ewma_sd) + 0.01, (nll(sd), nll(ewma_sd))


def test_vol_forecast_is_centred_with_bands_from_the_sampled_variance():
    """Median = last price, P(up) = 1/2, bands last * exp(+-c sd_h) with sd_h growing in h."""
    r, _ = regime_returns(1200, seed=3)
    prices = prices_from_returns(r)
    model = RNNForecaster(TrainConfig(**VOL_FAST)).fit(prices)
    median, bands, mean, sd, p_up, cum = model.predictive(prices, 5, n_paths=200, seed=1)
    last = prices["Adj Close"].iloc[-1]
    np.testing.assert_array_equal(median, last)
    np.testing.assert_array_equal(p_up, 0.5)
    np.testing.assert_array_equal(mean, 0.0)
    assert np.all(np.diff(sd) > 0)
    c95 = model.calibration_.factors[1, :5]
    np.testing.assert_allclose(np.log(bands[0.95][1] / last), c95 * sd, rtol=1e-12)
    assert cum.shape == (model.config.ensemble * 200, 5)
    # the paths' spread agrees with sd_h (cumvar averages their variances)
    assert np.std(cum[:, -1]) == pytest.approx(sd[-1], rel=0.15)


def test_vol_coverage_shown_is_held_out_and_close_to_nominal():
    """The stored coverage is cross-fitted (conformal.cross_coverage): within a few points of
    80% and 95% on regime data, and the factors come from all validation origins."""
    r, _ = regime_returns(2600, seed=4)
    model = RNNForecaster(TrainConfig(**VOL_FAST)).fit(prices_from_returns(r))
    cov = model.calibration_.coverage
    assert np.all(np.abs(cov[0, :5] - 0.8) < 0.06) and np.all(np.abs(cov[1, :5] - 0.95) < 0.04)
    assert model.calibration_.n[0] >= 400  # every one of ~520 validation days


def test_vol_ensemble_is_bit_identical_for_any_thread_count():
    import forecast.model.train as train_mod

    prices = prices_from_returns(regime_returns(900, seed=5)[0])
    cfg = TrainConfig(**{**VOL_FAST, "ensemble": 3, "epochs": 3})
    train_mod.set_num_threads(1)
    try:
        a = RNNForecaster(cfg).fit(prices)
    finally:
        train_mod.set_num_threads(2)
    b = RNNForecaster(cfg).fit(prices)
    assert a.theta_.shape[0] == 3 and a.theta_.tobytes() == b.theta_.tobytes()
    assert a.calibration_.factors.tobytes() == b.calibration_.factors.tobytes()
    assert len({t.tobytes() for t in a.theta_}) == 3  # members differ (seeds seed..seed+2)


def test_gated_cell_vol_model_is_reproducible_and_round_trips():
    """--cell gru: three blocks of recurrent weights per member, the same seed gives the same
    bytes, and the model file gives back the same bands."""
    from forecast.model.kernels.rnn import n_params

    prices = prices_from_returns(regime_returns(900, seed=5)[0])
    cfg = TrainConfig(**{**VOL_FAST, "epochs": 3, "cell": "gru"})
    a = RNNForecaster(cfg).fit(prices)
    b = RNNForecaster(cfg).fit(prices)
    assert a.theta_.shape == (2, n_params(a.D_, 8, 1, gates=3))
    assert a.theta_.tobytes() == b.theta_.tobytes()
    params, meta = a.to_checkpoint()
    assert params["Whh"].shape == (2, 24, 8)
    again = RNNForecaster.from_checkpoint(params, meta)
    assert again.config.cell == "gru"
    pd.testing.assert_frame_equal(
        a.forecast(prices, 4, n_paths=300), again.forecast(prices, 4, n_paths=300)
    )
    elman = RNNForecaster(TrainConfig(**{**VOL_FAST, "epochs": 3})).fit(prices)
    assert elman.theta_.shape[1] < a.theta_.shape[1]


def test_an_unknown_cell_is_refused():
    with pytest.raises(ForecastError, match="--cell 'lstm'"):
        TrainConfig(cell="lstm")


def test_vol_on_close_only_prices_drops_the_range_inputs_with_a_note():
    prices = prices_from_returns(regime_returns(900, seed=6)[0])
    prices["High"] = prices["Low"] = prices["Close"]  # a Date,Close import
    model = RNNForecaster(TrainConfig(**{**VOL_FAST, "epochs": 2})).fit(prices)
    assert model.config.features == ("return", "abs", "ewma", "season")
    assert model.notes_ and "no daily High and Low" in model.notes_[0]
    assert np.all(np.isfinite(model.forecast(prices, 3)["upper_95"]))


def test_vol_blend_with_egarch_is_fitted_before_the_cut_and_stored():
    """EGARCH is fitted on the training returns only; the choice (RNN or EGARCH) follows the
    validation ratio; the model file keeps it and forecasts the same bands after a round trip."""
    from forecast.model.classical import EGARCH
    from forecast.model.features import vol_dataset
    from forecast.model.kernels.rnn import single_threaded_blas

    r, _ = regime_returns(1200, seed=8)
    prices = prices_from_returns(r)
    cfg = TrainConfig(**VOL_FAST)
    model = RNNForecaster(cfg).fit(prices)
    ds = vol_dataset(prices, model.config.features, cfg.window, cfg.burn, cfg.val_fraction)
    with single_threaded_blas():  # as the fit runs it: the same bits
        fresh = EGARCH().fit(ds.returns[: ds.split.cut])
    np.testing.assert_array_equal(model.egarch_.params_, fresh.params_)
    w = model.blend_weights_
    assert w.shape == (model.calibration_.horizon,) and len(set(w)) == 1 and w[0] in (0, 1)
    assert model.variance_choice == ("rnn" if w[0] == 1 else "egarch")
    assert (model.egarch_ratio_ < 0.99) == (w[0] == 0)
    params, meta = model.to_checkpoint()
    assert meta["vol"]["blend"]["weights"] == w.tolist()
    assert meta["vol"]["blend"]["chosen"] == model.variance_choice
    again = RNNForecaster.from_checkpoint(params, meta)
    a, b = model.forecast(prices, 5), again.forecast(prices, 5)
    assert a.to_numpy().tobytes() == b.to_numpy().tobytes()


def test_vol_band_factors_are_shrunk_toward_t_errors_at_the_models_own_scale(monkeypatch):
    """The calibration's prior sits at the unscaled model sd (1/sqrt(f) in score units), is
    worth PRIOR_CASES tail cases of t(PRIOR_NU) errors, moves each factor from the order
    statistic by the documented weight, and travels with the model file; the scale f is the
    least recency-weighted CRPS of the day-1 errors. A model file from before the prior
    forecasts with plain conformal factors."""
    from forecast.model import estimator
    from forecast.model.conformal import SCALE_GRID, calibrate, min_crps_scale
    from forecast.model.estimator import CAL_STRIDE, HALF_LIFE_DAYS, PRIOR_CASES, PRIOR_NU

    asked = []

    def scale(y, sd, grid=SCALE_GRID, half_life=None):
        asked.append(half_life)
        return min_crps_scale(y, sd, grid, half_life)

    monkeypatch.setattr(estimator, "min_crps_scale", scale)
    r, _ = regime_returns(1200, seed=10)
    prices = prices_from_returns(r)
    model = RNNForecaster(TrainConfig(**VOL_FAST)).fit(prices)
    cal = model.calibration_
    assert cal.prior.scale == pytest.approx(1 / math.sqrt(model.scale_))
    assert (cal.prior.cases, cal.prior.nu) == (PRIOR_CASES, PRIOR_NU)
    plain = calibrate(cal.scores, cal.levels)
    for i, L in enumerate(cal.levels):
        k = cal.n * (1 - L)
        want = (k * plain.factors[i] + PRIOR_CASES * cal.prior.factor(L)) / (k + PRIOR_CASES)
        np.testing.assert_allclose(cal.factors[i], want, rtol=1e-12)
    assert asked == [HALF_LIFE_DAYS / CAL_STRIDE]  # f: the least recency-weighted CRPS
    params, meta = model.to_checkpoint()
    again = RNNForecaster.from_checkpoint(params, meta)
    assert again.calibration_.prior == cal.prior
    a, b = model.forecast(prices, 5), again.forecast(prices, 5)
    assert a.to_numpy().tobytes() == b.to_numpy().tobytes()
    del meta["calibration"]["prior"]  # a model file written before the prior
    old = RNNForecaster.from_checkpoint(params, meta)
    assert old.calibration_.prior is None
    kept = old.calibration_.scores  # the file's scores (6 decimals)
    assert old.calibration_.at(0.9)[0].tolist() == calibrate(kept, (0.9,)).factors[0].tolist()


def test_without_high_low_the_variance_is_the_average_of_the_rnns_and_egarchs():
    """Close-only prices: the RNN reads no range, and unless the fallback chose EGARCH the
    variance forecast is (cumvar^rnn + cumvar^eg) / 2, calibrated on it and kept in the file.
    The same prices with High and Low keep the RNN's variance alone."""
    from forecast.cli.display import blend_text
    from forecast.model.estimator import COMBINED_WEIGHT

    prices = prices_from_returns(regime_returns(1200, seed=8)[0])
    with_range = RNNForecaster(TrainConfig(**VOL_FAST)).fit(prices)
    assert with_range.variance_choice in ("rnn", "egarch")
    closes = prices.assign(High=prices["Close"], Low=prices["Close"])  # a Date,Close import
    model = RNNForecaster(TrainConfig(**VOL_FAST)).fit(closes)
    assert model.config.features == ("return", "abs", "ewma", "season")
    assert 0.99 <= model.egarch_ratio_ <= 1.01  # the two tie on these prices' validation
    assert COMBINED_WEIGHT == 0.5 and np.all(model.blend_weights_ == 0.5)
    assert model.variance_choice == "blend"
    assert blend_text("blend", model.egarch_ratio_).startswith("the average of the RNN's and")
    _, r, inputs = model._inputs(closes)
    origin = np.array([len(r) - 1])
    rnn, used, _ = model._forecast_cumvar(r, inputs, origin, 4, 50, 0)
    eg = model._egarch_cumvar(r, origin, 4)
    np.testing.assert_allclose(used, 0.5 * rnn + 0.5 * eg, rtol=1e-14)
    params, meta = model.to_checkpoint()
    assert meta["vol"]["blend"]["weights"] == [0.5] * model.calibration_.horizon
    again = RNNForecaster.from_checkpoint(params, meta)
    a, b = model.forecast(closes, 5), again.forecast(closes, 5)
    assert a.to_numpy().tobytes() == b.to_numpy().tobytes()


def test_the_rnns_weight_follows_the_validation_ratio():
    """EGARCH alone when 1% better, the average without High/Low when they tie within 1%,
    the RNN alone when EGARCH is clearly worse (a bad EGARCH fit) or with High/Low inputs."""
    from forecast.model.estimator import rnn_weight

    for reads_range in (True, False):
        assert rnn_weight(0.98, reads_range) == 0.0
        assert rnn_weight(1.05, reads_range) == 1.0
        assert rnn_weight(30.0, reads_range) == 1.0
        assert rnn_weight(math.nan, reads_range) == 1.0
    assert rnn_weight(0.995, False) == rnn_weight(1.0, False) == rnn_weight(1.01, False) == 0.5
    assert rnn_weight(0.995, True) == rnn_weight(1.01, True) == 1.0


def test_a_model_file_from_before_the_blend_forecasts_with_the_rnn_alone():
    r, _ = regime_returns(900, seed=9)
    prices = prices_from_returns(r)
    model = RNNForecaster(TrainConfig(**{**VOL_FAST, "epochs": 2})).fit(prices)
    params, meta = model.to_checkpoint()
    del meta["vol"]["blend"]
    old = RNNForecaster.from_checkpoint(params, meta)
    model.blend_weights_ = np.ones_like(model.blend_weights_)  # what the old file means
    a, b = model.forecast(prices, 3), old.forecast(prices, 3)
    assert a.to_numpy().tobytes() == b.to_numpy().tobytes()


def test_the_fallback_compares_the_variances_that_generated_the_outcomes():
    """egarch_vs_rnn < 1 when the outcomes were drawn with EGARCH's variance, > 1 with the
    RNN's, 1 for equal variances; scale-free up to the grid of scales (outcomes ×1.2); NaN outcomes
    (past the data) ignored."""
    from forecast.model.estimator import egarch_vs_rnn

    rng = np.random.default_rng(0)
    n = 4000
    a = np.exp(rng.normal(0, 0.7, (n, 5)))  # two unrelated variance paths
    b = np.exp(rng.normal(0, 0.7, (n, 5)))
    y_a = np.sqrt(a) * rng.standard_normal((n, 5))
    y_b = np.sqrt(b) * rng.standard_normal((n, 5))
    assert egarch_vs_rnn(y_b, a, b) < 0.97 < 1.03 < egarch_vs_rnn(y_a, a, b)
    assert egarch_vs_rnn(y_a, a, a) == 1.0
    assert egarch_vs_rnn(1.2 * y_b, a, b) == pytest.approx(egarch_vs_rnn(y_b, a, b), rel=1e-3)
    y_a[: n // 2, 4] = np.nan
    assert egarch_vs_rnn(y_a, a, b) > 1.03


def test_vol_falls_back_to_egarch_when_it_is_better_on_validation_days():
    """A model whose RNN is replaced by noise after fitting: recalibrated, it chooses EGARCH
    (weights 0), and its bands then come from EGARCH's variance."""
    r, _ = regime_returns(1200, seed=10)
    prices = prices_from_returns(r)
    model = RNNForecaster(TrainConfig(**{**VOL_FAST, "epochs": 2})).fit(prices)
    rng = np.random.default_rng(0)
    model.theta_ = model.theta_ + rng.normal(0, 3.0, model.theta_.shape)  # a useless RNN
    from forecast.model.features import vol_dataset

    cfg = model.config
    ds = vol_dataset(prices, cfg.features, cfg.window, cfg.burn, cfg.val_fraction)
    model.adopt(ds, prices)
    assert model.variance_choice == "egarch" and model.egarch_ratio_ < 0.99
    assert np.all(model.blend_weights_ == 0)
    _, _, _, sd, _, _ = model.predictive(prices, 3, n_paths=50, seed=1)
    eg = model._egarch_cumvar(ds.returns, np.array([len(ds.returns) - 1]), 3)[0]
    np.testing.assert_allclose(sd, model.vol_scaler_.sd * np.sqrt(model.scale_ * eg), rtol=1e-12)
