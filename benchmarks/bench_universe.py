"""Universe throughput: per-ticker models on 1..all cores, and a global model's epoch on 1..all threads.

    make bench-universe                                     # 16, 64, 256 series (long on 2 cores)
    .venv/bin/python benchmarks/bench_universe.py --sizes 8 16 --epochs 2     # a small run
    .venv/bin/python benchmarks/bench_universe.py --memory 500                # parent RSS, 500 tickers

Series: the CSVs of the development universe (../shared/data/universe, or --universe-dir), cut
to their last --days rows; when more series are asked for than there are files, resampled
copies: a seeded block bootstrap (20-day blocks) of a file's log returns, so copies keep
volatility clustering but are distinct series.

Per-ticker part: for each size S and each job count j (1, 2, 4, ... and all cores), train S
models with forecast.universe.jobs.Runner(jobs=j) and forecast.universe.many.train_universe — exactly what
`forecast train --universe FILE --jobs j` does, saves included — with --epochs fixed (patience
= epochs, so every model runs the same epochs). Reported: training windows/s (windows × epochs
/ wall time), tickers/minute, and parallel efficiency = speed-up over j = 1 divided by j.
Each model also pays its calibration (sampled paths) and its save, as in real use.

Global part: one panel of the largest size S (every window, stride 1), batch --global-batch,
one epoch of the training loop (forward + BPTT + Adam over all training windows, then the
validation loss, both on threads) with forecast.model.train.set_num_threads(n) for n = 1, 2, ...
all cores, for each H in --global-hidden (32 and 64). Reported: training
windows/s and efficiency; the issue's yardstick is PyTorch on an H200, float32, B=512: 213k
windows/s at H=32.

--memory N: N synthetic tickers (2,500 days each) are cached in a temporary data directory and
trained with --jobs all, 1 epoch, H=8 (with --global: as one global model, in this process);
the parent's peak resident memory (ru_maxrss) is printed.
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without `pip install -e .`

from forecast import prices  # noqa: E402
from forecast.config import TrainConfig  # noqa: E402
from forecast.universe import many  # noqa: E402
from forecast.universe.jobs import Runner, default_jobs  # noqa: E402

UNIVERSE = REPO.parent / "shared" / "data" / "universe"
BLOCK = 20  # bootstrap block length in days: keeps a month of volatility clustering together


def read_universe(folder: Path, days: int) -> list[tuple[str, pd.DataFrame]]:
    out = []
    for path in sorted(folder.glob("*.csv")):
        ticker = prices.validate_symbol(path.stem)
        out.append((ticker, prices.read_price_csv(path, ticker).iloc[-days:]))
    if not out:
        raise SystemExit(f"no CSV files in {folder}; give --universe-dir")
    return out


def resampled(base: pd.DataFrame, days: int, seed: int) -> pd.DataFrame:
    """A new price series of `days` rows: a block bootstrap of base's log returns."""
    rng = np.random.default_rng(seed)
    r = np.diff(np.log(base["Adj Close"].to_numpy(np.float64)))
    blocks = [r[s : s + BLOCK] for s in rng.integers(0, len(r) - BLOCK, days // BLOCK + 1)]
    r = np.concatenate(blocks)[: days - 1]
    close = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    hl = np.exp(np.abs(rng.normal(0, 0.01, days)))
    return pd.DataFrame(
        {
            "Open": close,
            "High": close * hl,
            "Low": close / hl,
            "Close": close,
            "Adj Close": close,
            "Volume": rng.integers(1_000_000, 2_000_000, days),
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=pd.bdate_range(end="2019-12-31", periods=days, name="Date"),
    )


def series(n: int, real: list, days: int) -> list[tuple[str, pd.DataFrame]]:
    """The first n real series, then resampled copies named R0001, R0002, ..."""
    out = list(real[:n])
    k = 0
    while len(out) < n:
        ticker, base = real[k % len(real)]
        k += 1
        out.append((f"R{k:04d}", resampled(base, days, seed=k)))
    return out


def cache(data_dir: Path, frames) -> None:
    """Write the frames as cached prices (CSV + sidecar), as `forecast fetch` leaves them."""
    with tempfile.TemporaryDirectory() as tmp:
        for ticker, frame in frames:
            csv = Path(tmp) / "x.csv"
            frame.to_csv(csv)
            prices.import_csv(ticker, csv, data_dir)


def job_counts(cores: int) -> list[int]:
    counts = [1]
    while counts[-1] * 2 < cores:
        counts.append(counts[-1] * 2)
    return counts + [cores] if cores > 1 else counts


def bench_per_ticker(frames, sizes, cfg, cores):
    print(f"\nper-ticker models: H={cfg.hidden}, T={cfg.window}, {cfg.epochs} epochs each")
    print(
        f"{'series':>7} {'jobs':>5} {'wall s':>8} {'windows/s':>11} {'tickers/min':>12} {'efficiency':>11}"
    )
    results = []
    for S in sizes:
        subset = frames[:S]
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp)
            cache(data_dir, subset)
            tickers = [t for t, _ in subset]
            base = None
            for j in job_counts(cores):
                t0 = time.perf_counter()
                with Runner(jobs=j) as runner:
                    rows = many.train_universe(tickers, data_dir, cfg, runner, lambda r: None)
                wall = time.perf_counter() - t0
                bad = [r for r in rows if not r.ok]
                if bad:
                    print(f"  {len(bad)} failed, e.g. {bad[0].ticker}: {bad[0].error}")
                n_windows = sum(_train_windows(f, cfg) for _, f in subset) * cfg.epochs
                rate = n_windows / wall
                base = base or rate
                eff = rate / base / j
                print(
                    f"{S:>7} {j:>5} {wall:>8.1f} {rate:>11,.0f} {60 * S / wall:>12.1f} {eff:>10.0%}"
                )
                results.append((S, j, wall, rate, eff))
    return results


def _train_windows(frame, cfg) -> int:
    from forecast.model.features import split_days

    s = split_days(len(frame) - 1, cfg.window, cfg.val_fraction)
    return s.cut - cfg.window


def bench_global(frames, cfg, batch, cores, hiddens):
    """One epoch of the training loop over a panel's windows, 1..cores threads, per H."""
    from forecast.model import train
    from forecast.model.panel import build_panel
    from forecast.model.train import fit_theta

    # every window of every series (stride 1, the gaussian head's windows), as one array: the
    # threads gather their own batch rows from it, as they do from a vol panel's windows
    panel = build_panel(frames, ("return",), cfg.window, "gaussian", cfg.val_fraction)
    xs, zs = np.asarray(panel.train[0]), np.asarray(panel.train[1])
    n = len(xs)
    for H in hiddens:
        one = TrainConfig(
            window=cfg.window, hidden=H, epochs=1, batch_size=batch, seed=cfg.seed, loss="gaussian"
        )
        print(
            f"\nglobal model epoch: {len(panel.tickers)} series, {n:,} training windows, "
            f"{len(panel.val[0]):,} validation windows, H={H}, T={cfg.window}, B={batch}"
        )
        print(f"{'threads':>8} {'epoch s':>8} {'windows/s':>11} {'efficiency':>11}")
        fit_theta((xs, zs), panel.val, one)  # compile / warm caches
        base = None
        for k in job_counts(cores):
            train.set_num_threads(k)
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                fit_theta((xs, zs), panel.val, one)
                times.append(time.perf_counter() - t0)
            wall = min(times)
            rate = n / wall
            base = base or rate
            print(f"{k:>8} {wall:>8.2f} {rate:>11,.0f} {rate / base / k:>10.0%}")


def bench_memory(n: int, real, days: int, cores: int, keep: Path | None, pooled: bool):
    import forecast.model.checkpoint  # noqa: F401  everything the parent needs, loaded before timing
    import forecast.model.estimator  # noqa: F401

    cfg = TrainConfig(window=20, hidden=8, epochs=1, patience=1)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = keep or Path(tmp)
        # a cached ticker is its sidecar prices/TICKER.json (its CSV is TICKER.<sha12>.csv)
        have = len(list((data_dir / "prices").glob("*.json"))) if keep else 0
        if have < n:
            t0 = time.perf_counter()
            cache(data_dir, (item for item in series(n, real, days)))
            print(f"\ncached {n} tickers x {days} days in {time.perf_counter() - t0:.0f} s")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tickers = sorted(p.stem for p in (data_dir / "prices").glob("*.json"))[:n]
        t0 = time.perf_counter()
        if pooled:  # one global model: the panel of every ticker is in this process
            from forecast import api

            report = api.train_global("MEMORY", tickers, data_dir, cfg)
            ok, how = len(report.fit.panel.tickers), "as one global model"
        else:
            with Runner(jobs=cores) as runner:
                rows = many.train_universe(tickers, data_dir, cfg, runner, lambda r: None)
            ok, how = sum(r.ok for r in rows), f"with {cores} jobs"
        wall = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"trained {ok}/{len(tickers)} {how} in {wall:.0f} s; parent peak RSS "
            f"{peak:,.0f} MiB ({before:,.0f} MiB before the run, which includes making the data)"
        )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    p.add_argument("--days", type=int, default=2500, help="rows per series (the last ones)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--window", type=int, default=60)
    p.add_argument("--cores", type=int, default=default_jobs())
    p.add_argument("--global-batch", type=int, default=512)
    p.add_argument("--global-hidden", type=int, nargs="+", default=[32, 64])
    p.add_argument("--skip-per-ticker", action="store_true")
    p.add_argument("--skip-global", action="store_true")
    p.add_argument("--memory", type=int, default=0, metavar="N")
    p.add_argument("--keep", type=Path, help="--memory: cache the tickers here and reuse them")
    p.add_argument(
        "--global", dest="pooled", action="store_true", help="--memory: one global model"
    )
    p.add_argument("--universe-dir", type=Path, default=UNIVERSE)
    a = p.parse_args()
    real = read_universe(a.universe_dir, a.days)
    print(
        f"{os.cpu_count()} CPUs, using {a.cores}; {len(real)} real series from {a.universe_dir}; "
        f"numpy {np.__version__}"
    )
    if a.memory:
        bench_memory(a.memory, real, a.days, a.cores, a.keep, a.pooled)
        return
    cfg = TrainConfig(window=a.window, hidden=a.hidden, epochs=a.epochs, patience=a.epochs, seed=0)
    frames = series(max(a.sizes), real, a.days)
    if not a.skip_per_ticker:
        small = TrainConfig(window=a.window, hidden=4, epochs=1)
        many.fit_one(*frames[0], small)  # compile the kernels into the disk cache workers load
        bench_per_ticker(frames, a.sizes, cfg, a.cores)
    if not a.skip_global:
        bench_global(frames, cfg, a.global_batch, a.cores, a.global_hidden)


if __name__ == "__main__":
    main()
