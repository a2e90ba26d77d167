"""One RNN over many series: saved under a name, used for tickers it saw and ones it did not,
refitted in a backtest on every series cut at the fold's calendar date."""

import numpy as np
import pandas as pd
import pytest
from synthetic import prices_from_returns, regime_returns

from forecast.config import TrainConfig
from forecast.errors import ForecastError
from forecast.evaluation.backtest import run_backtest
from forecast.model import checkpoint, globalmodel

CFG = TrainConfig(window=10, hidden=4, epochs=2, batch_size=64, seed=1, loss="gaussian")


def series(n, seed, start="2000-01-03"):
    r, _ = regime_returns(n, seed=seed)
    return prices_from_returns(r, start=start)


@pytest.fixture
def frames():
    return {"AAA": series(500, 1), "BBB": series(400, 2, start="2000-05-01"), "CCC": series(520, 3)}


def test_fit_save_load_and_forecast_a_seen_and_an_unseen_ticker(frames, data_dir):
    g = globalmodel.fit_global("WORLD", frames.items(), CFG)
    assert g.panel.tickers == ["AAA", "BBB", "CCC"] and np.isfinite(g.baseline_val_loss)
    path = globalmodel.save_global(data_dir, g)
    assert path.name == "WORLD.json"
    params, meta = globalmodel.load_global(data_dir, "world")
    assert globalmodel.is_global(meta) and meta["tickers"] == ["AAA", "BBB", "CCC"]
    assert meta["cut_date"] == f"{g.panel.cut:%Y-%m-%d}"
    for ticker, frame in [("AAA", frames["AAA"]), ("NEW", series(480, 9))]:
        m = globalmodel.for_ticker(params, meta, ticker, frame)
        r = np.diff(np.log(frame["Adj Close"].to_numpy()))
        before = r[frame.index[1:] < g.panel.cut]
        assert m.scaler_.mean[0] == pytest.approx(before.mean(), rel=1e-12)  # its own statistics
        assert m.dates_["train_last"] < g.panel.cut <= m.dates_["val_first"]
        table = m.forecast(frame, 5, n_paths=200)
        assert len(table) == 5 and np.all(table["lower_95"] < table["upper_95"])


def test_same_seed_same_weights(frames):
    a = globalmodel.fit_global("W", frames.items(), CFG).params()
    b = globalmodel.fit_global("W", frames.items(), CFG).params()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_a_global_name_never_replaces_a_per_ticker_model(frames, data_dir):
    g = globalmodel.fit_global("AAA", frames.items(), CFG)
    meta = {"ticker": "AAA", "kind_of": "per-ticker"}
    checkpoint.save_model(data_dir, "AAA", g.params(), meta)
    with pytest.raises(
        ForecastError,
        match="is the per-ticker model of AAA; save the global model under another name",
    ):
        globalmodel.save_global(data_dir, g)


def test_missing_model_and_a_ticker_without_days_after_the_cut(frames, data_dir):
    with pytest.raises(ForecastError, match="no model named NOPE; train one with"):
        globalmodel.load_global(data_dir, "NOPE")
    g = globalmodel.fit_global("W", frames.items(), CFG)
    old = frames["AAA"].loc[frames["AAA"].index < g.panel.cut]
    with pytest.raises(ForecastError, match="too few days after the global model's cut date"):
        globalmodel.for_ticker(g.params(), g.meta(), "OLD", old)


def test_backtest_refits_cut_every_series_at_the_fold_date(frames, monkeypatch):
    seen = []
    real = globalmodel.fit_global

    def spy(name, pairs, cfg, cut=None, on_epoch=None):
        pairs = list(pairs)
        seen.append({t: f.index[-1] for t, f in pairs})
        return real(name, pairs, cfg, cut, on_epoch)

    monkeypatch.setattr(globalmodel, "fit_global", spy)
    fit = globalmodel.refit_for_backtest("W", frames, "AAA", CFG)
    result = run_backtest(
        frames["AAA"], CFG, horizon=2, refit_every=20, test_days=40, n_paths=50, fit=fit
    )
    assert len(seen) == len(result.folds) == 2
    for last_dates, fold in zip(seen, result.folds, strict=True):
        assert set(last_dates) == {"AAA", "BBB", "CCC"}
        # every series cut at the fold's first origin: its close is the last one seen
        assert all(d <= fold.first_origin for d in last_dates.values())
        assert last_dates["AAA"] == fold.first_origin
        assert fold.scaler_last_date < fold.first_origin


