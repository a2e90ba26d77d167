"""The output heads, one per `--loss`: what each outputs, predicts, is trained on and samples.

A head turns the RNN's outputs y_t (O numbers per step) into a forecast of tomorrow's log
return. Everything that differs between heads lives here, one class each; the compiled loss,
its gradient and the per-step distribution (forecast/model/kernels/rnn.py) are reached through
`kernel_id`, which no other module sees.

    gaussian   O=2  y = (mu, log sigma) of the scaled return      trained on the Gaussian NLL
    mse        O=1  y = mu; sigma = the validation residual std   trained on squared error
    direction  O=2  y = logits of (down, up)                      trained on cross-entropy
    vol        O=1  y = s: log sigma = EWMA log-sd + s; mean 0     trained on the Gaussian NLL

Units: z = (r - mean) / std, the next log return r scaled with the training part's "return"
statistics (forecast.model.features.Scaler); the direction head's target is 1.0 if r > 0 else 0.0.
The vol head's target is z' = (r / sd) e^(-e): the return in units of the EWMA sd forecast
e^e made the day before (forecast.model.features.vol_dataset). Its NLL in s equals the NLL of r/sd
under N(0, e^(2(e + s))) up to the constant e, with the same gradient, so the kernel needs no
offset input: the RNN learns a correction to EWMA, and starts from EWMA (small Why, by = 0).
"""

from dataclasses import dataclass

import numpy as np

from forecast.model.kernels.rnn import HALF_LOG_2PI, HEAD_IDS, distributions


@dataclass(frozen=True)
class Head:
    name: str  # the --loss value
    O: int  # outputs per step
    label: str  # what it predicts, for help texts and summaries
    fixed_sigma: bool = False  # True: sigma is measured after training, not an output
    p_up_label: str = "P(>last)"  # the forecast table's P(up) column
    p_up_meaning: str = "P(close above last_close)"
    has_distribution: bool = True  # False: no distribution of its own to read VaR and ES from
    zero_mean: bool = False  # True: forecasts spread, not direction (median = last, P(up) = 1/2)
    # Training: the vol head learns a correction to the EWMA log-sd (its windows carry that
    # offset, features.vol_dataset), as an ensemble of members, starting near EWMA itself.
    offset: bool = False  # True: its datasets are the vol head's (EWMA offset, burn-in)
    ensemble: bool = False  # True: trains cfg.ensemble members, variances averaged
    why_scale: float = 1.0  # initial output weights Why scaled by this (0.1: start near EWMA)

    @property
    def family(self) -> str:
        """The key of config.HEAD_FEATURES / DEFAULT_FEATURES and of a global model's settings."""
        return "vol" if self.offset else "other"

    @property
    def kernel_id(self) -> int:
        return HEAD_IDS[self.name]

    def target(self, r_next: np.ndarray, mean: float, std: float, offset=None) -> np.ndarray:
        """z (N,) for the next log returns r_next (N,); NaN stays NaN (no next day yet).
        offset: the vol head's log-sd offset per day (N,); the other heads have none."""
        return (r_next - mean) / std

    def baseline_loss(
        self, zv: np.ndarray, r_train: np.ndarray, mean: float, std: float, offset=None
    ) -> float:
        """A random walk's loss per step on validation targets zv (B, T), in this head's units."""
        z0 = -mean / std  # r = 0 in scaled units
        return float(0.5 * np.mean((zv - z0) ** 2))

    def distribution(self, ys: np.ndarray, mean: float, std: float, resid_std: float):
        """ys (B, O) head outputs -> (mu, sigma, p_up), each (B,): mu and sigma of the next
        log return (unscaled; NaN for direction) and P(it is > 0)."""
        z_up = -mean / std  # r > 0  <=>  z > z_up
        mu, sigma, p_up = distributions(
            self.kernel_id, np.ascontiguousarray(ys, np.float64), resid_std, z_up
        )
        return mean + std * mu, std * sigma, p_up

    def draw_noise(self, rng: np.random.Generator, days: int, n: int, abs_quantiles: np.ndarray):
        """What sample_returns needs for n paths over `days`, drawn day by day (so the same seed
        gives the same first days for any number of days): noise (n, days), mags (n, days)."""
        noise = np.ascontiguousarray(rng.standard_normal((days, n)).T)  # z ~ N(mu, sigma^2)
        return noise, np.zeros((1, 1))

    def p_up(self, ps: np.ndarray, cum: np.ndarray) -> np.ndarray:
        """Per forecast day (days,) from the paths' step P(up) ps and cumulative returns cum,
        both (paths, days): here P(close above the last close)."""
        return (cum > 0).mean(axis=0)


