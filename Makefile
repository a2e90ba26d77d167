# Every target sets itself up: the .venv stamps depend on pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow lint bench bench-universe quality clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,plot]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[bench]'
	touch $@ $(VENV)/.installed

# The main job on the shipped sample: --offline so it runs the same with or without a network.
# Its files go where every later `forecast` command looks ($FORECAST_DATA_DIR, else the
# per-user data directory), so the next commands it prints (README's quick start, run by
# tests/test_quickstart.py) find its model.
demo: $(VENV)/.installed
	$(BIN)/forecast fetch AAPL --offline
	$(BIN)/forecast train AAPL
	$(BIN)/forecast predict AAPL --days 5
	@echo
	@echo "Next (README, Quick start):"
	@echo "  source .venv/bin/activate    # puts forecast on PATH"
	@echo "  forecast predict --days 10"
	@echo "  forecast models"
	@echo "  forecast list"

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m slow -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check forecast tests benchmarks
	$(BIN)/ruff format --check forecast tests benchmarks

# Every model against the random walk on the real series of ../shared/data/universe and the
# samples, by the backtest protocol (benchmarks/quality.py; ~15 min on 2 cores), with close-only
# copies of the confirmation US stocks and a table per half of benchmarks/universe_split.csv.
# Subsets: make quality QUALITY_ARGS="--series AAPL,SPY --test-days 100"
#          make quality QUALITY_ARGS="--half screening --close-only all"
quality: $(VENV)/.installed
	$(BIN)/python benchmarks/quality.py $(QUALITY_ARGS)

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_train.py

# Per-ticker models on 1..all cores and a global model's epoch on 1..all threads (16/64/256 series).
bench-universe: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_universe.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . \( -name '*.nbi' -o -name '*.nbc' -o -name '*.pyc' \) -delete
