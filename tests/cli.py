"""The one way tests drive the real CLI in process, and the series they share.

run(data_dir, "train", "AAPL", ...)   forecast --data-dir DIR train AAPL ...
invoke("fetch", "AAPL")               forecast fetch AAPL (FORECAST_DATA_DIR decides)
write_universe(d, n_days)             three series on common dates, from the shipped samples
"""

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from forecast.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
runner = CliRunner()


def invoke(*args, **kwargs):
    """`forecast ARGS...`, in this process; arguments may be paths or numbers."""
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def run(data_dir, *args, **kwargs):
    """`forecast --data-dir DATA_DIR ARGS...`, in this process."""
    return invoke("--data-dir", data_dir, *args, **kwargs)


def write_universe(folder: Path, n_days: int = 600) -> dict[str, Path]:
    """CSV files for three series over the same n_days sessions, made from what the repo ships
    (so no test needs ../shared): SPY is the S&P 500 sample's last n_days, GLD the AAPL
    sample on those dates, INTC a seeded regime-switching series on their first half only (it
    ends before a global model's calendar cut: it trains, never validates)."""
    from synthetic import regime_returns  # tests/ is on sys.path (pyproject: pythonpath)

    spx = pd.read_csv(SAMPLES / "GSPC.csv", index_col="Date", parse_dates=True).iloc[-n_days:]
    aapl = pd.read_csv(SAMPLES / "AAPL.csv", index_col="Date", parse_dates=True)
    aapl = aapl.loc[spx.index[0] : spx.index[-1]]
    dates = spx.index[: n_days // 2]
    r, _ = regime_returns(len(dates) - 1, seed=7)
    close = 50.0 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    intc = pd.DataFrame(
        {
            "Open": close,
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Adj Close": close,
            "Volume": 1_000_000,
        },
        index=dates,
    )
    paths = {}
    for ticker, frame in {"SPY": spx, "GLD": aapl, "INTC": intc}.items():
        paths[ticker] = folder / f"{ticker}.csv"
        frame.to_csv(paths[ticker], index_label="Date", date_format="%Y-%m-%d")
    return paths
