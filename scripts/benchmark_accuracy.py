"""Accuracy of neural_mi on the "Beyond Normal" benchmark families, next to CCA and KSG.

Usage::

    python scripts/benchmark_accuracy.py --quick                 # 5-d tasks, 2 seeds
    python scripts/benchmark_accuracy.py --json out.json --readme README.md
                                                   # 3-, 5- and 25-d, 3 seeds; README table
    python scripts/benchmark_accuracy.py --quick --modes estimate \\
        --transforms none,standardize,robust,rank_gauss --base '{"n_layers": 2}'
    python scripts/benchmark_accuracy.py --from-json est.json rig.json  # one table of both
    python scripts/benchmark_accuracy.py --only 3x3,25x25 --modes estimate --json est.json
                                                   # the 3- and 25-d families only

Task names end in their dimensions (``-3x3``, ``-5x5``, ``-25x25``), so ``--only`` picks a
dimension; the additive-uniform families (1-d) and the 9-bit Gaussian (``normal-9bits-5x5``)
come with every run that ``--only`` does not narrow.

The task families are those of Czyż, Grabowski, Vogt, Beerenwinkel & Marx, "Beyond
Normal: On the Evaluation of Mutual Information Estimators", NeurIPS 2023, arXiv:2306.11078
(their package ``benchmark-mi`` pins numpy<2 and so cannot live beside ours):
dense and sparse multivariate normals, multivariate Student-t with few degrees of freedom
and its asinh-transformed version, the half-cube, normal-CDF and spiral transforms of the
sparse normal, additive uniform noise, and a Gaussian with 9 bits (the InfoNCE ceiling).
Every task has a closed-form MI (see each sampler's docstring; every value was checked
against ``benchmark-mi`` 0.1.3 in a separate environment); a transform applied to X and Y
separately is a diffeomorphism, so it leaves the MI of its base task unchanged.

Each task is sampled with several seeds and estimated by:

- ``CCA``: the MI of a Gaussian with the samples' covariance,
  ``-1/2 sum log(1 - rho_i^2)`` over canonical correlations ``rho_i``;
- ``KSG``: the Kraskov-Stögbauer-Grassberger estimator (Phys. Rev. E 69, 066138, 2004,
  estimator 1, max-norm, ``k=3``) on standardized coordinates;
- ``nmi.run`` with its default parameters, IID split, in ``estimate`` and ``rigorous``
  mode (once per input transform asked for; ``--base`` and ``--estimator`` change the
  defaults, to compare settings).

The markdown table (:func:`report`) shows, per task, the truth and each method's mean
error over seeds (bits, estimate minus truth), marking where neural_mi is more than 0.1
bit worse than the better of CCA and KSG and where an estimate was at the estimator's
ceiling; the last lines give each method's mean absolute error over all task-seed pairs,
how many of neural_mi's estimates were refused (a task failed), and the time per estimate
relative to the first neural_mi method's.
``--readme`` puts the table into the README's accuracy section.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln, ndtr

import neural_mi as nmi
from neural_mi.errors import FailedTasksError

LOG2 = math.log(2.0)

Sampler = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Task:
    """A benchmark task: a sampler of ``(x (n, d_x), y (n, d_y))`` and its MI in nats."""

    name: str
    sample: Sampler
    mi_nats: float


# --------------------------------------------------------------------------------------
# Families
# --------------------------------------------------------------------------------------


def gaussian_mi(covariance: np.ndarray, dim_x: int) -> float:
    """MI (nats) of a Gaussian ``(X, Y)``: ``1/2 log(det S_xx det S_yy / det S)``."""
    logdet = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    return 0.5 * (
        logdet(covariance[:dim_x, :dim_x]) + logdet(covariance[dim_x:, dim_x:]) - logdet(covariance)
    )


def dense_covariance(dim_x: int, dim_y: int, off_diag: float = 0.5) -> np.ndarray:
    """Czyż et al.'s dense multivariate normal: every pair of coordinates of ``(X, Y)``
    has correlation ``off_diag`` (0.5)."""
    n = dim_x + dim_y
    return np.full((n, n), off_diag) + (1.0 - off_diag) * np.eye(n)


def sparse_covariance(
    dim_x: int, dim_y: int, n_interacting: int = 2, strength: float = 2.0
) -> np.ndarray:
    """Czyż et al.'s sparse multivariate normal: ``X_i = strength Z_i + E_i`` and
    ``Y_i = strength Z_i + F_i`` for ``i < n_interacting``, independent otherwise, as
    correlations: each interacting pair has ``rho = s^2 / (s^2 + 1)`` (0.8), so the MI
    is ``-n_interacting / 2 log(1 - rho^2)`` = 1.0217 nats whatever the dimensions."""
    rho = strength**2 / (strength**2 + 1.0)
    covariance = np.eye(dim_x + dim_y)
    for i in range(n_interacting):
        covariance[i, dim_x + i] = covariance[dim_x + i, i] = rho
    return covariance


def paired_covariance(dim: int, mi_nats: float) -> np.ndarray:
    """``dim`` independent pairs ``(X_i, Y_i)`` of equal correlation sharing ``mi_nats``:
    ``rho^2 = 1 - exp(-2 mi / dim)``."""
    rho = math.sqrt(1.0 - math.exp(-2.0 * mi_nats / dim))
    covariance = np.eye(2 * dim)
    for i in range(dim):
        covariance[i, dim + i] = covariance[dim + i, i] = rho
    return covariance


def normal_sampler(covariance: np.ndarray, dim_x: int) -> Sampler:
    factor = np.linalg.cholesky(covariance)

    def sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        z = rng.standard_normal((n, len(covariance))) @ factor.T
        return z[:, :dim_x], z[:, dim_x:]

    return sample


def student_entropy(dim: int, dof: float) -> float:
    """Differential entropy (nats) of a ``dim``-variate Student-t with identity dispersion:
    Arellano-Valle, Contreras-Reyes & Genton, Scand. J. Stat. 40 (2013), Eq. (7)."""
    half = 0.5 * (dof + dim)
    return (
        gammaln(0.5 * dof)
        - gammaln(half)
        + 0.5 * dim * math.log(dof * math.pi)
        + half * (digamma(half) - digamma(0.5 * dof))
    )


def student_mi(dim_x: int, dim_y: int, dof: float) -> float:
    """MI (nats) of a multivariate Student-t with identity dispersion, as in Czyż et al.:
    ``h(X) + h(Y) - h(X, Y)`` with the entropies of :func:`student_entropy`; positive
    although the coordinates are uncorrelated, through their shared scale."""
    return (
        student_entropy(dim_x, dof)
        + student_entropy(dim_y, dof)
        - student_entropy(dim_x + dim_y, dof)
    )


def student_sampler(dim_x: int, dim_y: int, dof: float) -> Sampler:
    def sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        z = rng.standard_normal((n, dim_x + dim_y))
        t = z / np.sqrt(rng.chisquare(dof, size=(n, 1)) / dof)
        return t[:, :dim_x], t[:, dim_x:]

    return sample


def additive_uniform_sampler(epsilon: float) -> Sampler:
    def sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(0.0, 1.0, size=(n, 1))
        return x, x + rng.uniform(-epsilon, epsilon, size=(n, 1))

    return sample


def additive_uniform_mi(epsilon: float) -> float:
    """MI (nats) of ``X ~ U(0, 1)``, ``Y = X + U(-eps, eps)`` (Czyż et al.'s additive
    noise): ``eps - log(2 eps)`` for ``eps <= 1/2``, ``1 / (4 eps)`` above."""
    return epsilon - math.log(2.0 * epsilon) if epsilon <= 0.5 else 0.25 / epsilon


def transformed(sampler: Sampler, fx: Callable, fy: Callable) -> Sampler:
    def sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = sampler(n, rng)
        return fx(x), fy(y)

    return sample


def half_cube(v: np.ndarray) -> np.ndarray:
    """Czyż et al.'s half-cube map ``|v|^{3/2} sign(v)``, per coordinate."""
    return np.abs(v) ** 1.5 * np.sign(v)


