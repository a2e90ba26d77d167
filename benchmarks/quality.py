"""make quality: the backtest protocol over many real series, every model against the random walk.

    .venv/bin/python benchmarks/quality.py                       # the universe + samples (make quality)
    .venv/bin/python benchmarks/quality.py --series AAPL,SPY --test-days 100    # a quick subset

Protocol (forecast.evaluation.backtest.run_backtest, the same as `forecast backtest TICKER --test-days 500
--refit-every 20 --horizon 5 --max-train 2500`): the last 500 closes of each series are the
1-day targets; every model is refitted every 20 origins on at most the last 2,500 returns up to
and including the origin's close; horizons 1..5 are scored on every origin whose target exists.
Series: every CSV in ../shared/data/universe/ (read with forecast.prices.read_price_csv, so a
missing Adj Close is the Close) and the shipped samples data/samples/AAPL.csv and GSPC.csv;
with --universe DIR, exactly the CSVs in DIR.

The split (benchmarks/universe_split.csv, fixed before any model was compared on it): a
`screening` half that model changes are chosen on, and a `confirmation` half that only says
whether a chosen change generalises; each half has close-only and High/Low series. Series the
file marks `close_only_copy` run twice: as they are and as `NAME~close`, with High and Low
dropped (High = Low = Close, as a Date,Close import reads), so the close-only subset is more
than the three close-only indices. The subset table gives medians per subset (a half, and its
close-only and High/Low series apart) with every model side by side and the series where the
RNN beats EGARCH. `--compare BASE.csv VARIANT.csv` pairs two runs series by series: the
mean change of log Winkler 95 and log CRPS per subset, how a design change is judged (screen
on one half, confirm on the other).

Per series, scores are divided by the constant-volatility random walk's (`naive`) on the same
cases; the table shows, per model and horizon, medians across series with inter-quartile
ranges [Q1, Q3] in brackets (coverage as it is), and on how many series the model's CRPS beats
the random walk's and the best baseline's (the baseline with the lowest CRPS on that series,
as `forecast backtest` picks it; "–" for the baselines themselves). Lower is better for
Winkler 95, CRPS and price MAE. Per-series rows go to --out (CSV).

The series run in parallel processes (--jobs, default one per core), each single-threaded
(BLAS, Numba and the BPTT threads) so that the processes do not fight over cores.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: every process single-threaded

import argparse  # noqa: E402
import functools  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

from forecast.config import CELLS  # noqa: E402  light: no numpy

ROOT = Path(__file__).resolve().parents[1]
UNIVERSE = ROOT.parent / "shared" / "data" / "universe"
SAMPLES = [ROOT / "data" / "samples" / "AAPL.csv", ROOT / "data" / "samples" / "GSPC.csv"]
SPLIT = ROOT / "benchmarks" / "universe_split.csv"
CLOSE = "~close"  # suffix of a series run with its High and Low dropped
OUT = ROOT / "bench_out" / "quality_series.csv"
SCORES = ("coverage_80", "coverage_95", "interval_score", "crps", "mae", "nll")
RELATIVE = ("interval_score", "crps", "mae")  # ÷ naive's on the same series and horizon


def series_paths(universe: Path, names: list[str] | None, samples: bool = True) -> list[Path]:
    """Every CSV of the universe, plus the shipped samples when `samples` (the development
    universe: the split places them), or those whose stem is in names. A universe's own file
    of a sample's name is the one used: one series, one set of rows."""
    paths = sorted(universe.glob("*.csv"))
    if samples:
        paths += [p for p in SAMPLES if p.stem not in {q.stem for q in paths}]
    if names:
        paths = [p for p in paths if p.stem in names]
        missing = set(names) - {p.stem for p in paths}
        if missing:
            sys.exit(
                f"error: no series named {', '.join(sorted(missing))} in {universe} or samples"
            )
    return paths


def read_split(path: Path = SPLIT):
    """The split file: one row per series (index: its stem) with half, data and close_only_copy."""
    import pandas as pd

    split = pd.read_csv(path, dtype=str).set_index("series")
    split["close_only_copy"] = split["close_only_copy"] == "yes"
    return split


def close_only(prices):
    """prices without their High and Low: High = Low = Open = Close, as a Date,Close import."""
    return prices.assign(Open=prices["Close"], High=prices["Close"], Low=prices["Close"])


