"""`forecast train` and `forecast predict` through the real CLI, on the shipped AAPL sample."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli import run

import forecast.model.train as train_mod
from forecast.config import TrainConfig, models_dir
from forecast.prices import load_prices

SMALL = ["--window", "20", "--hidden", "8", "--epochs", "2"]


def files(d: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def assert_one_line_error(result, message, code=1):
    """Exit code `code`, one `error:` line naming the problem, no traceback, nothing on stdout."""
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def assert_usage_error(result, message):
    """Click's usage error: exit code 2."""
    assert_one_line_error(result, message, code=2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A data directory with the AAPL sample fetched and a small model trained on it."""
    d = tmp_path_factory.mktemp("data")
    assert run(d, "fetch", "AAPL", "--offline").exit_code == 0
    result = run(d, "train", *SMALL)  # no ticker: the most recently fetched
    assert result.exit_code == 0, result.output
    return d


def test_train_writes_a_model_and_a_summary(trained):
    assert len(list(models_dir(trained).glob("AAPL.*.npz"))) == 1  # named by its hash
    meta = json.loads((models_dir(trained) / "AAPL.json").read_text())
    assert meta["ticker"] == "AAPL" and meta["config"]["window"] == 20
    assert meta["dates"]["train_last"] < meta["dates"]["val_first"]
    assert len(meta["fingerprint"]) == 64 and meta["versions"]["numba"]
    blend = meta["vol"]["blend"]  # what the variance is: RNN and EGARCH, weights per horizon
    assert blend["model"] == "egarch" and blend["chosen"] in ("rnn", "egarch")


def test_train_summary_says_which_variance_was_chosen():
    from forecast.cli.display import blend_text

    assert blend_text("rnn", 1.004) == (
        "the RNN's (EGARCH's validation CRPS ×1.004 of the RNN's at 1-5 days)"
    )
    assert blend_text("egarch", 0.95).startswith("EGARCH's, recalibrated: the fallback")


def test_a_window_longer_than_the_data_fails_at_run_time(trained):
    before = files(trained)
    assert_one_line_error(run(trained, "train", "AAPL", "--window", "1000"), "--window 1000")
    assert files(trained) == before


@pytest.mark.parametrize(
    "args,message",
    [
        (["--window", "1"], "'--window'"),
        (["--hidden", "0"], "'--hidden'"),
        (["--loss", "hinge"], "'hinge' is not one of 'gaussian', 'mse', 'direction'"),
        (["--epochs", "0"], "'--epochs'"),
        (["--features", "return,sentiment"], "'--features'"),
        (["--features", "range"], "give 'return' first"),
        (["--seed", "-1"], "'--seed'"),
        (["--bogus"], "No such option"),
        (["--cell", "lstm"], "'--cell'"),
    ],
)
def test_bad_train_options_are_usage_errors_and_keep_the_model(trained, args, message):
    before = files(trained)
    assert_usage_error(run(trained, "train", "AAPL", *args), message)
    assert files(trained) == before


def test_a_gated_cell_trains_saves_and_predicts(trained, tmp_path):
    """--cell gru end to end: the model file says the cell (config.cell, shapes.G) and predict
    reads it back; a JSON that claims Elman for gated weights is refused."""
    d = copy_of(trained, tmp_path)
    result = run(d, "train", "AAPL", *SMALL, "--ensemble", "1", "--cell", "gru")
    assert result.exit_code == 0, result.output
    assert "cell gru" in result.stdout
    path = models_dir(d) / "AAPL.json"
    meta = json.loads(path.read_text())
    assert meta["config"]["cell"] == "gru" and meta["shapes"]["G"] == 3
    assert "H=8 gru" in run(d, "models").stdout
    predicted = run(d, "predict", "--days", "3", "--json")
    assert predicted.exit_code == 0, predicted.output
    assert len(json.loads(predicted.stdout)["forecasts"]) == 3
    meta["config"]["cell"] = "elman"
    path.write_text(json.dumps(meta))
    assert_one_line_error(run(d, "predict"), "retrain with `forecast train AAPL`")


def test_train_without_prices_says_to_fetch(tmp_path):
    assert_one_line_error(run(tmp_path, "train", "MSFT"), "forecast fetch MSFT")
    assert_one_line_error(run(tmp_path, "train"), "forecast fetch")


def test_diverging_training_saves_nothing(trained, monkeypatch):
    before = files(trained)
    monkeypatch.setattr(train_mod, "loss_and_grad", lambda *a: float("nan"))
    assert_one_line_error(run(trained, "train", "AAPL", *SMALL), "diverged")
    assert files(trained) == before


def test_predict_table_and_fan_chart(trained):
    result = run(trained, "predict", "--days", "5")
    assert result.exit_code == 0, result.output
    assert "2023-09-22" in result.stdout and "2023-09-28" in result.stdout
    assert "95% band" in result.stdout and "σ day" in result.stdout
    # the vol head's median and P(up) are the same every day: said once, not tabled
    assert "forecasts spread, not direction" in result.stdout
    header = next(line for line in result.stdout.splitlines() if "95% band" in line)
    assert "median" not in header and "P(" not in header
    assert "VaR 99%" in result.stdout and "ES 95%" in result.stdout
    assert "trading days ago" in result.stderr  # the 2023 sample is stale today


def test_predict_levels_var_and_short(trained):
    """Any band level; the 95% band holds the 80% band and every edge widens with the horizon;
    VaR_a is the (2a − 1) band's edge read as a loss; ES beyond VaR; --short reads the upper."""
    args = ["predict", "--days", "8", "--json", "--level", "80", "--level", "90"]
    long = json.loads(run(trained, *args, "--level", "95", "--var", "95").stdout)
    short = json.loads(run(trained, *args, "--var", "95", "--short").stdout)
    assert long["levels"] == [0.8, 0.9, 0.95] and long["var_levels"] == [0.95]
    assert long["position"] == "long" and short["position"] == "short"
    last = long["last_close"]
    rows = long["forecasts"]
    for f, g in zip(rows, short["forecasts"], strict=True):
        assert f["lower_95"] <= f["lower_90"] <= f["lower_80"] < f["upper_80"] <= f["upper_90"]
        assert f["upper_90"] <= f["upper_95"]
        assert f["var_95"] == pytest.approx(1 - f["lower_90"] / last, rel=1e-12)
        assert g["var_95"] == pytest.approx(g["upper_90"] / last - 1, rel=1e-12)
        assert f["es_95"] > f["var_95"] > 0 and g["es_95"] > g["var_95"] > 0
        assert f["var_95_price"] == pytest.approx(last * f["var_95"])
        assert f["sigma_cum_ann"] == pytest.approx(
            f["sigma_cum"] * np.sqrt(252 / (rows.index(f) + 1))
        )
    for key in ("lower_95", "lower_80"):
        assert np.all(np.diff([f[key] for f in rows]) <= 0), key  # edges never come back in
    for key in ("upper_95", "upper_80", "sigma_cum"):
        assert np.all(np.diff([f[key] for f in rows]) >= 0), key


@pytest.mark.parametrize(
    "args, message",
    [
        (["--level", "99.9"], "between 50 and 99.9"),
        (["--level", "40"], "between 50 and 99.9"),
        (["--var", "95", "--var", "95"], "given twice"),
        (["--sort", "beauty"], "beauty: give one of"),
    ],
)
def test_bad_predict_levels_are_usage_errors(trained, args, message):
    assert_usage_error(run(trained, "predict", *args), message)


def test_var_on_a_direction_model_is_a_usage_error(trained, tmp_path):
    d = tmp_path / "dir"
    assert run(d, "fetch", "AAPL", "--offline").exit_code == 0
    assert run(d, "train", *SMALL, "--loss", "direction").exit_code == 0
    assert_usage_error(run(d, "predict", "--var", "99"), "no distribution")
    result = run(d, "predict", "--json")  # without --var: no VaR columns, no error
    assert result.exit_code == 0 and "var_99" not in json.loads(result.stdout)["forecasts"][0]


def test_predict_json_has_the_documented_keys_and_skips_holidays(trained, tmp_path):
    # cut the cache to end on 2023-09-01 (Fri): Monday 2023-09-04 is Labor Day
    frame = load_prices("AAPL", trained)  # the cache CSV is named by its hash
    d = tmp_path / "d"
    d.mkdir()
    csv = tmp_path / "cut.csv"
    frame.loc[:"2023-09-01"].to_csv(csv)
    assert run(d, "fetch", "AAPL", "--csv", str(csv)).exit_code == 0
    assert run(d, "train", *SMALL).exit_code == 0
    result = run(d, "predict", "AAPL", "--days", "3", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["ticker"] == "AAPL" and out["last_date"] == "2023-09-01"
    assert out["last_close"] == pytest.approx(frame.loc["2023-09-01", "Adj Close"])
    assert [f["date"] for f in out["forecasts"]] == ["2023-09-05", "2023-09-06", "2023-09-07"]
    keys = {"date", "median", "lower_80", "upper_80", "lower_95", "upper_95", "p_up"}
    for f in out["forecasts"]:
        assert keys <= f.keys()
        assert f["lower_95"] <= f["lower_80"] <= f["median"] <= f["upper_80"] <= f["upper_95"]
        assert 0.0 <= f["p_up"] <= 1.0


def test_predict_plot_writes_a_png(trained, tmp_path):
    png = tmp_path / "fan.png"
    result = run(trained, "predict", "--days", "3", "--plot", str(png))
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("days", ["0", "61", "abc"])
def test_predict_days_out_of_range_or_not_a_number_is_a_usage_error(trained, days):
    assert_usage_error(run(trained, "predict", "--days", days), "'--days'")


def test_predict_without_a_model_says_to_train(tmp_path):
    assert run(tmp_path, "fetch", "AAPL", "--offline").exit_code == 0
    assert_one_line_error(run(tmp_path, "predict"), "no trained model yet; run `forecast train")
    assert_one_line_error(run(tmp_path, "predict", "AAPL"), "run `forecast train AAPL`")


def test_predict_refuses_a_tampered_model(trained, tmp_path):
    d = tmp_path / "copy"
    for p, data in files(trained).items():
        q = d / p.relative_to(trained)
        q.parent.mkdir(parents=True, exist_ok=True)
        q.write_bytes(data)
    (npz,) = models_dir(d).glob("AAPL.*.npz")
    npz.write_bytes(npz.read_bytes()[:-100])  # truncated
    assert_one_line_error(run(d, "predict"), "retrain")


def test_predict_warns_when_prices_changed_since_training(trained, tmp_path):
    frame = load_prices("AAPL", trained)  # the cache CSV is named by its hash
    d = tmp_path / "d"
    d.mkdir()
    csv = tmp_path / "a.csv"
    frame.to_csv(csv)
    assert run(d, "fetch", "AAPL", "--csv", str(csv)).exit_code == 0
    assert run(d, "train", *SMALL).exit_code == 0
    frame["Adj Close"] *= 0.98  # a new dividend re-adjusts the whole history
    frame.to_csv(csv)
    assert run(d, "fetch", "AAPL", "--csv", str(csv)).exit_code == 0
    result = run(d, "predict")
    assert result.exit_code == 0
    assert "differ from those the model was trained on" in result.stderr


def test_training_is_bit_identical_across_processes(tmp_path):
    """Same data, options and seed in two separate processes: the same weight bytes."""
    env = {k: v for k, v in os.environ.items() if k != "FORECAST_DATA_DIR"}
    blobs = []
    for name in ("a", "b"):
        d = tmp_path / name
        for args in (["fetch", "AAPL", "--offline"], ["train", *SMALL, "--batch-size", "40"]):
            subprocess.run(
                [sys.executable, "-m", "forecast", "--data-dir", str(d), *args],
                check=True,
                capture_output=True,
                env=env,
            )
        blobs += [p.read_bytes() for p in models_dir(d).glob("AAPL.*.npz")]
    assert len(blobs) == 2 and blobs[0] == blobs[1]
    whh = np.load(io.BytesIO(blobs[0]), allow_pickle=False)["Whh"]
    assert whh.shape == (TrainConfig().ensemble, 8, 8)  # the vol ensemble: a member axis


@pytest.mark.parametrize("cached", [False, True])
def test_first_run_says_the_kernels_compile(trained, monkeypatch, cached):
    import forecast.model.kernels

    monkeypatch.setattr(forecast.model.kernels, "is_cached", lambda: cached)
    result = run(trained, "train", *SMALL)
    assert result.exit_code == 0, result.output
    assert ("compiling the Numba kernels" in result.stderr) is not cached


def test_kernels_report_their_cache(trained):
    from forecast.model.kernels import is_cached

    assert is_cached()  # the fixture trained, so the training kernel is in Numba's cache


def copy_of(trained, tmp_path) -> Path:
    d = tmp_path / "copy"
    for p, data in files(trained).items():
        q = d / p.relative_to(trained)
        q.parent.mkdir(parents=True, exist_ok=True)
        q.write_bytes(data)
    return d


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["config"].update(hidden=16),  # the weights have H=8
        lambda m: m["config"].update(loss="mse"),  # the weights have O=2
        lambda m: m["config"].update(cell="gru"),  # the weights are Elman's
        lambda m: m["config"].update(features=["return", "range"]),  # D=1 weights
        lambda m: m["scaler"].update(std=[0.0]),
        lambda m: m["scaler"].update(mean=[]),
        lambda m: m["calibration"].update(levels=[0.5, 0.9]),
        lambda m: m.pop("fingerprint"),
        lambda m: m.pop("calibration"),
    ],
)
def test_predict_refuses_json_that_disagrees_with_the_weights(trained, tmp_path, edit):
    d = copy_of(trained, tmp_path)
    path = models_dir(d) / "AAPL.json"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))
    assert_one_line_error(run(d, "predict"), "retrain with `forecast train AAPL`")