def test_pooled_baseline_is_each_series_random_walk_weighted_by_its_windows(frames):
    from forecast.model.heads import HEADS
    from forecast.model.panel import series_dataset

    g = globalmodel.fit_global("W", frames.items(), CFG)
    total, n = 0.0, 0
    for prices in frames.values():
        ds = series_dataset(prices, CFG.features, CFG.window, CFG.loss, g.panel.cut)
        sc = ds.scaler
        rw = HEADS[CFG.loss].baseline_loss(
            ds.val[1], ds.returns[: ds.split.cut], float(sc.mean[0]), float(sc.std[0])
        )
        total, n = total + rw * ds.val[1].size, n + ds.val[1].size
    assert g.baseline_val_loss == pytest.approx(total / n, rel=1e-12)
    assert isinstance(g.panel.cut, pd.Timestamp)


VOL = TrainConfig(window=30, burn_in=10, hidden=4, epochs=2, ensemble=2, seed=1)


def test_the_vol_head_pooled_an_ensemble_with_each_series_own_scales(frames, data_dir):
    """The default head over many series: members saved with a member axis, each ticker (seen
    or not, with High/Low or close-only) scaled by its own returns before the cut date."""
    g = globalmodel.fit_global("VOLS", frames.items(), VOL)
    assert g.config.loss == "vol" and g.config.batch_size == 64  # the global default batch
    assert len(g.results) == 2 and g.params()["Whh"].shape == (2, 4, 4)
    globalmodel.save_global(data_dir, g)
    params, meta = globalmodel.load_global(data_dir, "VOLS")
    close_only = series(700, 9).assign(High=lambda f: f["Close"], Low=lambda f: f["Close"])
    for ticker, frame in [("AAA", frames["AAA"]), ("NEW", close_only)]:
        m = globalmodel.for_ticker(params, meta, ticker, frame)
        r = np.diff(np.log(frame["Adj Close"].to_numpy()))
        assert m.vol_scaler_.sd == pytest.approx(r[frame.index[1:] < g.panel.cut].std(), rel=1e-12)
        assert m.theta_.shape[0] == 2 and m.dates_["train_last"] < g.panel.cut
        assert np.isfinite(m.losses_["val"]) and 0.4 <= m.scale_ <= 2.0
        table = m.forecast(frame, 5, n_paths=100)
        assert np.all(table["lower_95"] < table["lower_80"]) and np.all(table["p_up"] == 0.5)


def test_a_gated_global_model_serves_its_tickers_and_a_config_that_disagrees_is_refused(
    frames, data_dir
):
    """--cell gru pools like the Elman cell; a file whose config names another cell (or
    hidden size) than its weights is refused with one line, not run as something else."""
    g = globalmodel.fit_global(
        "GRUS", frames.items(), TrainConfig(**{**VOL.__dict__, "cell": "gru"})
    )
    assert g.params()["Whh"].shape == (2, 12, 4)
    globalmodel.save_global(data_dir, g)
    params, meta = globalmodel.load_global(data_dir, "GRUS")
    m = globalmodel.for_ticker(params, meta, "AAA", frames["AAA"])
    assert m.config.cell == "gru" and np.all(np.isfinite(m.forecast(frames["AAA"], 3)["upper_95"]))
    for edit in ({"cell": "elman"}, {"hidden": 12}):
        bad = {**meta, "config": {**meta["config"], **edit}}
        with pytest.raises(ForecastError, match="does not match its weights"):
            globalmodel.for_ticker(params, bad, "AAA", frames["AAA"])