def unsplit(split, paths: list[Path]) -> tuple[list[str], list[str]]:
    """(series of `paths` the split file does not place, split rows with no series): both
    empty when every series of the development universe is in exactly one half."""
    stems = {p.stem for p in paths}
    return sorted(stems - set(split.index)), sorted(set(split.index) - stems)


def make_jobs(paths: list[Path], split, copies: str) -> list[dict]:
    """One job per series, plus a close-only copy (NAME~close) of each series that `copies`
    names: "split" those the split file marks, "all" every one, "none" none. A copy of a
    series without High and Low is skipped when it runs (it would repeat the series)."""
    jobs = []
    for p in paths:
        jobs.append({"path": str(p), "name": p.stem})
        marked = p.stem in split.index and bool(split.loc[p.stem, "close_only_copy"])
        if copies == "all" or (copies == "split" and marked):
            jobs.append({"path": str(p), "name": p.stem + CLOSE, "close_only": True})
    return jobs


def run_series(job: dict) -> dict:
    """One series through run_backtest (in a worker process): rows per model and horizon."""
    from forecast.config import TrainConfig
    from forecast.evaluation.backtest import BASELINES, run_backtest
    from forecast.model.features import has_range
    from forecast.model.train import set_num_threads
    from forecast.prices import read_price_csv

    set_num_threads(1)
    path = Path(job["path"])
    name = job.get("name", path.stem)
    t0 = time.perf_counter()
    try:
        prices = read_price_csv(path, path.stem)
        if job.get("close_only"):
            if not has_range(prices):  # already close-only: the copy would repeat it
                return {"series": name, "rows": [], "seconds": 0.0, "skipped": True}
            prices = close_only(prices)
        cfg = TrainConfig(**job["config"])
        fit = global_fit(job["global"], path.stem) if job.get("global") else None
        result = run_backtest(prices, cfg, **job["options"], ticker=name, fit=fit)
    except Exception as e:  # one bad series must not end the benchmark
        return {
            "series": name,
            "error": f"{type(e).__name__}: {e}",
            "tb": traceback.format_exc(),
        }
    m = result.metrics
    best = result.best_baseline
    rows = []
    rnn = "global" if job.get("global") else "rnn"  # the name of this run's RNN in the rows
    series, data = name, "ohlc" if has_range(prices) else "close"
    for model, per_h in m.items():
        for k, r in enumerate(per_h):
            rw, ref = m["naive"][k], m[best][k]
            name = rnn if model == "rnn" else model
            row = {"series": series, "model": name, "h": r["horizon"], "n": r["n"]}
            row.update({s: r[s] for s in SCORES})
            row.update({f"{s}_rel": r[s] / rw[s] for s in RELATIVE})
            row["best_baseline"] = best
            row["beats_rw"] = r["crps"] < rw["crps"]
            row["beats_best"] = r["crps"] < ref["crps"] if model not in BASELINES else None
            row["unconverged_fits"] = sum(model in f.unconverged for f in result.folds)
            row["data"] = data
            rows.append(row)
    return {"series": series, "rows": rows, "seconds": time.perf_counter() - t0}


# --- --global: one RNN over all the series, refitted on a shared calendar ---------------------


def fold_dates(paths: list[Path], options: dict, cfg) -> list:
    """The dates the global model is refitted at: every series' fold starts (its first origin
    of each run of refit_every origins, as run_backtest cuts them), thinned so that two refits
    are at least 4 weeks apart. A series' fold then uses the newest global fit on or before
    its first origin: all series cut at that calendar date, never later than the origin."""
    import numpy as np
    import pandas as pd

    from forecast.evaluation.backtest import _validate
    from forecast.prices import read_price_csv

    starts = []
    for path in paths:
        index = read_price_csv(path, path.stem).index
        o = options
        first = _validate(
            len(index),
            cfg,
            o["horizon"],
            o["refit_every"],
            o["test_days"],
            o["n_paths"],
            o["max_train"],
        )
        idx = np.arange(first, len(index) - 1)
        starts.extend(index[idx[:: o["refit_every"]]])
    kept = []
    for d in sorted(set(starts)):
        if not kept or d - kept[-1] >= pd.Timedelta(days=28):
            kept.append(d)
    return kept


@functools.cache
def _prices(path: str):
    """A series' prices, parsed once per worker process (a global refit reads every series;
    parsing all 27 took ~1 s, a tenth of a refit)."""
    from forecast.prices import read_price_csv

    return read_price_csv(Path(path), Path(path).stem)


