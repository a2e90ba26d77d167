"""The package's layers: imports only run down, and no module imports one of its callers.

    cli -> api -> universe -> pipeline, evaluation -> model -> prices -> foundation

Read from the source with ast (function-level imports included), so an upward import that
only runs inside a function is caught too.
"""

import ast
from pathlib import Path

import forecast

ROOT = Path(forecast.__file__).parent

# the layer of each module or package (by dotted prefix), lowest first
LAYERS = [
    (
        "foundation",
        [
            "forecast",  # forecast/__init__.py: the version
            "forecast.errors",
            "forecast.config",
            "forecast.text",
            "forecast.symbols",
            "forecast.files",
            "forecast.jsonfile",
            "forecast.calendars",
            "forecast.exports",  # long tables to .csv/.parquet/.json: pandas only when used
        ],
    ),
    ("prices", ["forecast.prices"]),
    ("model", ["forecast.model"]),
    # store reads both kinds of sidecar (prices' and models'): it sits above the model
    # catalog is the light door over store for list, models and rm
    (
        "evaluation",
        [
            "forecast.evaluation",
            "forecast.pipeline",
            "forecast.plot",
            "forecast.store",
            "forecast.catalog",
        ],
    ),
    ("universe", ["forecast.universe"]),
    ("api", ["forecast.api"]),
    ("cli", ["forecast.cli", "forecast.__main__"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(name: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (name == p or name.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    assert rank is not None, f"{name} is in no layer; add it to LAYERS"
    return rank


def imports_of(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("forecast"):
            for alias in node.names:  # `from forecast import api` imports forecast.api
                sub = f"{node.module}.{alias.name}"
                out.add(
                    sub
                    if (ROOT.parent / sub.replace(".", "/")).exists()
                    or (ROOT.parent / (sub.replace(".", "/") + ".py")).exists()
                    else node.module
                )
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("forecast")}
    return out


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in ROOT.rglob("*.py")}


def test_imports_only_run_down_the_layers():
    upward = [
        f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})"
        for m, deps in graph().items()
        for d in deps
        if layer_of(d) > layer_of(m)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    g = graph()
    seen, stack = set(), []

    def visit(m):
        if m in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(m) :] + [m]))
        if m in seen:
            return
        stack.append(m)
        for d in g.get(m, ()):
            if d != m and not m.startswith(d + "."):  # a package's module importing its face
                visit(d)
        stack.pop()
        seen.add(m)

    for m in g:
        visit(m)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The layer check itself can fail: a model module importing the api is upward."""
    fake = tmp_path / "bad.py"
    fake.write_text("def f():\n    from forecast import api\n")
    assert "forecast.api" in imports_of(fake)
    assert layer_of("forecast.api") > layer_of("forecast.model.estimator")


def test_every_package_face_names_what_it_has():
    """Each package's __init__ lists its public names, and each one resolves."""
    import importlib

    for pkg in ("model", "evaluation", "universe", "cli", "prices"):
        face = importlib.import_module(f"forecast.{pkg}")
        assert face.__all__, pkg
        for name in face.__all__:
            assert getattr(face, name) is not None, f"forecast.{pkg}.{name}"


def test_the_api_face_lists_every_public_function():
    """Every public function or class defined in forecast/api.py is in its __all__."""
    import forecast.api as api

    tree = ast.parse((ROOT / "api.py").read_text())
    public = {
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.ClassDef) and not n.name.startswith("_")
    }
    assert public <= set(api.__all__), sorted(public - set(api.__all__))


def test_the_forecast_path_does_not_load_scipy_stats():
    """predict loads a model (estimator, classical, conformal, predictive) but none of the
    modules it reaches imports scipy.stats at module level: ~0.4 s the user would wait for."""
    import subprocess
    import sys

    code = (
        "import sys, forecast.pipeline, forecast.model.classical, forecast.model.conformal; "
        "print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
