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

from forecast.config import TrainConfig
from forecast.errors import ForecastError
from forecast.evaluation import backtest
from forecast.evaluation.backtest import run_backtest, verdict
from forecast.model.estimator import RNNForecaster, paths_distribution
from forecast.prices import read_price_csv

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
    "nll",
    "n",
    "direction_up_share",
    "crps_vs_best",
    "dm_crps_stat",
    "dm_crps_p_value",
    "interval_score_95",
    "interval_score_vs_best",
    *(f"{k}_{a}_{s}" for a in (95, 99) for k, s in (("var", "exceed"), ("var", "rate"))),
    *(f"{k}_{a}_p" for a in (95, 99) for k in ("kupiec", "ind", "cc")),
    *(f"es_{a}_{s}" for a in (95, 99) for s in ("z2", "z2_p")),
    "qlike",
    "mse_var",
    "qlike_vs_best",
    "dm_qlike_stat",
    "dm_qlike_p_value",
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
    return read_price_csv(SAMPLE, "AAPL").iloc[-300:]


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

    reads = 60  # price days a forecast is handed before its origin

    def forecast_paths(self, prices, days, n_paths=100, seed=None):
        a = np.linspace(0.001, 0.02, n_paths // 2)[:, None] * np.sqrt(np.arange(1, days + 1))
        cum = np.concatenate([-a, np.zeros((1, days)), a])  # median exactly 0
        return cum, np.full_like(cum, 0.5)

    def distribution(self, prices, days, n_paths=100, seed=None):
        cum, ps = self.forecast_paths(prices, days, n_paths, seed)
        last = float(prices["Adj Close"].iloc[-1])
        return paths_distribution(cum, ps, last, self.calibration_, direction=False)


def oracle_rnn(full: pd.DataFrame):
    """An RNN stand-in that peeks at the future: it must be found to have skill."""

    class Oracle(NaiveRNN):
        def forecast_paths(self, prices, days, n_paths=100, seed=None):
            cum, ps = super().forecast_paths(prices, days, n_paths, seed)
            i = full.index.get_loc(prices.index[-1])
            adj = full["Adj Close"].to_numpy()
            truth = np.zeros(days)  # the future, where the data has it
            ahead = np.log(adj[i + 1 : i + 1 + days] / adj[i])
            truth[: ahead.size] = ahead
            return cum + truth, ps

    return Oracle


# --- leakage ---------------------------------------------------------------------------------


def test_every_fold_is_fitted_through_its_first_origin_and_no_further(aapl, monkeypatch):
    fitted_on, forecast_from = [], []
    Model = type(RNNForecaster(SMALL))  # the estimator of SMALL's head (VolForecaster: vol)
    real_fit, real_paths = Model.fit, Model.distribution

    def recording_fit(self, prices, *args, **kwargs):
        fitted_on.append(prices.index.max())
        return real_fit(self, prices, *args, **kwargs)

    def recording_paths(self, prices, *args, **kwargs):
        forecast_from.append(prices.index.max())
        return real_paths(self, prices, *args, **kwargs)

    monkeypatch.setattr(Model, "fit", recording_fit)
    monkeypatch.setattr(Model, "distribution", recording_paths)
    r = run_backtest(aapl, SMALL, horizon=3, test_days=30, refit_every=10, n_paths=50)

    n = 30  # the last 30 closes are the targets of the 1-day forecasts
    assert len(r.origins) == n and len(r.folds) == math.ceil(n / 10) == len(fitted_on)
    assert r.origins[-1] == aapl.index[-2]  # the last origin still has its next day
    assert r.origins[0] == aapl.index[-31]
    assert sum(f.n_origins for f in r.folds) == n
    for fold, seen in zip(r.folds, fitted_on, strict=True):
        assert seen == fold.first_origin  # what fit() was handed: up to the origin's close
        assert fold.fit_last_date == seen  # what the fitted model reports
        assert fold.scaler_last_date < fold.first_origin
        assert aapl.index.get_loc(fold.first_origin) + 1 == fold.train_days  # prices[:o + 1]
    # each forecast reads up to and including its origin, never a day after
    assert list(forecast_from) == list(r.origins)
    adj = aapl["Adj Close"].to_numpy()
    i = aapl.index.get_indexer(r.origins)
    np.testing.assert_array_equal(r.cases.last, adj[i])
    np.testing.assert_array_equal(r.cases.y[:-2, 2], adj[i[:-2] + 3])
    assert np.isnan(r.cases.y[-2:, 2]).all()  # targets past the data: not scored
    assert [row["n"] for row in r.metrics["naive"]] == [30, 29, 28]


def poisoned(prices: pd.DataFrame, after: int, seed: int = 1) -> pd.DataFrame:
    """The same frame with every price and volume after row `after` scrambled (still valid)."""
    out = prices.astype({"Volume": np.float64})
    rng = np.random.default_rng(seed)
    k = len(out) - after - 1
    factor = np.exp(rng.normal(0.0, 0.2, k))
    for col in ("Open", "High", "Low", "Close", "Adj Close", "Volume"):
        out.iloc[after + 1 :, out.columns.get_loc(col)] *= factor
    return out


def test_no_forecast_reads_a_price_after_its_origin(aapl):
    """Scramble every price after origin T: every model's forecasts up to T stay bit-identical
    (the real RNN included), and those after T change."""
    options = dict(horizon=3, test_days=30, refit_every=10, max_train=200, n_paths=50)
    clean = run_backtest(aapl, SMALL, **options)
    T = 14  # the 5th origin of the second fold: later origins of that fold share its fit
    t = aapl.index.get_loc(clean.origins[T])
    dirty = run_backtest(poisoned(aapl, t), SMALL, **options)
    c, d = clean.cases, dirty.cases
    for model in backtest.MODELS:
        stores = [c.point, c.mean, c.sd, c.p_up], [d.point, d.mean, d.sd, d.p_up]
        for a, b in zip(*stores, strict=True):
            np.testing.assert_array_equal(a[model][: T + 1], b[model][: T + 1], err_msg=model)
        assert not np.array_equal(c.point[model][T + 1 :], d.point[model][T + 1 :]), model
        for level in (0.8, 0.95):
            np.testing.assert_array_equal(
                c.lower[model, level][: T + 1], d.lower[model, level][: T + 1]
            )
    assert [f.to_json() for f in clean.folds[:2]] == [f.to_json() for f in dirty.folds[:2]]


def test_max_train_caps_every_fit_to_the_last_returns(aapl, monkeypatch):
    monkeypatch.setattr(backtest, "RNNForecaster", NaiveRNN)
    r = run_backtest(
        aapl, SMALL, horizon=2, test_days=20, refit_every=10, max_train=100, n_paths=51
    )
    for fold in r.folds:
        o = aapl.index.get_loc(fold.first_origin)
        assert fold.train_days == 101  # 100 returns
        assert fold.fit_first_date == aapl.index[o - 100]
    with pytest.raises(ForecastError, match="--max-train 5 returns are too few"):
        run_backtest(aapl, SMALL, horizon=2, test_days=20, max_train=5)


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
# test_days 3, horizon 2: origins are days 10 (close 105), 11 (close 107) and 12 (close 104);
# day 11 = 107, 12 = 104, 13 = 108: h = 1 is scored on all three, h = 2 on days 10 and 11


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(backtest, "RNNForecaster", NaiveRNN)
    cfg = TrainConfig(window=2, hidden=2, epochs=1)  # 10 prices are enough for window 2
    return run_backtest(frame(CLOSES), cfg, horizon=2, test_days=3, refit_every=1, n_paths=51)


def test_origins_and_folds_on_the_tiny_series(tiny):
    assert list(tiny.origins) == list(frame(CLOSES).index[[10, 11, 12]])
    assert [f.train_days for f in tiny.folds] == [11, 12, 13]  # refit every origin, through it
    assert [r["n"] for r in tiny.metrics["naive"]] == [3, 2]


def test_naive_scores_by_hand(tiny):
    h1, h2 = tiny.metrics["naive"]
    # h = 1: errors 107 − 105 = 2, 104 − 107 = −3, 108 − 104 = 4;  h = 2: −1, 1
    assert h1["mae"] == pytest.approx(3.0) and h2["mae"] == pytest.approx(1.0)
    assert h1["rmse"] == pytest.approx(math.sqrt((4 + 9 + 16) / 3))
    assert h1["rel_mae"] == 1.0 and h2["rel_mae"] == 1.0  # exactly
    # MASE scales: |diffs| of days 0..10 are 2,1,2,1,... summing to 15 over 10 steps → 1.5;
    # up to day 11 one more step of 2 → 17/11; up to day 12 one of 3 → 20/12
    assert h1["mase"] == pytest.approx((2 / 1.5 + 3 / (17 / 11) + 4 / (20 / 12)) / 3)
    assert h2["mase"] == pytest.approx((1 / 1.5 + 1 / (17 / 11)) / 2)
    assert h1["direction_n"] == 0 and math.isnan(h1["direction_accuracy"])
    assert math.isnan(h1["dm_stat"])  # naive is not tested against itself


def test_random_walk_bands_by_hand(tiny):
    def sigma(upto):
        r = [math.log(CLOSES[t] / CLOSES[t - 1]) for t in range(1, upto + 1)]
        return statistics.stdev(r)  # ddof = 1

    sig = [sigma(10), sigma(11), sigma(12)]  # each fit sees the returns through its origin
    y = {1: [107, 104, 108], 2: [104, 108]}
    last = [105, 107, 104]
    for h, row in zip((1, 2), tiny.metrics["naive"], strict=True):
        m = len(y[h])
        for level, z, alpha in ((0.8, Z80, 0.2), (0.95, Z95, 0.05)):
            lo = [p * math.exp(-z * s * math.sqrt(h)) for p, s in zip(last, sig, strict=False)]
            up = [p * math.exp(z * s * math.sqrt(h)) for p, s in zip(last, sig, strict=False)]
            inside = [a <= v <= b for a, v, b in zip(lo, y[h], up, strict=False)]
            key = "interval_score" if level == 0.95 else "interval_score_80"
            score = [
                (b - a) + 2 / alpha * (max(a - v, 0) + max(v - b, 0))
                for a, v, b in zip(lo, y[h], up, strict=False)
            ]
            assert row[f"coverage_{round(level * 100)}"] == pytest.approx(sum(inside) / m)
            assert row[key] == pytest.approx(sum(score) / m)
        crps = [
            stats.norm(math.log(p), s * math.sqrt(h)).expect(lambda x, v=v: abs(x - math.log(v)))
            - s * math.sqrt(h) / math.sqrt(math.pi)  # E|X − y| − ½E|X − X'|
            for p, s, v in zip(last, sig, y[h], strict=False)
        ]
        assert row["crps"] == pytest.approx(sum(crps) / m, rel=1e-4)  # quadrature over a kink
        nll = [
            -stats.norm(0.0, s * math.sqrt(h)).logpdf(math.log(v / p))
            for p, s, v in zip(last, sig, y[h], strict=False)
        ]
        assert row["nll"] == pytest.approx(sum(nll) / m)


def test_drift_scores_by_hand(tiny):
    # r̄ = log(p_o / p_0) / o; ŷ = p_o · exp(h·r̄)
    f10 = [105 * (105 / 100) ** (h / 10) for h in (1, 2)]
    f11 = [107 * (107 / 100) ** (h / 11) for h in (1, 2)]
    f12 = [104 * (104 / 100) ** (h / 12) for h in (1, 2)]
    h1, h2 = tiny.metrics["drift"]
    mae1 = (abs(107 - f10[0]) + abs(104 - f11[0]) + abs(108 - f12[0])) / 3
    mae2 = (abs(104 - f10[1]) + abs(108 - f11[1])) / 2
    assert h1["mae"] == pytest.approx(mae1) and h2["mae"] == pytest.approx(mae2)
    assert h1["rel_mae"] == pytest.approx(mae1 / 3.0)
    assert h2["rel_mae"] == pytest.approx(mae2 / 1.0)
    # drift calls "up" every time; at h = 1 the price went up, down, up: 2 hits of 3, which is
    # what always calling "up" scores: P(X ≥ 2), X ~ Binomial(3, 2/3) = 20/27
    assert (h1["direction_accuracy"], h1["direction_n"]) == (pytest.approx(2 / 3), 3)
    assert h1["direction_up_share"] == pytest.approx(2 / 3)
    assert h1["direction_p_value"] == pytest.approx(20 / 27)


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
            "direction_up_share": 0.53,
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
        ({"horizon": 0}, "--horizon must be in 1..60"),
        ({"horizon": 61}, "--horizon must be in 1..60"),
        ({"refit_every": 0}, "--refit-every must be at least 1"),
        ({"test_days": 3}, "--test-days 3 leaves fewer than 2 origins"),
        ({"test_days": 290}, "use --test-days"),
        ({"n_paths": 1}, "--paths must be in 10..100000"),
        ({"n_paths": 200_000}, "--paths must be in 10..100000"),
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
    assert data["origins"] == 3 and data["options"]["horizon"] == 2
    assert data["verdict"] == tiny.verdict
    assert data["best_baseline"] in backtest.BASELINES
    assert set(data["folds"][0]) >= {"fit_last_date", "scaler_last_date", "first_origin"}
    for model in backtest.MODELS:
        rows_ = data["models"][model]
        assert [r["horizon"] for r in rows_] == [1, 2]
        assert all(KEYS <= set(r) for r in rows_)
    assert data["models"]["naive"][0]["direction_accuracy"] is None  # NaN → null


# --- the best baseline and the export --------------------------------------------------------


def test_verdict_names_the_best_baseline_and_tests_the_rnn_against_it():
    def with_crps(rows_, ratio, stat, p):
        for r in rows_:
            r.update(crps_vs_best=ratio, dm_crps_stat=stat, dm_crps_p_value=p)
        return rows_

    scores = {
        "rnn": with_crps(rows(1.0, 1.0), 0.97, -3.0, 0.004),
        "naive": rows(1.0, 1.0),
        "drift": rows(1.0, 1.0),
    }
    scores["rnn"][2].update(crps_vs_best=1.01, dm_crps_stat=0.8, dm_crps_p_value=0.4)
    text = verdict(scores, "egarch")
    assert (
        "best baseline by CRPS: egarch; the RNN beats it at 1–2 days (CRPS ×0.970/0.970, DM p=0.00/0.00), does not beat it at 3 days (CRPS ×1.010, DM p=0.40)"
        in text
    )
    scores["rnn"] = with_crps(scores["rnn"], 1.05, 4.0, 0.001)
    assert "the RNN is worse at 1–3 days" in verdict(scores, "egarch")


def test_the_best_baseline_has_the_lowest_crps(tiny):
    rel = {
        b: np.mean(
            [
                r["crps"] / q["crps"]
                for r, q in zip(tiny.metrics[b], tiny.metrics["naive"], strict=True)
            ]
        )
        for b in backtest.BASELINES
    }
    assert tiny.best_baseline == min(rel, key=rel.get)
    for row in tiny.metrics[tiny.best_baseline]:
        assert row["crps_vs_best"] == 1.0 and (row["dm_crps_stat"], row["dm_crps_p_value"]) == (
            0.0,
            1.0,
        )
    assert f"best baseline by CRPS: {tiny.best_baseline}" in tiny.verdict


def test_forecasts_table_has_one_row_per_model_origin_and_scored_horizon(tiny, tmp_path):
    table = tiny.forecasts("TINY")
    assert tuple(table.columns) == backtest.EXPORT_COLUMNS
    assert len(table) == len(backtest.MODELS) * (3 + 2)  # h = 1 on 3 origins, h = 2 on 2
    assert list(table["model"].unique()) == list(backtest.MODELS)
    naive = table[table["model"] == "naive"]
    dates = frame(CLOSES).index.strftime("%Y-%m-%d")
    assert list(naive["origin"]) == [dates[10], dates[10], dates[11], dates[11], dates[12]]
    assert list(naive["h"]) == [1, 2, 1, 2, 1]
    assert list(naive["target_date"]) == [dates[11], dates[12], dates[12], dates[13], dates[13]]
    assert list(naive["price_target"]) == [107, 104, 104, 108, 108]
    assert list(naive["price_origin"]) == [105, 105, 107, 107, 104]
    assert (naive["mean"] == 0).all() and (naive["median"] == naive["price_origin"]).all()
    assert (naive["p_up"] == 0.5).all()
    gauss = table[table["model"] != "rnn"]  # bands: price_origin · exp(mean ± z·sd)
    np.testing.assert_allclose(
        gauss["upper_95"], gauss["price_origin"] * np.exp(gauss["mean"] + Z95 * gauss["sd"])
    )
    np.testing.assert_allclose(
        gauss["lower_80"], gauss["price_origin"] * np.exp(gauss["mean"] - Z80 * gauss["sd"])
    )
    assert table["ticker"].eq("TINY").all()
    path = tmp_path / "out" / "bt.csv"
    assert tiny.write_forecasts_csv(path, "TINY") == len(table)
    back = pd.read_csv(path)
    assert list(back.columns) == list(backtest.EXPORT_COLUMNS)
    np.testing.assert_allclose(back["sd"], table["sd"], rtol=1e-15)
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_rnn_rows_read_mean_and_sd_from_the_calibrated_bands(aapl, monkeypatch):
    monkeypatch.setattr(backtest, "RNNForecaster", NaiveRNN)
    r = run_backtest(aapl, SMALL, horizon=2, test_days=5, refit_every=5, n_paths=51)
    t = r.forecasts()
    rnn = t[t["model"] == "rnn"]
    np.testing.assert_allclose(rnn["mean"], np.log(rnn["median"] / rnn["price_origin"]), atol=1e-15)
    half = (np.log(rnn["upper_95"]) - np.log(rnn["lower_95"])) / 2
    np.testing.assert_allclose(rnn["sd"], half / Z95)


def test_an_unwritable_export_says_so(tiny, tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ForecastError, match="cannot write"):
        tiny.write_forecasts_csv(tmp_path / "dir.csv")