def fit_global_at(job: dict) -> dict:
    """One global model (in a worker process) on every series cut at job["date"], each to
    its last max_train returns as the per-ticker refits are: {date, params, meta}."""
    from forecast.config import TrainConfig
    from forecast.model import globalmodel
    from forecast.model.train import set_num_threads

    set_num_threads(1)
    date, cap = job["date"], job["max_train"] + 1
    frames = []
    for p in job["paths"]:
        f = _prices(p)
        frames.append((Path(p).stem, f.loc[f.index <= date].iloc[-cap:]))
    g = globalmodel.fit_global("QUALITY", frames, TrainConfig(**job["config"]))
    return {"date": date, "params": g.params(), "meta": g.meta()}


def global_fit(models: list[dict], ticker: str):
    """run_backtest's fit: the newest global model fitted on or before the fold's origin,
    calibrated on this ticker's own days after its cut (forecast.model.globalmodel.for_ticker)."""
    from forecast.model import globalmodel

    def fit(train, origin):
        g = [m for m in models if m["date"] <= origin][-1]
        return globalmodel.for_ticker(g["params"], g["meta"], ticker, train)

    return fit


def _quartiles(values) -> tuple[float, float, float]:
    import numpy as np

    q1, q2, q3 = np.nanpercentile(np.asarray(values, float), [25, 50, 75])
    return q1, q2, q3


def table(frame, horizons: list[int], models: list[str]) -> str:
    """The markdown summary: medians [IQR] across series, per model and horizon, and counts of
    series where the model beats the random walk (Winkler 95, CRPS) and the best baseline (CRPS)."""
    n_series = frame["series"].nunique()
    lines = [
        "| model | h | coverage 80 | coverage 95 | Winkler 95 | CRPS | price MAE "
        "| beats RW: W95 / CRPS | beats best: CRPS |",
        "|---|---:|---|---|---|---|---|---:|---:|",
    ]

    def cell(values, fmt):
        q1, q2, q3 = _quartiles(values)
        return f"{q2:{fmt}} [{q1:{fmt}}, {q3:{fmt}}]"

    for model in models:
        for h in horizons:
            f = frame[(frame["model"] == model) & (frame["h"] == h)]
            if f.empty:
                continue
            w95 = int((f["interval_score_rel"] < 1).sum())
            crps = int((f["crps_rel"] < 1).sum())
            rw = "–" if model == "naive" else f"{w95} / {crps} of {n_series}"
            beats_best = f["beats_best"].dropna()
            best = (
                "–" if beats_best.empty else f"{int(beats_best.astype(bool).sum())} of {n_series}"
            )
            lines.append(
                f"| {model} | {h} | {cell(f['coverage_80'], '.3f')} | {cell(f['coverage_95'], '.3f')} "
                f"| {cell(f['interval_score_rel'], '.3f')} | {cell(f['crps_rel'], '.4f')} "
                f"| {cell(f['mae_rel'], '.4f')} | {rw} | {best} |"
            )
    return "\n".join(lines)


SIDE_BY_SIDE = ("rnn", "global", "drift", "ewma", "garch", "egarch")  # naive: 1 by definition


def with_subsets(frame, split):
    """frame with `half` (screening, confirmation or unsplit) and `data` (ohlc or close) per
    row: from the split file by the series' stem; data from the rows where they carry it."""
    stems = frame["series"].str.removesuffix(CLOSE)
    half = stems.map(split["half"]).fillna("unsplit")
    data = frame["data"] if "data" in frame else stems.map(split["data"]).fillna("ohlc")
    data = data.where(~frame["series"].str.endswith(CLOSE), "close")
    return frame.assign(half=half, data=data)


def subsets(frame) -> list[tuple[str, object]]:
    """(name, rows) of each subset worth a row: every half, then its close-only and High/Low
    series apart, confirmation first; then all series if there is more than one half. A
    subset with the same series as one before it is left out."""
    out, seen = [], []
    halves = [h for h in ("confirmation", "screening", "unsplit") if h in set(frame["half"])]
    for half in halves:
        f = frame[frame["half"] == half]
        name = "" if half == "unsplit" else half
        out.append((name or "all", f))
        for data, label in (("close", "close-only"), ("ohlc", "High/Low")):
            out.append((f"{name} {label}".strip(), f[f["data"] == data]))
    if len(halves) > 1:
        out.append(("all", frame))
    kept = []
    for name, f in out:
        key = frozenset(f["series"])
        if f.empty or key in seen:
            continue
        seen.append(key)
        kept.append((name, f))
    return kept