def spiral(i: int, j: int, speed: float) -> Callable[[np.ndarray], np.ndarray]:
    """Czyż et al.'s spiral: rotation of the ``(i, j)`` plane by ``speed * ||v||^2`` (the
    exponential of ``speed ||v||^2 A_ij``, ``A_ij`` a generator of so(n)); ``||v||`` is
    unchanged, so the map is invertible."""

    def apply(v: np.ndarray) -> np.ndarray:
        angle = speed * np.sum(v**2, axis=1)
        out = v.copy()
        out[:, i] = np.cos(angle) * v[:, i] - np.sin(angle) * v[:, j]
        out[:, j] = np.sin(angle) * v[:, i] + np.cos(angle) * v[:, j]
        return out

    return apply


def tasks(dims: list[int]) -> list[Task]:
    """The benchmark tasks at the given dimensions (``d x d``)."""
    out = []
    for d in dims:
        sparse = normal_sampler(sparse_covariance(d, d), d)
        sparse_mi = gaussian_mi(sparse_covariance(d, d), d)
        out += [
            Task(
                f"normal-dense-{d}x{d}",
                normal_sampler(dense_covariance(d, d), d),
                gaussian_mi(dense_covariance(d, d), d),
            ),
            Task(f"normal-sparse-{d}x{d}", sparse, sparse_mi),
            Task(f"half-cube-sparse-{d}x{d}", transformed(sparse, half_cube, half_cube), sparse_mi),
            Task(f"normal-cdf-sparse-{d}x{d}", transformed(sparse, ndtr, ndtr), sparse_mi),
        ]
        if d >= 3:
            out.append(
                Task(
                    f"spiral-sparse-{d}x{d}",
                    transformed(sparse, spiral(0, 1, 1.0 / d), spiral(1, 2, 1.0 / d)),
                    sparse_mi,
                )
            )
        if d <= 5:
            for dof in (1, 2):
                t = student_sampler(d, d, dof)
                out += [
                    Task(f"student-t{dof}-{d}x{d}", t, student_mi(d, d, dof)),
                    Task(
                        f"asinh-student-t{dof}-{d}x{d}",
                        transformed(t, np.arcsinh, np.arcsinh),
                        student_mi(d, d, dof),
                    ),
                ]
    out += [
        Task("additive-uniform-0.1", additive_uniform_sampler(0.1), additive_uniform_mi(0.1)),
        Task("additive-uniform-0.75", additive_uniform_sampler(0.75), additive_uniform_mi(0.75)),
        Task("normal-9bits-5x5", normal_sampler(paired_covariance(5, 9 * LOG2), 5), 9 * LOG2),
    ]
    return out


