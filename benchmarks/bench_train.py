"""Time one training step (forward + BPTT + clipped Adam) of our kernels, PyTorch and plain NumPy.

    .venv/bin/python benchmarks/bench_train.py            # full grid, ~2-4 minutes
    .venv/bin/python benchmarks/bench_train.py --quick    # smoke run, ~30 s
    .venv/bin/python benchmarks/bench_train.py --H 32 64 --B 1 --threads 1 --skip-cli

All three run in one process on the same data: float64, T=60, D=1, head "mse" (window loss =
sum over t of 0.5 (y_t - z_t)^2, batch loss = mean over the B windows), Adam with the gradient
norm clipped over all parameters. Throughput is windows/s = B / (median seconds per step).

One window costs about 6 T H (D + H) FLOP (forward 2 T H (D + H), backward twice that), so
GFLOP/s = windows/s * 6 T H (D + H) / 1e9, compared with a 2048^2 float64 matmul's peak.

Threads: "threads = n" sets forecast.model.train.set_num_threads(n) for ours, torch.set_num_threads(n) for
torch, and caps NumPy's BLAS at n (threadpoolctl) for the NumPy reference. Ours runs inside
forecast.model.kernels.rnn.single_threaded_blas() (if it exists), as the training loop runs it.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the NumPy oracle lives with the tests
sys.path.insert(0, str(REPO))  # run from a checkout without `pip install -e .`

from reference import init_params, reference_adam, reference_loss_and_grads  # noqa: E402

T, D, O = 60, 1, 1  # time steps, input features, outputs (head "mse")
LR, BETA1, BETA2, EPS, MAX_NORM = 1e-3, 0.9, 0.999, 1e-8, 1.0
TARGETS = {  # what the project promises, checked on the matching rows
    "b1": "≥30× torch at B=1, H=32–64",
    "b64": "≥3× torch at B=64, H=64",
    "peak": "≥40% of matmul peak at H=128, B=64",
}


def flop_per_window(H):
    return 6 * T * H * (D + H)


def make_data(B, seed=0):
    """Random inputs xs (B,T,D) and targets zs (B,T), C-contiguous float64."""
    rng = np.random.default_rng(seed)
    xs = np.ascontiguousarray(rng.normal(0.0, 1.0, (B, T, D)))
    zs = np.ascontiguousarray(rng.normal(0.0, 1.0, (B, T)))
    return xs, zs


# --- the three implementations: each factory returns a no-argument `step()` ---------------------


def load_ours():
    """Import the project's kernels, or return the reason they are unavailable."""
    try:
        from forecast.model import train
        from forecast.model.kernels import rnn
        from forecast.model.kernels.adam import adam_step
    except Exception as e:  # noqa: BLE001 - any failure means "skip ours", with the reason
        return None, f"{type(e).__name__}: {e}"
    return (rnn.HEAD_IDS, rnn.init_theta, train.loss_and_grad, adam_step), None


def ours_context():
    """The BLAS pinning the training loop uses around the kernels, if forecast.model.kernels has one.

    The kernels' threads call SciPy's BLAS; left multi-threaded it oversubscribes the
    cores, so the training loop pins it, and so must a fair benchmark.
    """
    from forecast.model.kernels import rnn

    pin = getattr(rnn, "single_threaded_blas", None)
    return pin() if pin else nullcontext()


def ours_step_factory(ours, H, xs, zs):
    HEADS, init_theta, loss_and_grad, adam_step = ours
    head_id, o = HEADS["mse"], 1
    assert o == O
    theta = init_theta(D, H, O, 0)  # flat float64 parameters
    grad, m, v = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    t = [0]  # Adam's 1-based step counter

    def step():
        t[0] += 1
        loss = loss_and_grad(theta, D, H, O, head_id, xs, zs, grad)
        adam_step(theta, grad, m, v, t[0], LR, BETA1, BETA2, EPS, MAX_NORM)
        return loss

    return step


