"""Settings: where `forecast` keeps its files, and the options that define a trained model.

Light on purpose (no numpy): the CLI reads its choices, ranges and defaults from here while
building `--help`.
"""

import math
import operator
import os
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path

from forecast.errors import ForecastError

DATA_DIR_ENV = "FORECAST_DATA_DIR"


def default_data_dir() -> Path:
    """The per-user data directory, e.g. ~/.local/share/forecast on Linux (XDG_DATA_HOME honoured)."""
    from platformdirs import user_data_path

    return user_data_path("forecast", appauthor=False)


def resolve_data_dir(option: Path | str | None = None) -> Path:
    """--data-dir wins, then $FORECAST_DATA_DIR, then the per-user data directory.

    Raises ForecastError for an empty --data-dir (it would mean the current directory) or a
    path that exists but is not a directory. An empty $FORECAST_DATA_DIR counts as unset, as
    shells and Click treat empty variables.
    """
    if option is not None:
        source, value = "--data-dir", str(option)
    elif os.environ.get(DATA_DIR_ENV):
        source, value = DATA_DIR_ENV, os.environ[DATA_DIR_ENV]
    else:
        return default_data_dir()
    if not value.strip():
        raise ForecastError(f"{source} is empty; give a directory, e.g. {source}=./data")
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ForecastError(f"{source} {path} is a file, not a directory; give a directory")
    return path


def prices_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "prices"


def models_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "models"


def yfinance_cache_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "yfinance"


MAX_HORIZON = 60  # trading days predict and backtest forecast ahead, at most
CAL_HORIZON = 20  # horizons calibrated one by one; longer ones reuse day 20's factor
PLOT_HISTORY_DAYS = (
    40,
    120,
)  # closes before the fan in a --plot: 4 per forecast day, in this range


def plot_history_days(days: int) -> int:
    """Closes drawn before a `days`-day fan: enough for context (40 at least), few enough that
    the fan keeps a fifth of the width (a ninth for 5 days) instead of a thin strip at the edge."""
    lo, hi = PLOT_HISTORY_DAYS
    return min(max(4 * days, lo), hi)


# "return" always first
FEATURES = ("return", "range", "volume", "abs", "ewma", "parkinson", "season")
HEAD_FEATURES = {  # which inputs each head reads (forecast/model/features.py defines them)
    "vol": ("return", "abs", "ewma", "range", "parkinson", "season"),
    "other": ("return", "range", "volume"),
}
DEFAULT_FEATURES = {"vol": HEAD_FEATURES["vol"], "other": ("return",)}


class Loss(StrEnum):
    """The --loss choices; forecast/model/heads.py holds what each head does."""

    gaussian = "gaussian"
    mse = "mse"
    direction = "direction"
    vol = "vol"


LOSSES = tuple(Loss)


class Cell(StrEnum):
    """The --cell choices: the seed's Elman cell, or a gated one (forecast/model/kernels/rnn.py)."""

    elman = "elman"
    gru = "gru"


CELLS = tuple(Cell)

# Allowed ranges of the numeric options, (low, high) inclusive; the CLI's parser checks them too.
RANGES = {
    "window": (2, 1000),
    "hidden": (1, 1024),
    "epochs": (1, 100_000),
    "batch_size": (1, 1_000_000),
    "patience": (1, 100_000),
    "seed": (0, 2**32 - 1),
    "burn_in": (0, 999),
    "ensemble": (1, 64),
    # forecasting options (predict, backtest)
    "days": (1, MAX_HORIZON),
    "horizon": (1, MAX_HORIZON),
    "paths": (10, 100_000),  # 10: enough for a median and a spread; more gives smoother quantiles
    "history": (5, 10_000),  # closes drawn before the forecast in a --plot
    "jobs": (
        1,
        1024,
    ),  # worker processes; far above any one machine's cores, far below OverflowError
}


TRAIN_RANGES = (
    *("window", "hidden", "epochs", "batch_size", "patience", "seed", "burn_in", "ensemble"),
)


