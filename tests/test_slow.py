"""Long runs at the real defaults (`make test-slow`): what `make test` checks on small shapes."""

import os
import subprocess
import sys

import pytest

from forecast.config import TrainConfig, models_dir
from forecast.evaluation.backtest import run_backtest
from forecast.prices import load_prices

pytestmark = pytest.mark.slow


def forecast(data_dir, *args):
    env = {k: v for k, v in os.environ.items() if k != "FORECAST_DATA_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "forecast", "--data-dir", str(data_dir), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("ticker", ["AAPL", "^GSPC"])
def test_default_training_is_bit_identical_across_processes(tmp_path, ticker):
    blobs = []
    for name in ("a", "b"):
        forecast(tmp_path / name, "fetch", ticker, "--offline")
        forecast(tmp_path / name, "train", ticker)
        (npz,) = models_dir(tmp_path / name).glob(f"{ticker}.*.npz")
        blobs.append(npz.read_bytes())
    assert blobs[0] == blobs[1]


def test_default_backtest_on_aapl_is_calibrated_and_claims_no_false_skill(tmp_path):
    forecast(tmp_path, "fetch", "AAPL", "--offline")
    result = run_backtest(load_prices("AAPL", tmp_path), TrainConfig(epochs=15))
    rnn = result.metrics["rnn"]
    naive = result.metrics["naive"]
    assert all(row["rel_mae"] == 1.0 for row in naive)
    # conformal bands from each fold's own validation errors: out of sample they should cover
    # roughly what they claim (245 overlapping origins, so a wide tolerance)
    for row in rnn:
        assert 0.85 <= row["coverage_95"] <= 1.0
        assert 0.65 <= row["coverage_80"] <= 0.95
    assert result.verdict.startswith("RNN: no skill")  # daily AAPL: a random walk is as good