@pytest.mark.parametrize("command", ["train", "predict", "backtest"])
def test_an_empty_ticker_is_refused_not_taken_as_the_latest(trained, command):
    assert_one_line_error(run(trained, command, ""), "symbol")


def test_predict_seed_out_of_range(trained):
    assert_usage_error(run(trained, "predict", "--seed", "-1"), "'--seed'")


def test_predict_plot_into_a_missing_or_unwritable_folder(trained, tmp_path):
    assert_one_line_error(
        run(trained, "predict", "--plot", str(tmp_path / "no" / "x.png")), "does not exist"
    )
    assert not (tmp_path / "no").exists()
    blocked = tmp_path / "blocked.png"
    blocked.mkdir()  # a folder where the PNG should go: refused before any work
    assert_one_line_error(run(trained, "predict", "--plot", str(blocked)), "that is a folder")


def test_predict_with_a_cache_that_starts_after_training(trained, tmp_path):
    """Train on all of it, then replace the cache by a later range: warn, don't crash."""
    d = copy_of(trained, tmp_path)
    frame = load_prices("AAPL", trained)  # the cache CSV is named by its hash
    csv = tmp_path / "later.csv"
    frame.loc["2023-01-01":].to_csv(csv)  # the model was trained through 2023-09-21
    meta = json.loads((models_dir(d) / "AAPL.json").read_text())
    meta["last_fit_date"] = "2022-12-30"  # as if trained on an earlier range
    (models_dir(d) / "AAPL.json").write_text(json.dumps(meta))
    assert run(d, "fetch", "AAPL", "--csv", str(csv)).exit_code == 0
    result = run(d, "predict")
    assert result.exit_code == 0, result.output
    assert "differ from those the model was trained on" in result.stderr


