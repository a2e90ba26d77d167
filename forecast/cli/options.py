"""The CLI's options: each defined once, with its help text, range and check; commands share them.

Ranges come from config.RANGES and defaults from TrainConfig, so `--help`, the parser and the
library agree. Light on purpose: --help imports this and nothing numeric (a check that needs
numpy imports it inside, when the option is given).
"""

import datetime as dt
import re
from pathlib import Path
from typing import Annotated

import typer

from forecast import config
from forecast.config import RANGES, Cell, Loss, TrainConfig
from forecast.errors import ForecastError, UsageError

# CLI defaults are TrainConfig's
DEFAULTS = {
    name: TrainConfig.default(name)
    for name in ("window", "hidden", "epochs", "batch_size", "lr", "patience", "seed", "ensemble")
}


LOSS_DEFAULT = Loss(TrainConfig.default("loss"))


CELL_DEFAULT = Cell(TrainConfig.default("cell"))


FEATURES_DEFAULT = ",".join(TrainConfig.default("features"))


def typed_only(ctx: typer.Context, param: typer.CallbackParam, value):
    """The option's value when typed; None when it came from its environment variable, which
    the library reads itself (config.resolve_data_dir names it in errors; a scheduler from
    the variable serves only runs over many tickers). The envvar is declared so that the help
    shows it."""
    source = ctx.get_parameter_source(param.name)
    return None if source is not None and source.name == "ENVIRONMENT" else value


def ranged(name: str, help: str, panel: str, **kwargs):
    """An integer option whose range the parser checks (exit 2), from config.RANGES."""
    lo, hi = RANGES[name]
    return typer.Option(help=help, min=lo, max=hi, rich_help_panel=panel, **kwargs)


def _features(text: str) -> str:
    names = config.parse_features(text)
    bad = [f for f in names if f not in config.FEATURES]
    if bad or not names or names[0] != "return" or len(set(names)) != len(names):
        raise typer.BadParameter(
            f"{text!r}: give 'return' first, then any of {', '.join(config.FEATURES[1:])}, "
            "comma-separated, each once"
        )
    return text


def _lr(value: float) -> float:
    if not 0 < value < 1:  # math.isfinite too: nan fails both comparisons
        raise typer.BadParameter(f"{value} is not in (0, 1)")
    return value


def day(text: str | None) -> dt.date | None:
    # strptime's %Y-%m-%d also takes 2020-1-1; README promises YYYY-MM-DD, so exactly that
    if text is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def _export_path(path: Path | None) -> Path | None:
    from forecast import exports  # light: the suffix check only

    if path is not None:
        try:
            exports.check_suffix(path)
        except ForecastError as e:
            raise typer.BadParameter(str(e)) from None
    return path


def exchange_code(value: str | None) -> str | None:
    from forecast.calendars import check_exchange  # exchange_calendars: only when given

    try:
        return check_exchange(value) if value is not None else None
    except ForecastError as e:
        raise typer.BadParameter(str(e)) from None


def currency_code(value: str | None) -> str | None:
    from forecast.symbols import check_currency

    try:
        return check_currency(value) if value is not None else None
    except ForecastError as e:
        raise typer.BadParameter(str(e)) from None


def _plot_path(path: Path | None) -> Path | None:
    if path is not None and path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise typer.BadParameter(f"{path.name}: give a file name ending in .png, .svg or .pdf")
    return path


OUTPUT = "Output"


JsonOut = Annotated[
    bool,
    typer.Option(
        "--json",
        help='Print machine-readable JSON only (README, "JSON output", has each schema).',
        rich_help_panel=OUTPUT,
    ),
]


def examples(*commands: str) -> str:
    """A command's epilog: its examples, one per line (README's help excerpts show them too)."""
    return "Examples:\n" + "\n".join(f"  {c}" for c in commands)


MODEL, TRAINING, FORECAST, WALK = "Model", "Training", "Forecast", "Walk-forward"


# The model options train and backtest share: one definition, one help text.
Window = Annotated[int, ranged("window", "T: trading days the RNN reads per forecast.", MODEL)]


Hidden = Annotated[int, ranged("hidden", "H: hidden units.", MODEL)]


LossOpt = Annotated[  # --head names what it is; --loss, its name before, still works
    Loss,
    typer.Option(
        "--head",
        "--loss",
        help="Output head: vol (a correction to EWMA volatility, mean 0), gaussian (mean and "
        "volatility), mse (a point forecast), direction (P(up)).",
        rich_help_panel=MODEL,
    ),
]