def check_range(name: str, value: int) -> int:
    """Raise ForecastError unless RANGES[name] holds value; return it (for library callers:
    the CLI's parser checks the same ranges with a usage error)."""
    lo, hi = RANGES[name]
    if not lo <= value <= hi:
        raise ForecastError(f"--{name.replace('_', '-')} must be in {lo}..{hi}, got {value}")
    return value


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a trained model; stored whole in the model file.

    Checked once, when it is made: an invalid TrainConfig cannot exist.
    """

    window: int = 60  # T: trading days read before each forecast (~3 months)
    hidden: int = 16  # H: hidden units; 16 measured as good as 32 for the vol head
    epochs: int = 60  # upper bound; early stopping usually ends sooner
    batch_size: int = 16  # windows per Adam step (the vol head has ~50 windows per 2,500 days)
    lr: float = 3e-3  # Adam step size
    loss: str = "vol"  # head: vol (sigma, mean 0), gaussian (mu, log sigma), mse, direction
    cell: str = "elman"  # h_t = tanh(Wxh x_t + Whh h_{t-1} + bh), or "gru" (gated)
    seed: int = 0  # initial weights and shuffling; same seed + data -> identical model
    patience: int = 8  # epochs without validation improvement before stopping
    # subset of the head's FEATURES, "return" first; default: DEFAULT_FEATURES of the head
    features: tuple[str, ...] = DEFAULT_FEATURES["vol"]
    val_fraction: float = 0.2  # last part of the history held out for early stopping/calibration
    max_norm: float = 1.0  # global gradient-norm clip, against exploding BPTT gradients
    burn_in: int = 20  # vol head: unscored first steps of each window, at most window // 3 (burn)
    ensemble: int = (
        5  # vol head: members trained from seeds seed..seed+ensemble-1, variances averaged
    )

    def __post_init__(self):
        # plain str and tuple whatever was passed (a Loss member, a list): JSON and equality agree
        object.__setattr__(self, "loss", str(self.loss))
        object.__setattr__(self, "cell", str(self.cell))
        object.__setattr__(self, "features", tuple(self.features))
        if self.loss != "vol" and self.features == DEFAULT_FEATURES["vol"]:
            # the default set follows the head: --loss gaussian alone reads returns only
            object.__setattr__(self, "features", DEFAULT_FEATURES["other"])
        self._check()

    def to_dict(self) -> dict:
        """JSON-safe: the features tuple becomes a list. The Elman cell goes unsaid, so an
        Elman model's file is what it was before --cell (and earlier versions read it)."""
        d = {**asdict(self), "features": list(self.features)}
        if d["cell"] == "elman":
            del d["cell"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = {**d, "features": tuple(d["features"])}
        if "burn_in" not in d:  # a model file from before the vol head: no burn-in, one member
            d.update(burn_in=0, ensemble=1)
        return cls(**d)

    @classmethod
    def default(cls, name: str):
        """The default of one option, without building (and checking) a config."""
        return next(f.default for f in fields(cls) if f.name == name)

    def validate(self) -> "TrainConfig":
        """Kept for callers written before configs checked themselves: a config is valid."""
        return self

    @property
    def burn(self) -> int:
        """Burn-in steps used: burn_in for the vol head, capped at a third of the window
        (a short --window keeps most steps scored); 0 for the other heads."""
        return min(self.burn_in, self.window // 3) if self.loss == "vol" else 0

    def _head_features(self) -> tuple[str, ...]:
        return HEAD_FEATURES["vol" if self.loss == "vol" else "other"]

    def _check(self) -> None:
        """Raise ForecastError naming the bad option."""
        for name in TRAIN_RANGES:
            lo, hi = RANGES[name]
            value = getattr(self, name)
            flag = "--" + name.replace("_", "-")
            try:
                value = operator.index(value)  # ints, numpy ints; not floats or bools' cousins
            except TypeError:
                raise ForecastError(f"{flag} must be a whole number, got {value!r}") from None
            if not lo <= value <= hi:
                raise ForecastError(f"{flag} must be in {lo}..{hi}, got {value}")
            object.__setattr__(self, name, int(value))
        checks = [
            (0 < self.lr < 1 and math.isfinite(self.lr), f"--lr must be in (0, 1), got {self.lr}"),
            (
                self.loss in LOSSES,
                f"unknown --loss {self.loss!r}; choose one of {', '.join(LOSSES)}",
            ),
            (
                self.cell in CELLS,
                f"unknown --cell {self.cell!r}; choose one of {', '.join(CELLS)}",
            ),
            (
                bool(self.features) and self.features[0] == "return",
                "--features must start with 'return'",
            ),
            (
                set(self.features) <= set(self._head_features())
                and len(set(self.features)) == len(self.features),
                f"unknown or repeated feature in {','.join(self.features)} for --loss "
                f"{self.loss}; choose from {', '.join(self._head_features())}",
            ),
            (0.05 <= self.val_fraction <= 0.5, "val_fraction must be in [0.05, 0.5]"),
            (self.max_norm > 0, "max_norm must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise ForecastError(message)


def parse_features(text: str) -> tuple[str, ...]:
    """'return,range' -> ('return', 'range'); the names are checked by TrainConfig."""
    return tuple(f.strip() for f in text.split(",") if f.strip())
