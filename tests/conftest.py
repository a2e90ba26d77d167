"""Shared fixtures: a private data directory per test and a seeded random generator."""

import numpy as np
import pytest


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty data directory, also set as FORECAST_DATA_DIR so the CLI uses it."""
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("FORECAST_DATA_DIR", str(d))
    return d


@pytest.fixture
def rng():
    return np.random.default_rng(0)
