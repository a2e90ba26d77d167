"""make quality's harness on two short series with a tiny RNN: it runs, in parallel, and its
table and per-series CSV say what the backtest said."""

import math
import sys
from pathlib import Path

import numpy as np
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


def test_seed_reseeds_the_rnn_and_nothing_else(universe, tmp_path):
    """--seed N trains the RNN from another seed (the noise floor of --compare): the same seed
    gives the same rows, another seed other RNN rows and the same yardsticks."""

    def run(seed: int, name: str) -> pd.DataFrame:
        out = tmp_path / name
        args = ["--universe", str(universe), "--series", "AAA", "--out", str(out)]
        args += ["--test-days", "20", "--refit-every", "10", "--horizon", "1"]
        args += ["--max-train", "150", "--window", "10", "--hidden", "4", "--epochs", "2"]
        args += ["--paths", "50", "--jobs", "1", "--seed", str(seed)]
        assert quality.main(args) == 0
        return pd.read_csv(out)

    first, again, other = run(0, "a.csv"), run(0, "b.csv"), run(7, "c.csv")
    pd.testing.assert_frame_equal(first, again)
    rnn = first["model"] == "rnn"
    pd.testing.assert_frame_equal(first[~rnn], other[~rnn])
    assert not np.allclose(first.loc[rnn, "crps"], other.loc[rnn, "crps"], rtol=0, atol=0)


@pytest.mark.parametrize("option", [["--seed", "-1"], ["--hidden", "0"], ["--epochs", "0"]])
def test_a_bad_rnn_setting_is_one_line_before_any_series_runs(option, universe, capsys):
    with pytest.raises(SystemExit) as ended:
        quality.main(["--universe", str(universe), "--series", "AAA", *option])
    message = str(ended.value.code)
    assert message.startswith("error: ") and option[0] in message and "\n" not in message
    assert "quality:" not in capsys.readouterr().err  # refused before the run began


def test_another_universe_runs_exactly_its_own_csvs(tmp_path):
    """--universe DIR (an unseen set) gets no samples added; the development universe does,
    but a universe's own file of a sample's name is the one run: never two GSPC series."""
    for stem in ("GSPC", "ZZZ"):
        (tmp_path / f"{stem}.csv").write_text("Date,Close\n")
    own = [tmp_path / "GSPC.csv", tmp_path / "ZZZ.csv"]
    assert quality.series_paths(tmp_path, None, samples=False) == own
    with_samples = quality.series_paths(tmp_path, None)
    assert with_samples == own + [p for p in quality.SAMPLES if p.stem == "AAPL"]
    assert quality.series_paths(tmp_path, ["GSPC"]) == own[:1]


def test_an_unknown_series_is_refused(universe):
    with pytest.raises(SystemExit, match="no series named NOPE"):
        quality.main(["--universe", str(universe), "--series", "NOPE"])


def test_close_only_copies_lose_high_and_low():
    from forecast.model.features import has_range
    from forecast.prices import read_price_csv

    prices = read_price_csv(ROOT / "data" / "samples" / "AAPL.csv", "AAPL")
    copy = quality.close_only(prices)
    assert has_range(prices) and not has_range(copy)
    assert (copy["Adj Close"] == prices["Adj Close"]).all()  # the returns are the same


def test_the_split_file_has_both_kinds_of_series_in_each_half():
    split = quality.read_split()
    assert set(split["half"]) == {"screening", "confirmation"}
    for _, half in split.groupby("half"):
        assert set(half["data"]) == {"close", "ohlc"}
    copies = split[split["close_only_copy"]]
    assert (copies["data"] == "ohlc").all() and (copies["half"] == "confirmation").all()
    assert {p.stem for p in quality.SAMPLES} <= set(split.index)


def test_a_series_the_split_does_not_place_is_found(tmp_path):
    """make quality refuses a universe that does not match the split file (quality.unsplit):
    its real universe is checked there, where ../shared is; here a folder made for the test."""
    split = quality.read_split()
    universe = [s for s in split.index if s not in {p.stem for p in quality.SAMPLES}]
    for stem in universe[1:] + ["NEW"]:  # one series lost, one new
        (tmp_path / f"{stem}.csv").write_text("Date,Close\n")
    paths = quality.series_paths(tmp_path, None)
    assert quality.unsplit(split, paths) == (["NEW"], [universe[0]])
    (tmp_path / "NEW.csv").unlink()
    (tmp_path / f"{universe[0]}.csv").write_text("Date,Close\n")
    assert quality.unsplit(split, quality.series_paths(tmp_path, None)) == ([], [])


