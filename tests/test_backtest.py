"""Walk-forward backtest: no leakage by construction, baselines against hand-computed scores,
and a verdict that never claims skill the random walk (or drift) also has."""

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecast import backtest
from forecast.backtest import run_backtest, verdict
from forecast.config import TrainConfig
from forecast.errors import ForecastError
from forecast.model import RNNForecaster
from forecast.prices.csvfile import parse_csv

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "AAPL.csv"
SMALL = TrainConfig(window=10, hidden=4, epochs=2)  # seconds, not minutes
Z80, Z95 = stats.norm.ppf(0.9), stats.norm.ppf(0.975)
KEYS = {
    "horizon",
    "mae",
    "rmse",
    "rel_mae",
    "mase",
    "direction_accuracy",
    "direction_n",
    "direction_p_value",
    "coverage_80",
    "coverage_95",
    "interval_score",
    "interval_score_80",
    "crps",
}


def frame(closes) -> pd.DataFrame:
    """A price frame in the forecast.prices schema whose Adj Close is `closes`."""
    c = np.asarray(closes, float)
    index = pd.bdate_range("2024-01-01", periods=c.size, name="Date")
    return pd.DataFrame(
        {"Open": c, "High": c * 1.01, "Low": c * 0.99, "Close": c, "Adj Close": c, "Volume": 1e6},
        index=index,
    )


@pytest.fixture(scope="module")
def aapl() -> pd.DataFrame:
    return parse_csv(SAMPLE.read_bytes(), "sample", min_rows=1).iloc[-300:]


class FakeCalibration:
    horizon = 20

    def factor(self, level, h):
        return float(stats.norm.ppf((1 + level) / 2))