# --------------------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------------------


def cca_mi(x: np.ndarray, y: np.ndarray) -> float:
    """MI (nats) of the Gaussian with the samples' covariance (= CCA)."""
    return gaussian_mi(np.cov(np.hstack([x, y]), rowvar=False), x.shape[1])


def ksg_mi(x: np.ndarray, y: np.ndarray, k: int = 3) -> float:
    """KSG estimator 1 (nats) on standardized coordinates, max-norm, ``k`` neighbours."""
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean(0)) / y.std(0)
    n = len(x)
    radius = cKDTree(np.hstack([x, y])).query(np.hstack([x, y]), k=k + 1, p=np.inf)[0][:, -1]
    inner = np.nextafter(radius, 0.0)  # strictly closer than the k-th joint neighbour
    n_x = cKDTree(x).query_ball_point(x, inner, p=np.inf, return_length=True) - 1
    n_y = cKDTree(y).query_ball_point(y, inner, p=np.inf, return_length=True) - 1
    return float(digamma(k) + digamma(n) - np.mean(digamma(n_x + 1) + digamma(n_y + 1)))


def neural_mi(
    x: np.ndarray,
    y: np.ndarray,
    mode: str,
    transform: str,
    seed: int,
    workers: int,
    extra: dict | None = None,
) -> tuple[float, bool]:
    """``nmi.run`` with default parameters but ``extra``: the MI (nats; NaN when the run
    refused a number because a task failed) and whether a task's estimate was at the
    estimator's ceiling."""
    kwargs = dict(extra or {})
    if transform != "default":
        kwargs["input_transform"] = transform
    try:
        result = nmi.run(
            x.T.astype(np.float32),
            y.T.astype(np.float32),
            mode=mode,
            processor_type="continuous",
            processor_params={"window_size": 1},
            split_mode="random",
            output_units="nats",
            random_seed=seed,
            verbose=False,
            n_workers=workers,
            **kwargs,
        )
    except FailedTasksError:
        return math.nan, False
    value = result.mi_estimate
    return (math.nan if value is None else float(value)), bool(result.headline["n_at_ceiling"])


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5-d tasks and 2 seeds")
    parser.add_argument("--seeds", type=int, help="seeds per task (default 3, quick 2)")
    parser.add_argument("--samples", type=int, default=5000, help="samples per task")
    parser.add_argument("--modes", default="estimate,rigorous")
    parser.add_argument(
        "--transforms", default="default", help="comma-separated; 'default': the package's"
    )
    parser.add_argument("--base", default="{}", help="base_params (JSON) for every nmi.run")
    parser.add_argument("--estimator", help="estimator for every nmi.run")
    parser.add_argument("--only", default="", help="comma-separated substrings of task names")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="write every estimate to this file")
    parser.add_argument(
        "--from-json",
        nargs="+",
        help="report the estimates of these files (no runs); rows of the same task and seed "
        "are joined, so that an estimate run and a rigorous run make one table",
    )
    parser.add_argument("--readme", help=f"replace the table between the {MARKERS} markers")
    args = parser.parse_args()
    if args.from_json:
        joined: dict[tuple[str, int], dict] = {}
        for path in args.from_json:
            with open(path) as f:
                for row in json.load(f):
                    joined.setdefault((row["task"], row["seed"]), {}).update(row)
        methods = list(
            dict.fromkeys(
                k
                for r in joined.values()
                for k in r
                if k not in ("task", "seed", "truth") and " " not in k
            )
        )
        rows = [r for r in joined.values() if all(m in r for m in methods)]
        if len(rows) < len(joined):
            print(f"left out {len(joined) - len(rows)} task-seed pairs not run by every method")
    else:
        methods, rows = run_benchmark(args)
    table = report(rows, methods)
    print("\n" + table)
    if args.readme:
        replace_block(args.readme, table)


