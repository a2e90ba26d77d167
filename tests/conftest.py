"""Shared fixtures: a private data directory per test and a seeded random generator."""

import os

import numpy as np
import pytest


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty data directory, also set as FORECAST_DATA_DIR so the CLI uses it."""
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("FORECAST_DATA_DIR", str(d))
    return d


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch):
    """The per-user cache folder (yfinance's caches) inside the test's tmp_path, never ~/.cache."""
    cache = tmp_path / "user-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    if os.name == "posix":  # platformdirs reads XDG_CACHE_HOME on Linux; macOS: ~/Library/Caches
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return cache / "forecast" / "yfinance"


@pytest.fixture
def rng():
    return np.random.default_rng(0)