def test_jobs_add_close_only_copies_of_the_marked_series(tmp_path):
    split = pd.DataFrame(
        {"half": ["screening", "confirmation"], "data": ["ohlc"] * 2, "close_only_copy": [0, 1]},
        index=pd.Index(["AAA", "BBB"], name="series"),
    ).astype({"close_only_copy": bool})
    paths = [tmp_path / "AAA.csv", tmp_path / "BBB.csv"]
    names = {c: [j["name"] for j in quality.make_jobs(paths, split, c)] for c in ("split", "all")}
    assert names == {
        "split": ["AAA", "BBB", "BBB~close"],
        "all": ["AAA", "AAA~close", "BBB", "BBB~close"],
    }
    assert quality.make_jobs(paths, split, "none") == [
        {"path": str(p), "name": p.stem} for p in paths
    ]


def test_the_subset_table_puts_models_side_by_side_per_subset():
    split = pd.DataFrame(
        {
            "half": ["confirmation"] * 3,
            "data": ["ohlc", "ohlc", "close"],
            "close_only_copy": [1, 0, 0],
        },
        index=pd.Index(["A", "B", "C"], name="series"),
    )
    rows = []
    ratios = {  # series: (rnn W95, rnn CRPS, egarch W95, egarch CRPS)
        "A": (0.90, 0.95, 0.92, 0.96),
        "B": (0.95, 0.99, 0.93, 0.98),
        "C": (0.80, 0.90, 0.85, 0.91),
        "A~close": (0.97, 0.99, 0.96, 0.97),
    }
    for series, (rw, rc, ew, ec) in ratios.items():
        for model, w, c in (("rnn", rw, rc), ("egarch", ew, ec)):
            rows.append(
                {
                    "series": series,
                    "model": model,
                    "h": 1,
                    "interval_score_rel": w,
                    "crps_rel": c,
                    "coverage_80": 0.8,
                    "coverage_95": 0.95,
                }
            )
    frame = quality.with_subsets(pd.DataFrame(rows), split)
    assert list(frame.loc[frame["series"] == "A~close", "data"].unique()) == ["close"]
    text = quality.subset_table(frame, [1])
    lines = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()[2:]}
    assert list(lines) == ["confirmation", "confirmation close-only", "confirmation High/Low"]
    # all four: rnn medians 0.925 / 0.97, egarch 0.925 / 0.965; wins A, C (W95) and A, C (CRPS)
    assert lines["confirmation"] == (
        "| confirmation | 4 | 1 | 0.925 / 0.9700 | 0.925 / 0.9650 | 2 / 2 of 4 | 0.800 / 0.950 |"
    )
    assert (
        "| confirmation close-only | 2 | 1 | 0.885 / 0.9450 |" in lines["confirmation close-only"]
    )
    assert "| 1 / 1 of 2 |" in lines["confirmation High/Low"]


def test_compare_pairs_two_runs_by_series_and_means_the_log_changes():
    split = pd.DataFrame(
        {"half": ["screening"] * 3, "data": ["ohlc", "ohlc", "close"], "close_only_copy": 0},
        index=pd.Index(["A", "B", "C"], name="series"),
    )

    def run(model, ratios):  # series: (learned W95, CRPS); EGARCH at W95 1.0, CRPS 1.0
        rows = []
        for series, (w, c) in ratios.items():
            for name, wi, ci in ((model, w, c), ("egarch", 1.0, 1.0)):
                rows.append(
                    {"series": series, "model": name, "h": 1}
                    | {"interval_score_rel": wi, "crps_rel": ci}
                )
        return pd.DataFrame(rows)

    e = math.e
    base = run("rnn", {"A": (1.0, 1.0), "B": (1.0, 1.0), "C": (1.0, 1.0)})
    # a --global run, one series fewer: only the series both runs have are compared
    variant = run("global", {"A": (e**-0.02, e**0.01), "B": (e**0.01, e**0.01), "D": (0.5, 0.5)})
    text = quality.compare_table(base, variant, [1], split)
    lines = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()[2:]}
    assert list(lines) == ["screening"]  # C is not in the variant: no close-only row
    assert lines["screening"] == (
        "| screening | 2 | 1 | −0.50% | 1 of 2 | +1.00% | 0 of 2 | +0.00% | −0.50% "
        "| [−19.56%, +18.56%] | [+1.00%, +1.00%] |"  # t(1) = 12.706: two series say little
    )