#: The README's benchmark table lies between these lines (``--readme``).
MARKERS = ("<!-- benchmark_accuracy:begin -->", "<!-- benchmark_accuracy:end -->")


def run_benchmark(args: argparse.Namespace) -> tuple[list[str], list[dict]]:
    """Every selected task x seed by every method: ``(methods, rows)``, values in bits."""
    dims = [5] if args.quick else [3, 5, 25]
    n_seeds = args.seeds or (2 if args.quick else 3)
    selected = [
        t for t in tasks(dims) if not args.only or any(s in t.name for s in args.only.split(","))
    ]
    transforms = args.transforms.split(",")
    neural = [
        (mode, transform, mode if transforms == ["default"] else f"{mode}:{transform}")
        for mode in args.modes.split(",")
        for transform in transforms
    ]
    methods = ["CCA", "KSG"] + [label for _, _, label in neural]
    extra: dict = {"base_params": json.loads(args.base)}
    if args.estimator:
        extra["estimator"] = args.estimator
    rows = []
    for seed in range(n_seeds):  # seeds outermost: an interrupted run covers every task
        for task in selected:
            rng = np.random.default_rng([seed, zlib.crc32(task.name.encode())])
            x, y = task.sample(args.samples, rng)
            row: dict = {"task": task.name, "seed": seed, "truth": task.mi_nats / LOG2}
            for method in methods:
                start = time.perf_counter()
                ceiling = False
                if method == "CCA":
                    value = cca_mi(x, y)
                elif method == "KSG":
                    value = ksg_mi(x, y)
                else:
                    mode, transform = next((m, t) for m, t, label in neural if label == method)
                    value, ceiling = neural_mi(x, y, mode, transform, seed, args.workers, extra)
                row[method] = value / LOG2
                row[f"{method} s"] = time.perf_counter() - start
                row[f"{method} ceiling"] = ceiling
            rows.append(row)
            if args.json:  # after every row, so that an interrupted run keeps what it measured
                with open(args.json, "w") as f:
                    json.dump(rows, f, indent=1)
            print(
                f"{task.name:26s} seed {seed} truth {row['truth']:6.3f} "
                + " ".join(f"{m}={row[m]:.3f}" for m in methods),
                flush=True,
            )
    return methods, rows