def torch_step_factory(torch, H, xs, zs):
    B = xs.shape[0]
    torch.manual_seed(0)
    rnn = torch.nn.RNN(D, H, batch_first=True, nonlinearity="tanh", dtype=torch.float64)
    lin = torch.nn.Linear(H, O, dtype=torch.float64)
    params = list(rnn.parameters()) + list(lin.parameters())
    opt = torch.optim.Adam(params, lr=LR, betas=(BETA1, BETA2), eps=EPS)
    x, z = torch.from_numpy(xs), torch.from_numpy(zs)  # (B,T,D), (B,T)

    def step():
        opt.zero_grad(set_to_none=True)
        hs, _ = rnn(x)  # (B,T,H)
        y = lin(hs)[..., 0]  # (B,T)
        loss = 0.5 * ((y - z) ** 2).sum() / B  # sum over t, mean over windows
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
        opt.step()
        return loss

    return step


def numpy_step_factory(H, xs, zs):
    params = init_params(D, H, O, np.random.default_rng(0))
    m = {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    t = [0]

    def step():
        t[0] += 1
        loss, grads = reference_loss_and_grads(params, xs, zs, "mse")
        reference_adam(params, grads, m, v, t[0], LR, BETA1, BETA2, EPS, MAX_NORM)
        return loss

    return step


# --- timing ------------------------------------------------------------------------------------


def seconds_per_step(steps, repeats, min_time, warmup=3):
    """Median seconds per step of each named step(), timed in interleaved rounds.

    steps: {name: (step, context factory)}. Each repeat times n back-to-back steps, n chosen
    so one repeat takes >= min_time; rounds alternate between implementations so a burst of
    load from other processes hits all of them rather than whichever ran at that moment.
    """
    n, times = {}, {name: [] for name in steps}
    for name, (step, context) in steps.items():
        with context():
            for _ in range(warmup):  # compile, allocate, fill caches
                step()
            t0 = time.perf_counter()
            step()
            one = max(time.perf_counter() - t0, 1e-7)
        n[name] = max(1, int(np.ceil(min_time / one)))
    for _ in range(repeats):
        for name, (step, context) in steps.items():
            with context():
                t0 = time.perf_counter()
                for _ in range(n[name]):
                    step()
                times[name].append((time.perf_counter() - t0) / n[name])
    return {name: statistics.median(ts) for name, ts in times.items()}


def blas_limit(n):
    """Cap every loaded BLAS at n threads for the duration, if threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def warn_if_busy():
    """Say so when other processes load the CPUs: 2-thread timings then collapse (a parallel
    region waits for its slowest thread, and one of ours is descheduled)."""
    load = os.getloadavg()[0]
    if load > 0.5:
        print(
            f"WARNING: 1-minute load average {load:.1f} on {os.cpu_count()} CPUs: other "
            "processes are running, multi-thread numbers are unreliable",
            flush=True,
        )


def matmul_peak(threads, repeats):
    """Best float64 GFLOP/s of a 2048x2048 @ 2048x2048 NumPy matmul at each BLAS thread count."""
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        print("threadpoolctl not installed: peak measured with the BLAS default threads only")
        threads = [None]
    n = 2048
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    peak = {}
    for k in threads:
        with blas_limit(k) if k else nullcontext():
            a @ b  # warm-up: BLAS spins up its threads
            best = min(_timed(lambda: a @ b) for _ in range(repeats))
        peak[k] = 2 * n**3 / best / 1e9
    return peak


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


# --- the cold/warm CLI and import timings --------------------------------------------------------


def run(cmd, env, timeout=900):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    return time.perf_counter() - t0, p


def delete_repo_numba_cache():
    """Delete Numba's cache files (*.nbi, *.nbc) under forecast/ and nothing else."""
    files = [p for pattern in ("*.nbi", "*.nbc") for p in (REPO / "forecast").rglob(pattern)]
    for p in files:
        p.unlink(missing_ok=True)
    return len(files)


def cli_section(args):
    tmp = Path(tempfile.mkdtemp(prefix="forecast-bench-"))
    try:
        return _cli_section(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _cli_section(args, tmp):
    print("\n## Start-up: `forecast train` cold and warm, import time\n")
    exe = Path(sys.executable).parent / "forecast"
    env = dict(os.environ, FORECAST_DATA_DIR=str(tmp / "data"))
    if args.delete_repo_cache:
        env.pop("NUMBA_CACHE_DIR", None)
        how = "after deleting forecast/**/*.nbi|*.nbc"
    else:
        # A private, empty cache directory gives a truly cold start without deleting the
        # cache files that other processes working in this checkout are using.
        env["NUMBA_CACHE_DIR"] = str(tmp / "numba-cache")
        how = f"empty NUMBA_CACHE_DIR={env['NUMBA_CACHE_DIR']}"
    results = {}

    # Import and first calls: compile with an empty cache, then load from the warm cache.
    first_calls = textwrap.dedent("""
        import time
        t0 = time.perf_counter()
        import numpy as np
        from forecast.model.kernels.adam import adam_step
        from forecast.model.kernels.rnn import HEAD_IDS, init_theta
        from forecast.model.train import loss_and_grad
        t1 = time.perf_counter()
        theta = init_theta(1, 8, 1, 0)
        g = np.zeros_like(theta)
        for B in (1, 64):  # the kernels may take a different path for small and large batches
            loss_and_grad(theta, 1, 8, 1, HEAD_IDS["mse"], np.zeros((B, 5, 1)), np.zeros((B, 5)), g)
        adam_step(theta, g, g.copy(), g.copy(), 1, 1e-3, 0.9, 0.999, 1e-8, 1.0)
        print(t1 - t0, time.perf_counter() - t1)
    """)
    if args.delete_repo_cache:
        print(f"deleted {delete_repo_numba_cache()} Numba cache files under forecast/")
    secs, p = run([sys.executable, "-c", first_calls], env)
    if p.returncode != 0:
        print(f"kernels not importable in a subprocess, skipping:\n{p.stderr.strip()[-800:]}")
    else:
        imp, calls = map(float, p.stdout.split()[-2:])
        results["first_calls_cold_s"] = calls
        print(f"cold ({how}): import {imp:.2f} s, first calls (compile) {calls:.2f} s")
        warm = [
            run([sys.executable, "-c", first_calls], env)[1].stdout.split()[-2:] for _ in range(3)
        ]
        calls_warm = statistics.median(float(c) for _, c in warm)
        results["first_calls_warm_s"] = calls_warm
        med = {}
        for name, code in [
            ("python", "pass"),
            ("numpy", "import numpy"),
            ("kernels", "import forecast.model.kernels.rnn, forecast.model.kernels.adam"),
        ]:
            med[name] = statistics.median(
                run([sys.executable, "-c", code], env)[0] for _ in range(5)
            )
        results["import_kernels_minus_numpy_s"] = med["kernels"] - med["numpy"]
        print(
            f"warm: process with `import forecast.model.kernels.rnn, .adam` {med['kernels']:.2f} s "
            f"(python alone {med['python']:.2f} s, `import numpy` {med['numpy']:.2f} s) "
            f"-> kernels import {med['kernels'] - med['numpy']:.2f} s over numpy; first calls "
            f"(cache load) {calls_warm:.2f} s"
        )

    # `forecast train AAPL`, cold then warm.
    if not exe.exists():
        print(f"{exe} not found (pip install -e .?): skipping `forecast train`")
        return results
    _, p = run([str(exe), "train", "--help"], env)
    if p.returncode != 0:
        print("`forecast train` is not available yet: skipping (the lead is wiring it up)")
        return results
    _, p = run([str(exe), "fetch", "AAPL", "--offline"], env)
    if p.returncode != 0:
        print(f"`forecast fetch AAPL --offline` failed, skipping train:\n{p.stderr.strip()}")
        return results
    train = [str(exe), "train", "AAPL", *args.train_args.split()]
    for label in ("cold", "warm"):
        if label == "cold":
            if args.delete_repo_cache:
                print(f"deleted {delete_repo_numba_cache()} Numba cache files under forecast/")
            else:
                env["NUMBA_CACHE_DIR"] = str(tmp / "numba-cache-train")  # empty again
        secs, p = run(train, env)
        if p.returncode != 0:
            print(
                f"`{' '.join(train[1:])}` failed (exit {p.returncode}):\n{p.stderr.strip()[-800:]}"
            )
            return results
        results[f"train_{label}_s"] = secs
        print(f"`forecast {' '.join(train[1:])}` {label}: {secs:.2f} s")
    print(
        f"compile share of a cold train: {results['train_cold_s'] - results['train_warm_s']:.2f} s"
    )
    return results


# --- report ------------------------------------------------------------------------------------


def fmt(x, spec="{:,.0f}"):
    return "—" if x is None else spec.format(x)


def ratio(a, b):
    return None if a is None or b is None else a / b


def target_note(row, peak):
    """Which promise this row is checked against, and whether ours meets it."""
    ours, torch_ = row["ours"], row["torch"]
    if row["B"] == 1 and row["H"] in (32, 64):
        r = ratio(ours, torch_)
        return f"{TARGETS['b1']}: " + ("?" if r is None else "met" if r >= 30 else "MISSED")
    if row["B"] == 64 and row["H"] == 64:
        r = ratio(ours, torch_)
        return f"{TARGETS['b64']}: " + ("?" if r is None else "met" if r >= 3 else "MISSED")
    if row["B"] == 64 and row["H"] == 128:
        p = peak.get(row["threads"]) or peak.get(None)
        if ours is None or not p:
            return TARGETS["peak"] + ": ?"
        pct = ours * flop_per_window(row["H"]) / 1e9 / p
        return f"{TARGETS['peak']}: {pct:.0%} " + ("met" if pct >= 0.4 else "MISSED")
    return ""


COLUMNS = ["threads", "H", "B", "ours w/s", "torch w/s", "numpy w/s", "ours/torch", "ours/numpy"]


def table_cells(row, peak):
    return [
        str(row["threads"]),
        str(row["H"]),
        str(row["B"]),
        fmt(row["ours"]),
        fmt(row["torch"]),
        fmt(row["numpy"]),
        fmt(ratio(row["ours"], row["torch"]), "{:.1f}×"),
        fmt(ratio(row["ours"], row["numpy"]), "{:.1f}×"),
        target_note(row, peak),
    ]


def print_tables(rows, peak):
    header = [*COLUMNS, "target"]
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"Training step throughput, windows/s (float64, T={T}, D={D}, mse)")
        for h in header:
            table.add_column(h, justify="left" if h == "target" else "right")
        for row in rows:
            table.add_row(*table_cells(row, peak))
        Console(width=160).print(table)
    except ImportError:
        print("  ".join(f"{h:>11}" for h in header))
        for row in rows:
            print("  ".join(f"{c:>11}" for c in table_cells(row, peak)))
    print("\nMarkdown:\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---:|" * len(COLUMNS) + ":---|")
    for row in rows:
        print("| " + " | ".join(table_cells(row, peak)) + " |")


def print_flops(rows, peak):
    print("\nAchieved float64 GFLOP/s at 6·T·H·(D+H) FLOP per window, vs 2048² matmul peak:\n")
    for k, p in peak.items():
        print(f"  matmul peak, {k or 'default'} BLAS thread(s): {p:.1f} GFLOP/s")
    for row in rows:
        if row["H"] != 128 or row["B"] != 64:
            continue
        p = peak.get(row["threads"]) or peak.get(None)
        parts = []
        for impl in ("ours", "torch", "numpy"):
            if row[impl] is not None:
                g = row[impl] * flop_per_window(row["H"]) / 1e9
                parts.append(f"{impl} {g:.1f} GFLOP/s" + (f" ({g / p:.0%})" if p else ""))
        print(f"  H=128 B=64 threads={row['threads']}: " + ", ".join(parts))
    print(f"  target: {TARGETS['peak']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 repeats of >=0.05 s; smoke run")
    ap.add_argument("--H", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--B", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=None, help="median of this many (5)")
    ap.add_argument("--min-time", type=float, default=None, help="seconds per repeat (0.3)")
    ap.add_argument("--skip", nargs="+", default=[], choices=["ours", "torch", "numpy"])
    ap.add_argument("--skip-peak", action="store_true")
    ap.add_argument("--skip-cli", action="store_true", help="no `forecast train`/import timing")
    ap.add_argument(
        "--delete-repo-cache",
        action="store_true",
        help="cold start by deleting forecast/**/*.nbi|*.nbc instead of a private NUMBA_CACHE_DIR",
    )
    ap.add_argument("--train-args", default="", help="extra arguments for `forecast train AAPL`")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    min_time = args.min_time or (0.05 if args.quick else 0.3)

    ours, why = (None, "skipped") if "ours" in args.skip else load_ours()
    if ours is None:
        print(f"ours: forecast.model.kernels not available ({why}); timing the others only")
    torch = None
    if "torch" not in args.skip:
        try:
            import torch
        except ImportError:
            print("torch not installed (`pip install -e '.[bench]'`); skipping it")
    try:
        import numba
    except ImportError:
        numba = None

    versions = [f"numpy {np.__version__}"]
    versions += [f"numba {numba.__version__}"] if numba else []
    versions += [f"torch {torch.__version__}"] if torch else []
    print(f"Python {sys.version.split()[0]}, {', '.join(versions)}, {os.cpu_count()} CPUs")
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            print(
                f"  pool: {pool['internal_api']} {pool['version']} ({pool['num_threads']} threads)"
            )
    except ImportError:
        pass
    print(f"median of {repeats} repeats, each >= {min_time} s of back-to-back steps\n")
    warn_if_busy()

    rows = []
    for n in args.threads:
        if ours:
            from forecast.model.train import set_num_threads

            set_num_threads(n)
        if torch:
            torch.set_num_threads(n)
        for H in args.H:
            for B in args.B:
                xs, zs = make_data(B)
                steps = {}
                if ours:
                    steps["ours"] = (ours_step_factory(ours, H, xs, zs), ours_context)
                if torch:
                    steps["torch"] = (torch_step_factory(torch, H, xs, zs), nullcontext)
                if "numpy" not in args.skip:
                    steps["numpy"] = (numpy_step_factory(H, xs, zs), lambda n=n: blas_limit(n))
                secs = seconds_per_step(steps, repeats, min_time)
                row = {"threads": n, "H": H, "B": B, "ours": None, "torch": None, "numpy": None}
                row.update({name: B / s for name, s in secs.items()})
                rows.append(row)
                print(
                    f"threads={n} H={H:>3} B={B:>2}: ours {fmt(row['ours']):>8}  "
                    f"torch {fmt(row['torch']):>8}  numpy {fmt(row['numpy']):>8} windows/s",
                    flush=True,
                )

    peak = {} if args.skip_peak else matmul_peak(args.threads, 3 if args.quick else 5)
    print()
    print_tables(rows, peak)
    if peak:
        print_flops(rows, peak)
    warn_if_busy()
    cli = {} if args.skip_cli else cli_section(args)
    if args.json:
        out = {"rows": rows, "peak_gflops": {str(k): v for k, v in peak.items()}, "startup": cli}
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