def test_compare_gives_the_paired_t_interval_of_each_mean_change():
    split = pd.DataFrame(
        {"half": ["screening"] * 3, "data": ["ohlc"] * 3, "close_only_copy": 0},
        index=pd.Index(["A", "B", "C"], name="series"),
    )
    rows = [
        {"series": s, "model": m, "h": 1, "interval_score_rel": 1.0, "crps_rel": 1.0}
        for s in "ABC"
        for m in ("rnn", "egarch")
    ]
    base = pd.DataFrame(rows)
    change = {"A": -0.03, "B": -0.01, "C": -0.02}  # mean −2%, sd 1%: SE 1%/√3
    variant = base.copy()
    rnn = variant["model"] == "rnn"
    variant.loc[rnn, "interval_score_rel"] = np.exp(variant.loc[rnn, "series"].map(change))
    line = quality.compare_table(base, variant, [1], split).splitlines()[2]
    # t(2)'s 97.5% point is 4.3027: −2% ± 4.3027 × 0.5774% = [−4.48%, +0.48%], holds 0
    assert line.endswith("| [−4.48%, +0.48%] | [+0.00%, +0.00%] |")
    assert "| −2.00% | 3 of 3 |" in line


def test_compare_reads_two_csvs_from_the_command_line(tmp_path, capsys):
    rows = [
        {"series": s, "model": m, "h": h, "interval_score_rel": w, "crps_rel": 1.0}
        for s in ("AAPL", "DJI")
        for h in (1, 5)
        for m, w in (("rnn", 0.9), ("egarch", 1.0))
    ]
    base, variant = tmp_path / "base.csv", tmp_path / "variant.csv"
    pd.DataFrame(rows).to_csv(base, index=False)
    pd.DataFrame(rows).assign(interval_score_rel=0.9 * math.exp(0.03)).to_csv(variant, index=False)
    assert quality.main(["--compare", str(base), str(variant)]) == 0
    out = capsys.readouterr().out  # the committed split: AAPL and DJI are both screening
    assert "| screening | 2 | 5 | +3.00% | 0 of 2 |" in out
    assert "| screening close-only | 1 | 1 | +3.00% | 0 of 1 |" in out


@pytest.mark.parametrize("option", ["--compare", "--table"])
def test_a_missing_csv_is_one_line_saying_which(option, tmp_path):
    there = tmp_path / "there.csv"
    pd.DataFrame({"series": ["A"], "model": ["rnn"], "h": [1]}).to_csv(there, index=False)
    with pytest.raises(SystemExit) as ended:
        quality.main([option, str(there), str(tmp_path / "gone.csv")])
    message = str(ended.value.code)
    assert message.startswith("error: no such CSV ") and "gone.csv" in message
    assert "\n" not in message


def test_compare_reads_close_only_series_outside_the_split_from_the_data_column():
    split = pd.DataFrame(  # places another series only: X and Y are unsplit
        {"half": ["screening"], "data": ["ohlc"], "close_only_copy": [0]},
        index=pd.Index(["Z"], name="series"),
    )
    rows = [
        {"series": s, "data": d, "model": m, "h": 1, "interval_score_rel": w, "crps_rel": 1.0}
        for s, d in (("X", "close"), ("Y", "ohlc"))
        for m, w in (("rnn", 1.0), ("egarch", 1.0))
    ]
    base = pd.DataFrame(rows)
    variant = base.assign(interval_score_rel=math.exp(-0.01))
    lines = quality.compare_table(base, variant, [1], split).splitlines()[2:]
    assert [line.split(" | ")[0].lstrip("| ") for line in lines] == [
        "all",
        "close-only",
        "High/Low",
    ]
    assert lines[1].startswith("| close-only | 1 | 1 | −1.00% | 1 of 1 |")