#: A family whose MAE exceeds the better of CCA's and KSG's by more than this is marked.
BASELINE_MARGIN_BITS = 0.1


def report(rows: list[dict], methods: list[str]) -> str:
    """A markdown table: per task, the truth and each method's mean error over seeds (bits,
    estimate minus truth); then each method's MAE, refusals and time.

    Marks: ``†`` the method's MAE on the task exceeds the better of CCA's and KSG's by more
    than :data:`BASELINE_MARGIN_BITS`; ``c`` an estimate was flagged at the estimator's
    ceiling; ``(k refused)`` k seeds gave no number (a task failed).
    """
    names = list(dict.fromkeys(r["task"] for r in rows))
    n_seeds = len({r["seed"] for r in rows})
    lines = [
        f"| task ({n_seeds} seeds) | truth | " + " | ".join(methods) + " |",
        "|---|---:|" + "---:|" * len(methods),
    ]
    excess_count = dict.fromkeys(methods, 0)
    for name in names:
        group = [r for r in rows if r["task"] == name]
        mae = {m: _mae(group, m) for m in methods}
        best_baseline = min(mae["CCA"], mae["KSG"])
        cells = []
        for m in methods:
            errors = [r[m] - r["truth"] for r in group if not math.isnan(r[m])]
            cell = f"{np.mean(errors):+.3f}" if errors else "n/a"
            if m not in ("CCA", "KSG") and mae[m] > best_baseline + BASELINE_MARGIN_BITS:
                cell += " †"
                excess_count[m] += 1
            if any(r.get(f"{m} ceiling") for r in group):
                cell += " c"
            if len(errors) < len(group):
                cell += f" ({len(group) - len(errors)} refused)"
            cells.append(cell)
        lines.append(f"| {name} | {group[0]['truth']:.3f} | " + " | ".join(cells) + " |")
    # Times as ratios: the machine's speed (and its other jobs) cancel out.
    reference_time = np.mean([r[f"{methods[2]} s"] for r in rows])
    below = [r for r in rows if not any(r.get(f"{m} ceiling") for m in methods)]
    summary = {
        "MAE (bits)": [f"{_mae(rows, m):.3f}" for m in methods],
        "MAE, tasks never at the ceiling": [f"{_mae(below, m):.3f}" for m in methods],
        f"tasks † (> {BASELINE_MARGIN_BITS} bit worse than CCA/KSG)": [
            "" if m in ("CCA", "KSG") else str(excess_count[m]) for m in methods
        ],
        "refused (task failed)": [str(sum(math.isnan(r[m]) for r in rows)) for m in methods],
        f"time per estimate (x {methods[2]}'s)": [
            f"{np.mean([r[f'{m} s'] for r in rows]) / reference_time:.3g}" for m in methods
        ],
    }
    for label, cells in summary.items():
        lines.append(f"| **{label}** | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mae(rows: list[dict], method: str) -> float:
    """Mean absolute error (bits) of the numbers a method gave."""
    errors = [abs(r[method] - r["truth"]) for r in rows if not math.isnan(r[method])]
    return float(np.mean(errors)) if errors else math.nan


def replace_block(path: str, table: str) -> None:
    """Put ``table`` between the :data:`MARKERS` lines of the file at ``path``."""
    with open(path) as f:
        text = f.read()
    begin, end = MARKERS
    if begin not in text or end not in text:
        raise SystemExit(f"{path} lacks the lines {begin} and {end}.")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(f"{head}{begin}\n{table}\n{end}{tail}")


if __name__ == "__main__":
    main()
