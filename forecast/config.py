"""Settings: where `forecast` keeps its files, and the options that define a trained model."""

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from forecast.errors import ForecastError

DEFAULT_DATA_DIR = Path("data")  # relative to the working directory, like git's .git


def resolve_data_dir(option: Path | None = None) -> Path:
    """--data-dir wins, then $FORECAST_DATA_DIR, then ./data."""
    if option is not None:
        return Path(option)
    env = os.environ.get("FORECAST_DATA_DIR")
    return Path(env) if env else DEFAULT_DATA_DIR


def prices_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "prices"


def models_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "models"


def yfinance_cache_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "yfinance"


MAX_HORIZON = 60  # trading days predict and backtest forecast ahead, at most
FEATURES = ("return", "range", "volume")  # per-day inputs; "return" is always first
LOSSES = ("gaussian", "mse", "direction")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a trained model; stored whole in the model file."""

    window: int = 60  # T: trading days read before each forecast (~3 months)
    hidden: int = 32  # H: hidden units; 32 is plenty for one noisy return series
    epochs: int = 30  # upper bound; early stopping usually ends sooner
    batch_size: int = 64  # windows per Adam step: large enough for BLAS, small enough to generalise
    lr: float = 2e-3  # Adam step size
    loss: str = "gaussian"  # head: gaussian (mu, log sigma), mse (point), direction (P(up))
    seed: int = 0  # initial weights and shuffling; same seed + data -> identical model
    patience: int = 5  # epochs without validation improvement before stopping
    features: tuple[str, ...] = ("return",)  # subset of FEATURES, "return" first
    val_fraction: float = 0.2  # last part of the history held out for early stopping/calibration
    max_norm: float = 1.0  # global gradient-norm clip, against exploding BPTT gradients

    def to_dict(self) -> dict:
        """JSON-safe: the features tuple becomes a list."""
        return {**asdict(self), "features": list(self.features)}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**{**d, "features": tuple(d["features"])})

    def validate(self) -> "TrainConfig":
        """Raise ForecastError naming the bad option; return self so calls can chain."""
        checks = [
            (self.window >= 2, f"--window must be at least 2 days, got {self.window}"),
            (self.window <= 1000, f"--window must be at most 1000 days, got {self.window}"),
            (self.hidden >= 1, f"--hidden must be a positive number of units, got {self.hidden}"),
            (self.hidden <= 1024, f"--hidden must be at most 1024, got {self.hidden}"),
            (self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (0 < self.lr < 1 and math.isfinite(self.lr), f"--lr must be in (0, 1), got {self.lr}"),
            (
                self.loss in LOSSES,
                f"unknown --loss {self.loss!r}; choose one of {', '.join(LOSSES)}",
            ),
            (self.patience >= 1, f"--patience must be at least 1, got {self.patience}"),
            (0 <= self.seed < 2**32, f"--seed must be in [0, 2^32), got {self.seed}"),
            (
                bool(self.features) and self.features[0] == "return",
                "features must start with 'return'",
            ),
            (
                set(self.features) <= set(FEATURES)
                and len(set(self.features)) == len(self.features),
                f"unknown or repeated feature in {','.join(self.features)}; "
                f"choose from {', '.join(FEATURES)}",
            ),
            (0.05 <= self.val_fraction <= 0.5, "val_fraction must be in [0.05, 0.5]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ForecastError(message)
        return self
