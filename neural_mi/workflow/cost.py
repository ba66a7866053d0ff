"""What a workflow job costs: estimated seconds and memory, from the plan alone (torch-free).

The estimates size train packs (``tasks_per_job: auto``), group jobs into cluster
submissions and set each job's ``runtime`` and ``mem_mb``.  They are counted in *reference
seconds*: the time one CPU core with one torch thread takes, modelled from the plan
(samples, epochs cap, model size, evaluation) with constants measured on the reference
machine (see :data:`REFERENCE`).  Early stopping usually ends a task before its epochs cap,
so the estimate is an upper bound of the training a task does.

A task's estimate::

    steps   = ceil(n_train / batch_size)                   per epoch
    flops   = 3 * batch_size * f + 6 * batch_size**2 * e   per step (forward, backward)
    eval    = m * f + 2 * m**2 * e                         per epoch
    seconds = task_s + n_epochs * (steps * (step_s / stack + flops / flop_rate)
                                   + eval / flop_rate)

with ``n_train = train_fraction * n_samples / gamma``, ``m = min(max_eval_samples,
n_test)``, ``f`` the forward flops of one sample through both embeddings
(``2 * (d_x + d_y) * h + 4 * (L - 1) * h**2 + 4 * h * e`` for inputs of ``d_x`` and
``d_y`` features, ``L`` hidden layers of width ``h``, embeddings of size ``e``), and
``stack`` the number of tasks trained together as one stacked model (those that train on
the same data: the per-step overhead is shared).

:class:`Calibration` scales estimates to the machine that ran them, from the ``wall_time``
finished tasks recorded: ``factor = sum(recorded) / sum(estimated)`` over the tasks read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..tasks import TaskSpec

__all__ = [
    "REFERENCE",
    "Calibration",
    "DataSize",
    "aggregate_seconds",
    "prepare_seconds",
    "requested_minutes",
    "task_seconds",
    "train_memory_mb",
]

#: Constants of the cost model, measured on the reference machine (2 CPU cores, CPU torch,
#: one torch thread: estimate-mode tasks on correlated Gaussians of 1,000-20,000 samples,
#: hidden 64-256, 2-3 layers, without early stopping).
REFERENCE: dict[str, float] = {
    "task_s": 0.05,  # fixed cost of one task (split, model, evaluation set-up)
    "step_s": 1.5e-3,  # Python and torch overhead of one optimiser step
    "flop_rate": 3.0e10,  # arithmetic rate of the training (flop per second)
    "prepare_s": 3.0,  # a prepare job, besides reading its data
    "prepare_mb_per_s": 200.0,  # rate at which prepare reads and writes raw data
    "aggregate_s": 3.0,  # an aggregate job (tables, netCDF, figure)
    "aggregate_task_s": 0.01,  # reading one task store
    "job_mb": 800.0,  # memory of a job's process with torch imported
}

#: Requested runtime = estimate x HEADROOM + STARTUP_S (then x attempt on a retry).
HEADROOM = 1.5
#: A cluster job's start: queueing its steps, Snakemake's parse of the workflow, imports.
STARTUP_S = 60.0

#: Calibration factors are kept within these bounds (a few odd records cannot ask for a
#: runtime 1000 times the model's).
FACTOR_BOUNDS = (0.05, 20.0)


@dataclass(frozen=True)
class DataSize:
    """What a task's cost depends on in its session's data.

    Attributes
    ----------
    n_samples
        Processed samples the task's data gives (the smaller of X and Y), before any chunking.
    features_x, features_y
        Input features of one sample of X and of Y (0 without Y).
    raw_mb
        Size of the session's raw X and Y in memory (float32), in MB.
    """

    n_samples: int
    features_x: int
    features_y: int
    raw_mb: float


def task_seconds(spec: TaskSpec, size: DataSize, stack: int = 1) -> float:
    """Estimated reference seconds of one task (see the module docstring).

    Parameters
    ----------
    spec
        The task.
    size
        Its session's data, as the task's processing gives it.
    stack
        How many tasks train together with it as one stacked model.
    """
    base: Mapping[str, Any] = spec.params["base"]
    n = max(1, size.n_samples // max(1, spec.gamma))
    n_train = max(1, int(n * float(base.get("train_fraction", 0.8))))
    n_test = max(1, n - n_train)
    batch = min(int(base["batch_size"]), n_train)
    h, e = int(base["hidden_dim"]), int(base["embedding_dim"])
    layers = int(base["n_layers"])
    f = 2 * (size.features_x + size.features_y) * h + 4 * (layers - 1) * h * h + 4 * h * e
    m = min(int(base.get("max_eval_samples", 4096)), n_test)
    steps = math.ceil(n_train / batch)
    step_flops = 3 * batch * f + 6 * batch * batch * e
    eval_flops = m * f + 2 * m * m * e
    rate = REFERENCE["flop_rate"]
    per_epoch = steps * (REFERENCE["step_s"] / max(1, stack) + step_flops / rate)
    per_epoch += eval_flops / rate
    return REFERENCE["task_s"] + int(base["n_epochs"]) * per_epoch


def train_memory_mb(size: DataSize) -> float:
    """Estimated peak memory (MB) of a train job on a session of this size.

    The process (torch imported), the raw data, its windows and the tensors built from
    them: about four times the raw data.
    """
    return REFERENCE["job_mb"] + 4.0 * size.raw_mb


def prepare_seconds(size: DataSize) -> float:
    """Estimated reference seconds of a prepare job (read or generate, validate, write)."""
    return REFERENCE["prepare_s"] + size.raw_mb / REFERENCE["prepare_mb_per_s"]


def aggregate_seconds(n_tasks: int) -> float:
    """Estimated reference seconds of an aggregate job over ``n_tasks`` task stores."""
    return REFERENCE["aggregate_s"] + n_tasks * REFERENCE["aggregate_task_s"]


def requested_minutes(seconds: float) -> int:
    """The runtime (whole minutes) to request for a job estimated at ``seconds``."""
    return max(1, math.ceil((seconds * HEADROOM + STARTUP_S) / 60.0))


@dataclass(frozen=True)
class Calibration:
    """How this machine's tasks compare with the model: recorded / estimated seconds.

    Attributes
    ----------
    factor
        Multiplies reference estimates into this machine's seconds (1.0 without records).
    n_tasks
        How many finished tasks it was measured on.
    """

    factor: float = 1.0
    n_tasks: int = 0

    @classmethod
    def from_records(cls, records: Iterable[tuple[float, float]]) -> Calibration:
        """From ``(recorded, estimated)`` seconds of finished tasks.

        The factor is the ratio of the sums (long tasks weigh most: they decide a job's
        runtime), kept within :data:`FACTOR_BOUNDS`; records that are not positive and
        finite are skipped.
        """
        recorded = estimated = 0.0
        n = 0
        for wall, estimate in records:
            if math.isfinite(wall) and wall > 0 and math.isfinite(estimate) and estimate > 0:
                recorded += wall
                estimated += estimate
                n += 1
        if n == 0:
            return cls()
        low, high = FACTOR_BOUNDS
        return cls(factor=min(high, max(low, recorded / estimated)), n_tasks=n)