def subset_table(frame, horizons: list[int]) -> str:
    """Per subset and horizon: every model's median Winkler 95 / CRPS (÷ the random walk's) side
    by side, on how many series the per-ticker and global RNN beat EGARCH (Winkler 95 / CRPS),
    and their median coverage 80 / 95."""
    models = [m for m in SIDE_BY_SIDE if m in set(frame["model"])]
    rnns = [m for m in ("rnn", "global") if m in models]
    head = ["subset", "series", "h", *(f"{m} W95 / CRPS" for m in models)]
    head += [f"{m} beats egarch W95 / CRPS" for m in rnns if "egarch" in models]
    head += [f"{m} cov 80 / 95" for m in rnns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, f in subsets(frame):
        n = f["series"].nunique()
        for h in horizons:
            fh = f[f["h"] == h]
            if fh.empty:
                continue
            by = {m: fh[fh["model"] == m].set_index("series") for m in models}
            cells = [name, str(n), str(h)]
            for m in models:
                g = by[m]
                cells.append(
                    f"{g['interval_score_rel'].median():.3f} / {g['crps_rel'].median():.4f}"
                    if len(g)
                    else "–"
                )
            if "egarch" in models:
                eg = by["egarch"]
                for m in rnns:
                    g = by[m].join(eg.add_suffix("_eg"), how="inner")
                    w = int((g["interval_score_rel"] < g["interval_score_rel_eg"]).sum())
                    c = int((g["crps_rel"] < g["crps_rel_eg"]).sum())
                    cells.append(f"{w} / {c} of {len(g)}")
            for m in rnns:
                g = by[m]
                cells.append(f"{g['coverage_80'].median():.3f} / {g['coverage_95'].median():.3f}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def learned(frame):
    """The learned model's rows of a run: "rnn", or "global" for a --global run's CSV."""
    model = "rnn" if (frame["model"] == "rnn").any() else "global"
    return frame[frame["model"] == model]


def compare_table(base, variant, horizons: list[int], split) -> str:
    """Per subset and horizon, a variant run against a base run on the series both have: the
    mean over series of the change in log Winkler 95 and log CRPS of the learned model
    (negative: the variant is better) with the series it improves, and each run's mean of
    log(its Winkler 95 / EGARCH's). Means of paired logs, not medians: the verdict the
    screening and confirmation halves are read by (README, "Issue 15"). Last, the 95%
    interval of each mean change (paired t over series): a change whose interval holds 0 is
    not told apart from noise by this many series.
    """
    import numpy as np

    keys = ["series", "h"]
    scores = ["interval_score_rel", "crps_rel"]
    data = ["data"] if "data" in base else []  # close or ohlc, for series the split lacks
    both = learned(base)[keys + data + scores].merge(
        learned(variant)[keys + scores], on=keys, suffixes=("_a", "_b")
    )
    for run, frame in (("a", base), ("b", variant)):
        eg = frame[frame["model"] == "egarch"][keys + ["interval_score_rel"]]
        both = both.merge(
            eg.rename(columns={"interval_score_rel": f"eg_{run}"}), on=keys, how="left"
        )
    head = [
        "subset",
        "series",
        "h",
        "Δ log W95",
        "W95 better",
        "Δ log CRPS",
        "CRPS better",
        "base vs egarch W95",
        "variant vs egarch W95",
        "Δ W95 95% interval",
        "Δ CRPS 95% interval",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def pct(x) -> str:
        return f"{100 * x:+.2f}%".replace("-", "−")

    def interval(d) -> str:  # the mean of d over series ± t(n − 1) standard errors
        if len(d) < 2:
            return "–"
        from scipy.stats import t

        half = t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        return f"[{pct(d.mean() - half)}, {pct(d.mean() + half)}]"

    for name, f in subsets(with_subsets(both, split)):
        for h in horizons:
            g = f[f["h"] == h]
            if g.empty:
                continue
            dw = np.log(g["interval_score_rel_b"] / g["interval_score_rel_a"])
            dc = np.log(g["crps_rel_b"] / g["crps_rel_a"])
            n = len(g)
            lines.append(
                f"| {name} | {n} | {h} | {pct(dw.mean())} | {int((dw < 0).sum())} of {n} "
                f"| {pct(dc.mean())} | {int((dc < 0).sum())} of {n} "
                f"| {pct(np.log(g['interval_score_rel_a'] / g['eg_a']).mean())} "
                f"| {pct(np.log(g['interval_score_rel_b'] / g['eg_b']).mean())} "
                f"| {interval(dw)} | {interval(dc)} |"
            )
    return "\n".join(lines)


def summary(frame, horizons: list[int], split=None) -> str:
    """What make quality prints: the heading, the table, and which baseline was best where."""
    from forecast.evaluation.backtest import MODELS

    n = frame["series"].nunique()
    best = frame.drop_duplicates("series")["best_baseline"].value_counts()
    return "\n".join(
        [
            f"Medians across {n} series [inter-quartile range]; Winkler 95, CRPS and price MAE "
            "divided by the constant-volatility random walk's (naive) on the same series; "
            "lower is better.",
            "",
            table(frame, horizons, [m for m in (*MODELS, "global") if m in set(frame["model"])]),
            "",
            "best baseline per series (lowest CRPS): "
            + ", ".join(f"{b} {c}" for b, c in best.items()),
            "",
            "By subset (medians of the ratios to the random walk; NAME~close: the series "
            "with High and Low dropped):",
            "",
            subset_table(with_subsets(frame, read_split() if split is None else split), horizons),
        ]
    )


def horizons_shown(show_h: str | None, last: int) -> list[int]:
    """The horizons a table shows: --show-h's list, else 1 and the last; sorted, once each."""
    return sorted({int(h) for h in show_h.split(",")} if show_h else {1, int(last)})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", help="comma-separated stems to run (e.g. AAPL,SPY); default all")
    ap.add_argument(
        "--universe",
        type=Path,
        default=UNIVERSE,
        help="folder of CSVs, run as they are (the samples join only the default universe)",
    )
    ap.add_argument(
        "--half",
        choices=("all", "screening", "confirmation"),
        default="all",
        help="which half of the split to run (without --series) [all]",
    )
    ap.add_argument(
        "--close-only",
        choices=("split", "all", "none"),
        default="split",
        help="also run close-only copies (NAME~close, High and Low dropped) of the series the "
        "split file marks, of every series, or of none [split]",
    )
    ap.add_argument("--split", type=Path, default=SPLIT, help=f"the split file [{SPLIT.name}]")
    ap.add_argument("--test-days", type=int, default=500)
    ap.add_argument("--refit-every", type=int, default=20)
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--max-train", type=int, default=2500)
    ap.add_argument("--paths", type=int, default=500, help="sampled RNN paths per origin")
    ap.add_argument(
        "--epochs", type=int, default=None, help="maximum epochs per refit [default: train's]"
    )
    ap.add_argument("--window", type=int, default=None)
    ap.add_argument("--hidden", type=int, default=None)
    ap.add_argument("--cell", choices=CELLS, default=None, help="[elman]")
    ap.add_argument(
        "--seed",
        type=int,
        default=None,
        help="the RNN's training seed [0]; the members train from seeds seed..seed+4, so "
        "--seed 5 shares none with the default: the same code reseeded, --compare's noise floor",
    )
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument(
        "--show-h", default=None, help="horizons in the table (default: 1 and the last)"
    )
    ap.add_argument(
        "--global",
        dest="global_model",
        action="store_true",
        help="one global RNN over all the series (refitted on a shared calendar) instead of "
        "one per series; its rows are named 'global'",
    )
    ap.add_argument("--out", type=Path, default=None, help=f"per-series CSV [{OUT}]")
    ap.add_argument(
        "--table",
        type=Path,
        nargs="+",
        help="only print the table of earlier runs' CSVs (several: their rows together, e.g. a "
        "per-ticker run and a --global run)",
    )
    ap.add_argument(
        "--compare",
        type=Path,
        nargs=2,
        metavar=("BASE", "VARIANT"),
        help="only compare two earlier runs' CSVs: the variant's change against the base per "
        "subset (mean change of log Winkler 95 and log CRPS, series better)",
    )
    args = ap.parse_args(argv)

    import pandas as pd

    for csv in (*(args.compare or ()), *(args.table or ())):
        if not Path(csv).is_file():
            sys.exit(f"error: no such CSV {csv}; give the --out of an earlier run")
    if args.compare is not None:
        base, variant = (pd.read_csv(p) for p in args.compare)
        shown = horizons_shown(args.show_h, base["h"].max())
        print(compare_table(base, variant, shown, read_split(args.split)))
        return 0

    if args.table is not None:
        frame = pd.concat([pd.read_csv(t) for t in args.table]).drop_duplicates(
            ["series", "model", "h"]
        )
        print(summary(frame, horizons_shown(args.show_h, frame["h"].max()), read_split(args.split)))
        return 0

    from forecast.files import atomic_write_bytes

    split = read_split(args.split)
    names = [s.strip() for s in args.series.split(",")] if args.series else None
    if names is None and args.half != "all":
        names = list(split.index[split["half"] == args.half])
    # another folder (an unseen set) runs exactly its own CSVs: no samples added to it
    paths = series_paths(args.universe, names, samples=args.universe == UNIVERSE)
    if names is None and args.universe == UNIVERSE:  # a new or lost series must be placed
        missing, extra = unsplit(split, paths)
        if missing or extra:
            sys.exit(
                f"error: {args.split} does not match {UNIVERSE}: not in the split "
                f"{missing or 'none'}, no such series {extra or 'none'}; edit the split file"
            )
    given = (
        *(("epochs", args.epochs), ("window", args.window), ("hidden", args.hidden)),
        *(("cell", args.cell), ("seed", args.seed)),
    )
    # the rest: TrainConfig's defaults, as `train` uses
    config = {k: v for k, v in given if v is not None}
    from forecast.config import TrainConfig
    from forecast.errors import ForecastError

    try:  # a bad --seed or --hidden: one line now, not one failure per series
        TrainConfig(**config)
    except ForecastError as e:
        sys.exit(f"error: {e}")
    options = {
        "horizon": args.horizon,
        "refit_every": args.refit_every,
        "test_days": args.test_days,
        "max_train": args.max_train,
        "n_paths": args.paths,
    }
    out = args.out or (OUT.with_name("quality_global.csv") if args.global_model else OUT)
    jobs = [
        {**job, "config": config, "options": options}
        for job in make_jobs(paths, split, args.close_only)
    ]
    print(
        f"quality: {len(jobs)} series, --test-days {args.test_days} --refit-every "
        f"{args.refit_every} --horizon {args.horizon} --max-train {args.max_train}, "
        f"RNN {config}{' global' if args.global_model else ''}, {args.jobs} processes",
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    rows, failed = [], []
    # spawn: fresh interpreters that read the thread settings above before numpy loads
    pool = mp.get_context("spawn").Pool(processes=args.jobs) if args.jobs > 1 else None
    imap = pool.imap_unordered if pool is not None else map  # map: in this process, to debug
    if args.global_model:
        dates = fold_dates(paths, options, TrainConfig(**config))
        fits = [
            {
                "date": d,
                "paths": [str(p) for p in paths],
                "config": config,
                "max_train": args.max_train,
            }
            for d in dates
        ]
        models = []
        for done, g in enumerate(imap(fit_global_at, fits), start=1):
            models.append(g)
            if done % 10 == 0 or done == len(fits):
                print(f"  global fits: {done}/{len(fits)}", file=sys.stderr)
        models.sort(key=lambda g: g["date"])
        for job in jobs:
            job["global"] = models
    results = imap(run_series, jobs)
    try:
        for done, res in enumerate(results, start=1):
            status = f"FAILED {res['error']}" if "error" in res else f"{res['seconds']:.0f} s"
            status = "skipped: no High and Low to drop" if res.get("skipped") else status
            print(f"  [{done}/{len(jobs)}] {res['series']}: {status}", file=sys.stderr)
            if "error" in res:
                failed.append(res)
            else:
                rows.extend(res["rows"])
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    wall = time.perf_counter() - t0
    if not rows:
        print("error: every series failed", file=sys.stderr)
        return 1
    frame = pd.DataFrame(rows).sort_values(["series", "model", "h"], kind="stable")
    atomic_write_bytes(out, frame.to_csv(index=False, lineterminator="\n").encode())
    print(summary(frame, horizons_shown(args.show_h, args.horizon), split))
    print(f"per-series rows: {out}")
    print(f"run time: {wall:.0f} s ({wall / 60:.1f} min) on {args.jobs} processes")
    for f in failed:
        print(f"failed: {f['series']}: {f['error']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
