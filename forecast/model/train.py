"""The training loop: epochs in Python, one compiled kernel call per mini-batch, early stopping.

Like umap-learn, the loop stays in Python (shuffling, progress, stopping) and each step's
arithmetic is compiled: `loss_and_grad` (forward + BPTT on threads) then `adam_step`
(clip + Adam). Progress leaves through a callback so this module never knows a terminal exists.
"""

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from forecast.config import TrainConfig
from forecast.errors import ForecastError
from forecast.model.heads import HEADS
from forecast.model.kernels.adam import adam_step
from forecast.model.kernels.rnn import (
    CHUNK,
    GATES,
    chunks_grad,
    chunks_loss,
    init_theta,
    single_threaded_blas,
    unpack,
)

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # Adam's published defaults


@dataclass(frozen=True)
class Epoch:
    """One epoch's record; losses are per time step (window loss / T) so windows of any T compare."""

    epoch: int
    train_loss: float
    val_loss: float
    best_val_loss: float
    improved: bool


@dataclass
class TrainResult:
    theta: np.ndarray  # (P,) best weights by validation loss
    best_epoch: int
    history: list[Epoch] = field(default_factory=list)

    @property
    def best(self) -> Epoch:
        return self.history[self.best_epoch - 1]


def member_losses(results: list[TrainResult]) -> dict[str, float]:
    """The best epoch's train and validation loss per scored step, averaged over members."""
    return {
        "train": float(np.mean([r.best.train_loss for r in results])),
        "val": float(np.mean([r.best.val_loss for r in results])),
    }


def member_epochs(results: list[TrainResult]) -> list[tuple[int, int]]:
    """(best epoch, epochs run) of each member."""
    return [(r.best_epoch, len(r.history)) for r in results]


def fit_theta(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    cfg: TrainConfig,
    on_epoch: Callable[[Epoch], None] | None = None,
    steps: int | None = None,
) -> TrainResult:
    """Train on windows train = (xs (B, T, D), zs (B, T)); stop early on the validation loss.

    steps: scored steps per window (T - burn-in; default T), for losses per step.
    Returns the weights of the best validation epoch. A non-finite loss raises ForecastError.
    """
    with single_threaded_blas():
        return _fit_theta(train, val, cfg, on_epoch, steps or train[0].shape[1])


def fit_ensemble(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    cfg: TrainConfig,
    on_epoch: Callable[[Epoch], None] | None = None,
    steps: int | None = None,
) -> list[TrainResult]:
    """cfg.ensemble members, member m trained by fit_theta with seed cfg.seed + m.

    The members run side by side on up to set_num_threads() threads, and the threads left
    over are shared out to each member's batch chunks (16 threads, 5 members: 3 threads a
    member), so a global model's large batches use every core. A member's weights depend on
    neither split (bit-identical). on_epoch hears member 0 only (one progress bar).
    """
    return fit_members([(train, val, cfg)], on_epoch, steps)[0]


def fit_members(
    ensembles: list[tuple[tuple, tuple, TrainConfig]],
    on_epoch: Callable[[Epoch], None] | None = None,
    steps: int | None = None,
) -> list[list[TrainResult]]:
    """fit_ensemble for several ensembles (train, val, cfg) at once, all their members side by
    side on the threads: a global model's two ensembles (forecast.model.globalmodel) then use
    every core together. on_epoch hears the first ensemble's member 0 only."""
    jobs = [
        (train, val, replace(cfg, seed=cfg.seed + m))
        for train, val, cfg in ensembles
        for m in range(cfg.ensemble)
    ]

    def member(k: int) -> TrainResult:
        train, val, cfg = jobs[k]
        return fit_theta(train, val, cfg, on_epoch if k == 0 else None, steps)

    with single_threaded_blas():
        results = map_members(member, len(jobs))
    out, k = [], 0
    for _, _, cfg in ensembles:
        out.append(results[k : k + cfg.ensemble])
        k += cfg.ensemble
    return out