def test_the_same_seed_gives_the_same_first_days_for_any_horizon(trained):
    short = json.loads(run(trained, "predict", "--days", "3", "--json").stdout)["forecasts"]
    long = json.loads(run(trained, "predict", "--days", "8", "--json").stdout)["forecasts"]
    for a, b in zip(short, long[:3], strict=True):
        assert a["median"] == b["median"] and a["upper_95"] == b["upper_95"]


def test_the_api_returns_risk_as_a_tidy_frame(trained):
    """api.risk and RNNForecaster.risk: one row per day and level, the same numbers as the
    forecast table's columns."""
    from forecast import api
    from forecast.model.estimator import RNNForecaster

    tidy = api.risk("AAPL", trained, 3, var_levels=(0.95, 0.99), n_paths=300, seed=1)
    pred = api.predict("AAPL", trained, 3, n_paths=300, seed=1, var_levels=(0.95, 0.99))
    assert list(tidy.columns) == [
        *("date", "h", "level", "position", "sigma", "sigma_cum"),
        *("var", "es", "var_price", "es_price"),
    ]
    assert len(tidy) == 6 and set(tidy["level"]) == {0.95, 0.99}
    wide = tidy.pivot(index="date", columns="level", values="var")
    np.testing.assert_array_equal(wide[0.99].to_numpy(), pred.table["var_99"].to_numpy())
    params, meta = checkpoint_files(trained)
    model = RNNForecaster.from_checkpoint(params, meta)
    frame = load_prices("AAPL", trained)
    own = model.risk(frame, 3, var_levels=(0.99,), n_paths=300, seed=1)
    np.testing.assert_allclose(own["es"].to_numpy(), pred.table["es_99"].to_numpy(), rtol=1e-12)


def checkpoint_files(data_dir):
    from forecast.model import checkpoint

    return checkpoint.load_model(data_dir, "AAPL")


def test_an_old_model_file_without_scores_still_predicts_and_says_which_levels_are_gaussian(
    trained, tmp_path
):
    """Model files saved before the calibration kept its scores: the stored 80%/95% bands are
    unchanged; other levels (and the VaR levels' bands) use the Gaussian factor, with a warning."""
    import shutil

    d = tmp_path / "old"
    shutil.copytree(trained, d)
    path = models_dir(d) / "AAPL.json"
    meta = json.loads(path.read_text())
    del meta["calibration"]["scores"], meta["calibration"]["held_out"]
    path.write_text(json.dumps(meta))
    new = json.loads(run(trained, "predict", "--days", "3", "--json").stdout)["forecasts"]
    result = run(d, "predict", "--days", "3", "--json")
    assert result.exit_code == 0, result.output
    old = json.loads(result.stdout)["forecasts"]
    for a, b in zip(old, new, strict=True):
        assert a["lower_80"] == b["lower_80"] and a["upper_95"] == b["upper_95"]
    assert "90%, 98% bands use the Gaussian factor" in result.stderr