class Gaussian(Head):
    def baseline_loss(self, zv, r_train, mean, std, offset=None):
        """N(r = 0, training variance): the constant-volatility random walk's NLL."""
        return super().baseline_loss(zv, r_train, mean, std) + float(HALF_LOG_2PI)


class Mse(Head):
    pass


class Vol(Head):
    def target(self, r_next, mean, std, offset=None):
        """z' = ((r - mean) / std) e^(-e): the return in units of the EWMA sd forecast e^e made
        the day before; offset e (N,) is that day's EWMA log-sd (features.vol_inputs)."""
        if offset is None:
            raise ValueError("the vol head's target is relative to the EWMA log-sd: pass offset")
        return (r_next - mean) / std * np.exp(-offset)

    def baseline_terms(self, zv: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Per step, the random walk N(0, sd^2)'s NLL in this head's units: NLL(z' | sigma = 1)
        minus e (sigma = e^(-e) in units of the offset). zv, offset: (B, T); NaN where a step
        is not scored (burn-in)."""
        return HALF_LOG_2PI + 0.5 * (zv * np.exp(offset)) ** 2 - offset

    def baseline_loss(self, zv, r_train, mean, std, offset=None):
        """The random walk's mean loss per scored step; offset: the windows' e (B, T)."""
        if offset is None:
            raise ValueError(
                "the vol head's random walk is relative to the EWMA log-sd: pass offset"
            )
        return float(np.nanmean(self.baseline_terms(zv, offset)))


class Direction(Head):
    def target(self, r_next, mean, std, offset=None):
        return np.where(np.isnan(r_next), np.nan, (r_next > 0).astype(np.float64))

    def baseline_loss(self, zv, r_train, mean, std, offset=None):
        """P(up) = the training share of up days: the random walk's cross-entropy."""
        p = float(np.mean(r_train > 0))
        return float(-np.mean(zv * np.log(p) + (1 - zv) * np.log(1 - p)))

    def draw_noise(self, rng, days, n, abs_quantiles):
        """Uniforms for the up/down draw, and |log return| magnitudes drawn from the training
        distribution of |r| (abs_quantiles, evenly spaced quantiles)."""
        noise = np.ascontiguousarray(rng.random((days, n)).T)
        grid = np.linspace(0, 1, len(abs_quantiles))
        u = np.ascontiguousarray(rng.random((days, n)).T)
        return noise, np.interp(u, grid, abs_quantiles)

    def p_up(self, ps, cum):
        """The model's own P(up that day), averaged over paths."""
        return ps.mean(axis=0)


HEADS: dict[str, Head] = {
    h.name: h
    for h in (
        Gaussian("gaussian", 2, "mean and volatility (mu, sigma)"),
        Mse("mse", 1, "point forecast", fixed_sigma=True),
        Direction(
            "direction",
            2,
            "P(up)",
            p_up_label="P(up)",
            p_up_meaning="P(up that day)",
            has_distribution=False,  # magnitudes are the training |r|'s, not a forecast
        ),
        Vol(
            "vol",
            1,
            "volatility (sigma, mean 0)",
            zero_mean=True,
            offset=True,
            ensemble=True,
            why_scale=0.1,  # drawn N(0, 1/H) by init_theta: the correction starts near 0
        ),
    )
}
