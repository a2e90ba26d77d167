"""benchmarks/bench_universe.py's memory run, tiny: it must find the tickers it cached (their
sidecars, prices/TICKER.json; the CSVs are content-addressed) and train every one."""

import sys
from pathlib import Path

from synthetic import prices_from_returns, regime_returns

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_universe  # noqa: E402


def test_the_memory_run_trains_every_ticker_it_cached(tmp_path, capsys):
    real = [(f"S{k}", prices_from_returns(regime_returns(400, seed=k)[0])) for k in range(2)]
    closes = real[1][1].assign(High=real[1][1]["Close"], Low=real[1][1]["Close"])
    real.append(("C", closes))  # close-only: the global model trains its second ensemble
    for pooled, how in ((False, "with 1 jobs"), (True, "as one global model")):
        bench_universe.bench_memory(4, real, 400, 1, tmp_path / "data", pooled)
        out = capsys.readouterr().out
        assert f"trained 4/4 {how}" in out, out