class NaiveRNN:
    """Stands in for RNNForecaster: paths symmetric about 0, so its median IS the naive forecast."""

    def __init__(self, config=None):
        self.config = config
        self.calibration_ = FakeCalibration()

    def fit(self, prices):
        self.last_fit_date_ = prices.index[-1]
        self.dates_ = {"train_last": prices.index[-1]}
        return self

    def forecast_paths(self, prices, days, n_paths=100, seed=None):
        a = np.linspace(0.001, 0.02, n_paths // 2)[:, None] * np.sqrt(np.arange(1, days + 1))
        cum = np.concatenate([-a, np.zeros((1, days)), a])  # median exactly 0
        return cum, np.full_like(cum, 0.5)


def oracle_rnn(full: pd.DataFrame):
    """An RNN stand-in that peeks at the future: it must be found to have skill."""

    class Oracle(NaiveRNN):
        def forecast_paths(self, prices, days, n_paths=100, seed=None):
            cum, ps = super().forecast_paths(prices, days, n_paths, seed)
            i = full.index.get_loc(prices.index[-1])
            adj = full["Adj Close"].to_numpy()
            truth = np.log(adj[i + 1 : i + 1 + days] / adj[i])
            return cum + truth, ps

    return Oracle


# --- leakage ---------------------------------------------------------------------------------


def test_every_fold_is_fitted_strictly_before_its_first_origin(aapl, monkeypatch):
    fitted_on, forecast_from = [], []
    real_fit, real_paths = RNNForecaster.fit, RNNForecaster.forecast_paths

    def recording_fit(self, prices, *args, **kwargs):
        fitted_on.append(prices.index.max())
        return real_fit(self, prices, *args, **kwargs)

    def recording_paths(self, prices, *args, **kwargs):
        forecast_from.append(prices.index.max())
        return real_paths(self, prices, *args, **kwargs)

    monkeypatch.setattr(RNNForecaster, "fit", recording_fit)
    monkeypatch.setattr(RNNForecaster, "forecast_paths", recording_paths)
    r = run_backtest(aapl, SMALL, horizon=3, test_days=30, refit_every=10, n_paths=50)

    n = 30 - 3  # origins with 3 realised days after them
    assert len(r.origins) == n and len(r.folds) == math.ceil(n / 10) == len(fitted_on)
    assert r.origins[-1] == aapl.index[-4]  # the last origin still has 3 days to score
    assert sum(f.n_origins for f in r.folds) == n
    for fold, seen in zip(r.folds, fitted_on, strict=True):
        assert seen < fold.first_origin  # what fit() was actually handed
        assert fold.fit_last_date == seen  # what the fitted model reports
        assert fold.scaler_last_date < fold.first_origin
        assert aapl.index.get_loc(fold.first_origin) == fold.train_days  # prices[:o], no more
    # each forecast reads up to and including its origin, never a day after
    assert list(forecast_from) == list(r.origins)
    adj = aapl["Adj Close"].to_numpy()
    i = aapl.index.get_indexer(r.origins)
    np.testing.assert_array_equal(r.cases.last, adj[i])
    np.testing.assert_array_equal(r.cases.y[:, 2], adj[i + 3])


def test_a_fit_that_leaks_is_caught(aapl, monkeypatch):
    class Leaky(NaiveRNN):
        def fit(self, prices):
            super().fit(prices)
            self.last_fit_date_ = aapl.index[-1]  # pretends to have seen the whole history
            return self

    monkeypatch.setattr(backtest, "RNNForecaster", Leaky)
    with pytest.raises(AssertionError, match="leakage"):
        run_backtest(aapl, SMALL, horizon=2, test_days=20, refit_every=10, n_paths=51)


# --- baselines by hand -----------------------------------------------------------------------

CLOSES = [100, 102, 101, 103, 102, 104, 103, 105, 104, 106, 105, 107, 104, 108]
# test_days 4, horizon 2: origins are days 10 (close 105) and 11 (close 107)
# day 11 = 107, 12 = 104, 13 = 108


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(backtest, "RNNForecaster", NaiveRNN)
    cfg = TrainConfig(window=2, hidden=2, epochs=1)  # 10 prices are enough for window 2
    return run_backtest(frame(CLOSES), cfg, horizon=2, test_days=4, refit_every=1, n_paths=51)


def test_origins_and_folds_on_the_tiny_series(tiny):
    assert list(tiny.origins) == list(frame(CLOSES).index[[10, 11]])
    assert [f.train_days for f in tiny.folds] == [10, 11]  # refit every origin


def test_naive_scores_by_hand(tiny):
    h1, h2 = tiny.metrics["naive"]
    # h = 1: errors 107 − 105 = 2 and 104 − 107 = −3;  h = 2: 104 − 105 = −1, 108 − 107 = 1
    assert h1["mae"] == pytest.approx(2.5) and h2["mae"] == pytest.approx(1.0)
    assert h1["rmse"] == pytest.approx(math.sqrt((4 + 9) / 2))
    assert h1["rel_mae"] == 1.0 and h2["rel_mae"] == 1.0  # exactly
    # MASE scales: |diffs| of days 0..10 are 2,1,2,1,... summing to 15 over 10 steps → 1.5;
    # up to day 11 one more step of 2 → 17/11
    assert h1["mase"] == pytest.approx((2 / 1.5 + 3 / (17 / 11)) / 2)
    assert h2["mase"] == pytest.approx((1 / 1.5 + 1 / (17 / 11)) / 2)
    assert h1["direction_n"] == 0 and math.isnan(h1["direction_accuracy"])
    assert math.isnan(h1["dm_stat"])  # naive is not tested against itself


def test_random_walk_bands_by_hand(tiny):
    def sigma(upto):
        r = [math.log(CLOSES[t] / CLOSES[t - 1]) for t in range(1, upto + 1)]
        return statistics.stdev(r)  # ddof = 1

    s10, s11 = sigma(10), sigma(11)
    y = {1: [107, 104], 2: [104, 108]}
    last = [105, 107]
    for h, row in zip((1, 2), tiny.metrics["naive"], strict=True):
        for level, z, alpha in ((0.8, Z80, 0.2), (0.95, Z95, 0.05)):
            lo = [
                p * math.exp(-z * s * math.sqrt(h)) for p, s in zip(last, (s10, s11), strict=True)
            ]
            up = [p * math.exp(z * s * math.sqrt(h)) for p, s in zip(last, (s10, s11), strict=True)]
            inside = [a <= v <= b for a, v, b in zip(lo, y[h], up, strict=True)]
            key = "interval_score" if level == 0.95 else "interval_score_80"
            score = [
                (b - a) + 2 / alpha * (max(a - v, 0) + max(v - b, 0))
                for a, v, b in zip(lo, y[h], up, strict=True)
            ]
            assert row[f"coverage_{round(level * 100)}"] == pytest.approx(sum(inside) / 2)
            assert row[key] == pytest.approx(sum(score) / 2)
        crps = [
            stats.norm(math.log(p), s * math.sqrt(h)).expect(lambda x, v=v: abs(x - math.log(v)))
            - s * math.sqrt(h) / math.sqrt(math.pi)  # E|X − y| − ½E|X − X'|
            for p, s, v in zip(last, (s10, s11), y[h], strict=True)
        ]
        assert row["crps"] == pytest.approx(sum(crps) / 2, rel=1e-4)  # quadrature over a kink


def test_drift_scores_by_hand(tiny):
    # r̄ = log(p_o / p_0) / o; ŷ = p_o · exp(h·r̄)
    f10 = [105 * (105 / 100) ** (h / 10) for h in (1, 2)]
    f11 = [107 * (107 / 100) ** (h / 11) for h in (1, 2)]
    h1, h2 = tiny.metrics["drift"]
    mae1 = (abs(107 - f10[0]) + abs(104 - f11[0])) / 2
    mae2 = (abs(104 - f10[1]) + abs(108 - f11[1])) / 2
    assert h1["mae"] == pytest.approx(mae1) and h2["mae"] == pytest.approx(mae2)
    assert h1["rel_mae"] == pytest.approx(mae1 / 2.5)
    assert h2["rel_mae"] == pytest.approx(mae2 / 1.0)
    # drift calls "up" both times; at h = 1 the price went up, then down: 1 hit of 2
    assert (h1["direction_accuracy"], h1["direction_n"]) == (0.5, 2)
    assert h1["direction_p_value"] == pytest.approx(1.0)


def test_drift_bands_are_the_random_walk_bands_moved_to_its_median(tiny):
    c = tiny.cases
    for level in (0.8, 0.95):
        ratio = c.point["drift"] / c.point["naive"]
        np.testing.assert_allclose(c.lower["drift", level], c.lower["naive", level] * ratio)
        np.testing.assert_allclose(c.upper["drift", level], c.upper["naive", level] * ratio)


# --- the verdict -----------------------------------------------------------------------------


def test_an_rnn_that_is_the_naive_forecast_has_no_skill(aapl, monkeypatch):
    monkeypatch.setattr(backtest, "RNNForecaster", NaiveRNN)
    r = run_backtest(aapl, SMALL, horizon=5, test_days=60, refit_every=20, n_paths=51)
    for row in r.metrics["rnn"]:
        assert row["rel_mae"] == 1.0
        assert (row["dm_stat"], row["dm_p_value"]) == (0.0, 1.0)
        assert row["direction_n"] == 0
    assert r.verdict.startswith("RNN: no skill over a random walk at 1–5 days (relative MAE 1.00")
    assert "beats" not in r.verdict.split(";")[0]


def test_an_oracle_is_found_to_have_skill(aapl, monkeypatch):
    monkeypatch.setattr(backtest, "RNNForecaster", oracle_rnn(aapl))
    r = run_backtest(aapl, SMALL, horizon=3, test_days=40, refit_every=20, n_paths=51)
    assert all(row["rel_mae"] < 0.01 and row["dm_p_value"] < 0.05 for row in r.metrics["rnn"])
    assert r.verdict.startswith("RNN: beats a random walk at 1–3 days")


def rows(rel, p, H=3, stat=None):
    """Synthetic per-horizon metric rows with the given relative MAE and DM p-value."""
    stat = -2.5 if stat is None else stat
    return [
        {
            "horizon": h,
            "rel_mae": rel,
            "dm_stat": stat if rel != 1 else 0.0,
            "dm_p_value": p,
            "dm_drift_stat": math.nan,
            "dm_drift_p_value": math.nan,
            "direction_accuracy": 0.52,
            "direction_n": 100,
            "direction_p_value": 0.7,
            "coverage_80": 0.8,
            "coverage_95": 0.95,
        }
        for h in range(1, H + 1)
    ]


def test_verdict_needs_both_a_lower_mae_and_a_significant_test():
    naive = rows(1.0, 1.0)
    for rel, p in [(0.97, 0.20), (1.03, 0.01)]:  # lower but noise; significant but worse
        text = verdict(
            {
                "rnn": rows(rel, p, stat=2.5 if rel > 1 else -1.0),
                "naive": naive,
                "drift": rows(1.0, 1.0),
            }
        )
        assert text.startswith("RNN: no skill over a random walk at 1–3 days"), text
    text = verdict({"rnn": rows(1.03, 0.01, stat=2.5), "naive": naive, "drift": naive})
    assert "significantly worse than the random walk at 1–3 days" in text


def test_verdict_claims_skill_only_where_earned():
    rnn = rows(0.95, 0.5)
    rnn[0]["dm_p_value"] = 0.01  # significant at h = 1 only
    text = verdict({"rnn": rnn, "naive": rows(1.0, 1.0), "drift": rows(1.0, 0.9)})
    assert text.startswith("RNN: beats a random walk at 1 day (relative MAE 0.95, DM p=0.010)")
    assert "no skill at 2–3 days" in text


def test_verdict_credits_drift_not_the_rnn_when_drift_does_as_well():
    rnn, drift = rows(0.95, 0.01), rows(0.94, 0.01)
    for r in rnn:
        r["dm_drift_stat"], r["dm_drift_p_value"] = 0.3, 0.7  # RNN vs drift: no difference
    text = verdict({"rnn": rnn, "naive": rows(1.0, 1.0), "drift": drift})
    assert text.startswith("RNN: no skill of its own at 1–3 days")
    assert "no better than drift's" in text
    for r in rnn:  # unless the RNN beats drift significantly as well
        r["dm_drift_stat"], r["dm_drift_p_value"] = -3.0, 0.001
    assert verdict({"rnn": rnn, "naive": rows(1.0, 1.0), "drift": drift}).startswith(
        "RNN: beats a random walk at 1–3 days"
    )


# --- options and JSON ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        ({"horizon": 0}, "--horizon must be 1..60"),
        ({"horizon": 61}, "--horizon must be 1..60"),
        ({"refit_every": 0}, "--refit-every must be at least 1"),
        ({"test_days": 3}, "--test-days 3 leaves fewer than 2 origins"),
        ({"test_days": 290}, "use --test-days"),
        ({"n_paths": 1}, "--paths must be between 10"),
        ({"n_paths": 200_000}, "--paths must be between 10"),
    ],
)
def test_bad_options_say_what_to_change(aapl, options, message):
    with pytest.raises(ForecastError, match=message.replace(".", r"\.")):
        run_backtest(aapl, SMALL, **{"test_days": 30, **options})


def test_window_too_long_for_the_first_fold(aapl):
    with pytest.raises(ForecastError, match="--window 100 needs at least"):
        run_backtest(aapl, TrainConfig(window=100), test_days=100)


def test_to_json_is_strict_json_with_every_key(tiny):
    data = json.loads(json.dumps(tiny.to_json(), allow_nan=False))
    assert data["origins"] == 2 and data["options"]["horizon"] == 2
    assert data["verdict"] == tiny.verdict
    assert set(data["folds"][0]) >= {"fit_last_date", "scaler_last_date", "first_origin"}
    for model in ("rnn", "naive", "drift"):
        rows_ = data["models"][model]
        assert [r["horizon"] for r in rows_] == [1, 2]
        assert all(KEYS <= set(r) for r in rows_)
    assert data["models"]["naive"][0]["direction_accuracy"] is None  # NaN → null
