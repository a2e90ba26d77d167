"""make quality's harness on two short series with a tiny RNN: it runs, in parallel, and its
table and per-series CSV say what the backtest said."""

import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import quality  # noqa: E402

from forecast.evaluation.backtest import MODELS  # noqa: E402


@pytest.fixture
def universe(tmp_path):
    """Two short real series; one without Adj Close (read as Close, like BA.csv)."""
    folder = tmp_path / "universe"
    folder.mkdir()
    aapl = pd.read_csv(ROOT / "data" / "samples" / "AAPL.csv").iloc[-260:]
    aapl.to_csv(folder / "AAA.csv", index=False)
    gspc = pd.read_csv(ROOT / "data" / "samples" / "GSPC.csv").iloc[-240:]
    gspc.drop(columns=["Adj Close"]).to_csv(folder / "BBB.csv", index=False)
    return folder


def test_the_harness_runs_two_series_in_parallel(universe, tmp_path, capsys):
    out = tmp_path / "rows.csv"
    args = ["--universe", str(universe), "--series", "AAA,BBB", "--out", str(out)]
    args += ["--test-days", "25", "--refit-every", "10", "--horizon", "2", "--max-train", "150"]
    args += ["--window", "10", "--hidden", "4", "--epochs", "2", "--paths", "50", "--jobs", "2"]
    assert quality.main(args) == 0
    text = capsys.readouterr().out
    rows = pd.read_csv(out)
    assert set(rows["series"]) == {"AAA", "BBB"}
    assert len(rows) == 2 * len(MODELS) * 2  # series × models × horizons
    assert list(rows.loc[rows["h"] == 1, "n"].unique()) == [25]
    assert list(rows.loc[rows["h"] == 2, "n"].unique()) == [24]
    naive = rows[rows["model"] == "naive"]
    assert (naive[["interval_score_rel", "crps_rel", "mae_rel"]] == 1.0).all().all()
    for model in MODELS:  # every model has a table row at h = 1 and h = 2
        assert f"| {model} | 1 |" in text and f"| {model} | 2 |" in text
    assert "Medians across 2 series" in text and "run time:" in text
    # the table's CRPS median for the RNN at h = 1 is the median of the CSV's rows
    rnn1 = rows[(rows["model"] == "rnn") & (rows["h"] == 1)]
    line = next(s for s in text.splitlines() if s.startswith("| rnn | 1 |"))
    assert f"{rnn1['crps_rel'].median():.4f} [" in line
    w95, crps = int((rnn1["interval_score_rel"] < 1).sum()), int(rnn1["beats_rw"].sum())
    assert f"| {w95} / {crps} of 2 |" in line
    # the table of a saved run, without running it again
    assert quality.main(["--table", str(out)]) == 0
    assert line in capsys.readouterr().out


def test_an_unknown_series_is_refused(universe):
    with pytest.raises(SystemExit, match="no series named NOPE"):
        quality.main(["--universe", str(universe), "--series", "NOPE"])