def map_members(fn: Callable[[int], object], n: int) -> list:
    """[fn(0), ..., fn(n - 1)] on up to set_num_threads() threads, in member order; each
    member's batches may use set_num_threads() // (members at once) threads for their chunks.

    fn must call only nogil kernels for the threads to overlap; each member's result is its
    own, so the thread count never changes a bit of it.
    """
    workers = min(_threads[0], n)
    if workers == 1:
        return [fn(m) for m in range(n)]
    share = max(1, _threads[0] // workers)  # chunk threads per member: never oversubscribed

    def member(m: int):
        _local.chunk_threads = share
        try:
            return fn(m)
        finally:
            _local.chunk_threads = None

    with ThreadPoolExecutor(workers, "forecast-member") as pool:
        return list(pool.map(member, range(n)))


def init_member(D: int, H: int, O: int, seed: int, head: str, cell: str = "elman") -> np.ndarray:
    """Initial weights; the vol head starts at EWMA: output weights Why ~ N(0, 0.1^2/H)."""
    theta = init_theta(D, H, O, seed, GATES[cell])
    scale = HEADS[head].why_scale
    if scale != 1.0:
        _, _, _, Why, _ = unpack(theta, D, H, O)
        Why *= scale  # a view into theta
    return theta


def _fit_theta(train, val, cfg, on_epoch, steps):
    xs, zs = train
    xv, zv = val
    n, T, D = xs.shape
    H = cfg.hidden
    head, O = HEADS[cfg.loss].kernel_id, HEADS[cfg.loss].O
    theta = init_member(D, H, O, cfg.seed, cfg.loss, cfg.cell)
    grad, m, v = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    rng = np.random.default_rng([cfg.seed, 1])  # shuffling stream, separate from the init stream
    best_theta, best_val, best_epoch, bad_epochs = theta.copy(), np.inf, 0, 0
    history: list[Epoch] = []
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        order = rng.permutation(n)
        total = 0.0
        for lo in range(0, n, cfg.batch_size):
            idx = np.sort(order[lo : lo + cfg.batch_size])  # sorted: contiguous-ish gathers
            if isinstance(xs, np.ndarray):  # the threads gather their own windows
                loss = loss_and_grad(theta, D, H, O, head, xs, zs, grad, idx)
            else:  # windows gathered on demand (forecast.model.panel.Windows)
                loss = loss_and_grad(theta, D, H, O, head, xs[idx], zs[idx], grad)
            if not np.isfinite(loss):
                raise ForecastError(
                    f"training diverged (loss is {loss} in epoch {epoch}); nothing was saved; "
                    f"try a smaller --lr (now {cfg.lr:g}) or a smaller --hidden"
                )
            step += 1
            adam_step(theta, grad, m, v, step, cfg.lr, BETA1, BETA2, EPS, cfg.max_norm)
            total += loss * len(idx)
        train_loss = total / n / steps
        val_loss = mean_loss(theta, D, H, O, head, xv, zv) / steps
        if not np.isfinite(val_loss):
            raise ForecastError(
                f"validation loss is {val_loss} in epoch {epoch}; nothing was saved; try a smaller --lr"
            )
        improved = val_loss < best_val
        if improved:
            best_theta, best_val, best_epoch, bad_epochs = theta.copy(), val_loss, epoch, 0
        else:
            bad_epochs += 1
        record = Epoch(epoch, float(train_loss), float(val_loss), float(best_val), improved)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if bad_epochs >= cfg.patience:
            break
    return TrainResult(best_theta, best_epoch, history)


# --- the thread layer: chunks of a batch on plain threads ----------------------------------------


def loss_and_grad(theta, D, H, O, head, xs, zs, grad, rows=None):
    """Mean window loss of a batch and its gradient (written into grad, same shape as theta).

    xs (N, T, D) and zs (N, T), window-major as forecast.model.features builds them; the batch is
    the windows `rows` (b,) of them (default: all N). It is cut into chunks of at most CHUNK
    windows; threads take contiguous runs of chunks, each gathering its own windows, and the
    chunks' gradients are added in chunk order, so any thread count gives the same bits.
    """
    rows = np.arange(xs.shape[0]) if rows is None else rows
    n = (len(rows) + CHUNK - 1) // CHUNK
    parts = np.zeros((n, theta.shape[0]))  # one gradient per chunk
    losses = np.zeros(n)
    _on_threads(chunks_grad, n, (theta, D, H, O, head, xs, zs, rows), (parts, losses))
    np.sum(parts, axis=0, out=grad)  # row after row: a fixed order
    return losses.sum()


def mean_loss(theta, D, H, O, head, xs, zs) -> float:
    """Mean window loss of windows xs (B, T, D), zs (B, T), no gradient: batch_loss cut into
    chunks on threads (a global model's validation set is large), summed in chunk order."""
    n = (xs.shape[0] + CHUNK - 1) // CHUNK
    losses = np.zeros(n)
    _on_threads(chunks_loss, n, (theta, D, H, O, head, xs, zs), (losses,))
    return losses.sum() / xs.shape[0]


def _on_threads(kernel, n: int, args: tuple, outs: tuple) -> None:
    """kernel(*args, first, last, *outs) over chunks 0..n-1, in contiguous runs (sizes
    differing by at most one) on up to set_num_threads() threads, this one included."""
    workers = min(_chunk_threads(), n)
    bounds = [n * w // workers for w in range(workers + 1)]
    jobs = [
        _pool().submit(kernel, *args, bounds[w], bounds[w + 1], *outs) for w in range(1, workers)
    ]
    kernel(*args, bounds[0], bounds[1], *outs)
    for job in jobs:
        job.result()


_threads = [min(2, len(os.sched_getaffinity(0)))]  # this machine: 2 cores
_executor: list[ThreadPoolExecutor] = []
_local = threading.local()  # .chunk_threads: this thread trains one member, with this many
_pool_lock = threading.Lock()  # members on threads may ask for the pool at the same time


def set_num_threads(n: int) -> None:
    """Threads for training (default: up to 2, this machine's core count): chunks of a
    batch in loss_and_grad, or ensemble members in map_members."""
    _threads[0] = max(1, int(n))


def _chunk_threads() -> int:
    """Threads for a batch's chunks: a member running on a thread of map_members has its share
    (members side by side already use threads; more would oversubscribe), else all of them."""
    return getattr(_local, "chunk_threads", None) or _threads[0]


def _pool() -> ThreadPoolExecutor:
    """Plain threads, not Numba's parallel=True: the kernel releases the GIL (nogil), compiles
    in a few seconds instead of ~18, and waiting threads sleep instead of spinning, which under
    load from other processes made OpenMP's barrier 30x slower (measured). The pool grows with
    set_num_threads (a fixed size of 4 once capped training at 5 threads on a 16-core machine)."""
    need = _threads[0] - 1  # each caller takes its first run of chunks itself
    with _pool_lock:
        if not _executor or _executor[0]._max_workers < need:
            if _executor:
                _executor.pop().shutdown(wait=True)
            _executor.append(ThreadPoolExecutor(max(1, need), thread_name_prefix="forecast-bptt"))
        return _executor[0]