CellOpt = Annotated[
    Cell,
    typer.Option(
        "--cell",
        help="Recurrent cell: elman (the seed's h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)) or "
        "gru (reset and update gates: three times the recurrent weights, ~2x the training time).",
        rich_help_panel=MODEL,
    ),
]


Features = Annotated[
    str,
    typer.Option(
        help="Inputs per day, comma-separated, return first: the vol head takes any of "
        + ", ".join(config.HEAD_FEATURES["vol"])
        + f" (default: {','.join(config.DEFAULT_FEATURES['vol'])}); the others any of "
        + ", ".join(config.HEAD_FEATURES["other"])
        + f" (default: {','.join(config.DEFAULT_FEATURES['other'])}).",
        show_default=False,
        metavar="LIST",
        callback=_features,
        rich_help_panel=MODEL,
    ),
]


BatchSize = Annotated[int, ranged("batch_size", "Windows per Adam step.", TRAINING)]


Ensemble = Annotated[
    int,
    ranged("ensemble", "vol head: RNNs trained from seeds seed, seed+1, ...; averaged.", TRAINING),
]


LearningRate = Annotated[
    float,
    typer.Option(help="Adam learning rate, in (0, 1).", callback=_lr, rich_help_panel=TRAINING),
]


Patience = Annotated[
    int, ranged("patience", "Epochs without validation improvement before stopping.", TRAINING)
]


Plot = Annotated[
    Path | None,
    typer.Option(
        help="Also draw a chart into this .png, .svg or .pdf file (needs matplotlib).",
        callback=_plot_path,
        show_default=False,
        rich_help_panel=OUTPUT,
    ),
]


Export = Annotated[
    Path | None,
    typer.Option(
        help="Also write every forecast, one row per ticker, date and horizon, to this .csv, "
        ".parquet (needs pyarrow) or .json file.",
        callback=_export_path,
        show_default=False,
        metavar="FILE",
        rich_help_panel=OUTPUT,
    ),
]


def _levels(option: str):
    """A callback that checks repeatable percent levels (range, repeats): exit 2 when wrong."""

    def check(values: list[float] | None):
        if not values:
            return None
        from forecast.model.predictive import check_levels  # numpy: not for --help

        try:
            return check_levels(values, option)
        except UsageError as e:
            raise typer.BadParameter(str(e).removeprefix(f"{option} ")) from None

    return check


RISK = "Risk"


Levels = Annotated[
    list[float] | None,
    typer.Option(
        "--level",
        help="Band level in percent, repeatable, in (50, 99.9) [default: 80 and 95].",
        callback=_levels("--level"),
        metavar="PCT",
        show_default=False,
        rich_help_panel=RISK,
    ),
]


VarLevels = Annotated[
    list[float] | None,
    typer.Option(
        "--var",
        help="Value at Risk and Expected Shortfall level in percent, repeatable "
        "[default: 95 and 99].",
        callback=_levels("--var"),
        metavar="PCT",
        show_default=False,
        rich_help_panel=RISK,
    ),
]


UNIVERSE = "Universe"


Tickers = Annotated[
    list[str] | None,
    typer.Argument(
        help="Symbols (default: the most recently fetched or trained one).",
        metavar="TICKER",
        show_default=False,
    ),
]


UniverseFile = Annotated[
    Path | None,
    typer.Option(
        "--universe",
        help="Also every ticker in this file: one per line, # comments, blanks and repeats ignored.",
        show_default=False,
        metavar="FILE",
        rich_help_panel=UNIVERSE,
    ),
]


Jobs = Annotated[
    int | None,
    typer.Option(
        help="Worker processes for many tickers, each single-threaded (default: one per core).",
        min=RANGES["jobs"][0],
        max=RANGES["jobs"][1],
        show_default=False,
        rich_help_panel=UNIVERSE,
    ),
]


Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Run the per-ticker jobs on this Dask scheduler, e.g. tcp://host:8786 (the "
        "variable is used only for runs over many tickers).",
        show_default=False,
        metavar="ADDRESS",
        envvar="FORECAST_SCHEDULER",
        show_envvar=True,
        callback=typed_only,
        rich_help_panel=UNIVERSE,
    ),
]


ModelName = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Which model: own (the ticker's own), or NAME, a global model saved by "
        "`train ... --global NAME` (default: the newest of the ticker's own and the global "
        "models trained on it).",
        show_default=False,
        metavar="NAME",
        rich_help_panel=UNIVERSE,
    ),
]