def test_a_global_vol_model_of_one_series_is_that_series_own_model():
    """Cut where a per-ticker fit cuts, a one-series global model trains on the same windows
    in the same order: the same weights to the bit, and the same calibration."""
    from forecast.model.estimator import RNNForecaster
    from forecast.model.features import vol_dataset

    prices = series(700, 4)
    cfg = TrainConfig(window=30, burn_in=10, hidden=4, epochs=3, ensemble=2, batch_size=32)
    own = RNNForecaster(cfg).fit(prices)
    ds = vol_dataset(prices, own.config.features, 30, 10, cfg.val_fraction)
    g = globalmodel.fit_global("ONE", [("AAA", prices)], own.config, cut=ds.dates[ds.split.cut])
    assert g.config == own.config  # batch size chosen: no global default applied
    view = globalmodel.for_ticker(g.params(), g.meta(), "AAA", prices)
    assert view.theta_.tobytes() == own.theta_.tobytes()
    assert view.scale_ == own.scale_ and view.baseline_val_loss_ == own.baseline_val_loss_
    np.testing.assert_array_equal(view.calibration_.factors, own.calibration_.factors)
    assert view.losses_["val"] == pytest.approx(own.losses_["val"], rel=1e-12)


def test_pooled_vol_baseline_is_each_series_random_walk_weighted_by_scored_steps(frames):
    from forecast.model.features import vol_baseline_terms
    from forecast.model.panel import series_vol_dataset

    g = globalmodel.fit_global("W", frames.items(), VOL)
    parts = [
        vol_baseline_terms(series_vol_dataset(f, VOL.features, 30, 10, g.panel.cut), 30, 10)
        for f in frames.values()
    ]
    total, n = map(sum, zip(*parts, strict=True))
    assert n > 0 and g.baseline_val_loss == pytest.approx(total / n, rel=1e-12)
    assert sum(b for _, b in g.panel.counts.values()) == len(g.panel.val[0])


def close_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a `Date,Close` import reads it: High = Low = Close."""
    return frame.assign(High=frame["Close"], Low=frame["Close"])


@pytest.fixture
def mixed(frames):
    """The frames and a close-only series DDD: a panel that trains a second ensemble."""
    return [*frames.items(), ("DDD", close_only(series(520, 5)))]


def chosen(monkeypatch, which: str) -> None:
    """Make validation choose `which` ensemble for tickers without High/Low, whatever the
    losses say (each choice is tested by what it makes)."""
    real = globalmodel.choose_close
    monkeypatch.setattr(globalmodel, "choose_close", lambda *a: real(*a) | {"chosen": which})


def test_a_panel_with_close_only_series_validates_both_ensembles_on_every_series_closes(mixed):
    """The choice's losses: each ensemble's validation loss per step on every series'
    validation windows read as a close-only import reads them (range inputs proxied)."""
    from dataclasses import replace

    from forecast.model.panel import series_vol_dataset

    g = globalmodel.fit_global("MIX", mixed, VOL)
    assert g.panel.close_only == ["DDD"]
    days = [series_vol_dataset(close_only(f), VOL.features, 30, 10, g.panel.cut) for _, f in mixed]
    xs = np.concatenate([d.val[0] for d in days])
    np.testing.assert_array_equal(g.panel.val_close[0], xs)
    np.testing.assert_array_equal(g.panel.val_close[1], g.panel.val[1])  # the same targets
    c = g.close_choice
    first = globalmodel.val_loss([r.theta for r in g.results], VOL, xs, g.panel.val[1])
    assert c["first"] == pytest.approx(first, rel=1e-12)
    assert c["chosen"] == ("close" if c["close"] < c["first"] else "first")
    assert (len(g.close_results) == 2) == (c["chosen"] == "close")
    alone = globalmodel.fit_global(
        "C", mixed, replace(VOL, features=("return", "abs", "ewma", "season"))
    )  # the second ensemble is this model's
    closes = xs[..., [0, 1, 2, 5]]  # the range inputs are columns 3 and 4
    close = globalmodel.val_loss(
        [r.theta for r in alone.results], alone.config, closes, g.panel.val[1]
    )
    assert c["close"] == pytest.approx(close, rel=1e-12)
    assert g.meta()["close_choice"] == c and g.meta()["close_only"] == ["DDD"]


def test_when_validation_chooses_the_second_ensemble_it_serves_tickers_without_high_low(
    mixed, data_dir, monkeypatch
):
    """Stacked after the first ensemble in the file with zero weights on the range inputs,
    bit-identical to a model trained on the same windows without them, and the one a ticker
    without High and Low is forecast by."""
    from dataclasses import replace

    chosen(monkeypatch, "close")
    g = globalmodel.fit_global("MIX", mixed, VOL)
    closes = ("return", "abs", "ewma", "season")
    alone = globalmodel.fit_global("C", mixed, replace(VOL, features=closes))
    assert alone.close_results == [] and alone.close_choice is None
    for a, b in zip(alone.results, g.close_results, strict=True):
        assert a.theta.tobytes() == b.theta.tobytes()
    # DDD's validation loss in the summary is the ensemble's that serves it
    own = {row[0]: row[3] for row in g.per_ticker()}
    assert own["DDD"] == pytest.approx({r[0]: r[3] for r in alone.per_ticker()}["DDD"])

    params = g.params()
    assert params["Wxh"].shape == (4, 4, 6)
    rng = [3, 4]  # range, parkinson: zero in the close-only members, learned in the others
    assert np.all(params["Wxh"][2:, :, rng] == 0.0) and np.all(params["Wxh"][:2, :, rng] != 0.0)
    assert np.all(params["Wxh"][2:, :, 5] != 0.0)  # season: closes give it
    globalmodel.save_global(data_dir, g)
    params, meta = globalmodel.load_global(data_dir, "MIX")
    assert meta["close_members"] == 2 and meta["close_features"] == list(closes)
    assert meta["close_choice"]["chosen"] == "close" and len(meta["member_epochs"]) == 4

    served = {
        "DDD": close_only(mixed[0][1]),  # a close-only import of a ticker that had High/Low
        "AAA": mixed[0][1],
    }
    for ticker, frame in served.items():
        m = globalmodel.for_ticker(params, meta, ticker, frame)
        ensemble = g.close_results if ticker == "DDD" else g.results
        assert m.config.features == (closes if ticker == "DDD" else VOL.features)
        assert m.theta_.tobytes() == np.stack([r.theta for r in ensemble]).tobytes()
        table = m.forecast(frame, 5, n_paths=100)
        assert np.all(table["lower_95"] < table["lower_80"])


def test_when_validation_chooses_the_first_ensemble_it_serves_every_ticker(
    mixed, data_dir, monkeypatch
):
    chosen(monkeypatch, "first")
    g = globalmodel.fit_global("MIX", mixed, VOL)
    assert g.close_results == [] and g.params()["Wxh"].shape == (2, 4, 6)
    globalmodel.save_global(data_dir, g)
    params, meta = globalmodel.load_global(data_dir, "MIX")
    assert meta["close_choice"]["chosen"] == "first" and "close_members" not in meta
    m = globalmodel.for_ticker(params, meta, "DDD", close_only(mixed[0][1]))
    assert m.config.features == VOL.features  # its range inputs read proxies
    assert m.theta_.tobytes() == np.stack([r.theta for r in g.results]).tobytes()


def test_a_close_only_ensemble_the_config_does_not_make_is_refused(mixed, monkeypatch):
    """The members a file says read closes only must be fewer than all and read nothing else:
    a tampered file is refused with one line, not forecast from range weights it claims not
    to have."""
    chosen(monkeypatch, "close")
    g = globalmodel.fit_global("MIX", mixed, VOL)
    params, meta = g.params(), g.meta()
    reads_range = {**params, "Wxh": params["Wxh"].copy()}
    reads_range["Wxh"][3, 0, 4] = 0.5  # a close-only member with a Parkinson weight
    for p, m in [
        (reads_range, meta),
        (params, {**meta, "close_members": 4}),  # every member
        (params, {**meta, "close_features": ["return", "abs"]}),
    ]:
        with pytest.raises(
            ForecastError, match="close-only ensemble .* reading only return, abs, ewma"
        ):
            globalmodel.for_ticker(p, m, "AAA", mixed[0][1])


def test_a_panel_whose_series_all_have_high_and_low_trains_one_ensemble(frames):
    g = globalmodel.fit_global("W", frames.items(), VOL)
    assert g.panel.close_only == [] and g.close_results == [] and g.close_choice is None
    assert "close_choice" not in g.meta() and g.params()["Wxh"].shape[0] == 2
