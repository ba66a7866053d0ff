"""Write synthetic NWB sessions with a known dependence, and a sessions sheet.

    python scripts/make_synthetic_nwb.py data/synthetic --sessions 4 --duration 300

Each session is one NWB file holding three variables on one clock (seconds from 0):

- ``processing/ecephys/LFP/LFP``: an LFP-like ElectricalSeries, ``n_channels`` channels at
  ``lfp_rate`` Hz: ``x_c(t) = g_c z(t) + sigma_x e_c(t)``;
- ``units``: sorted units; unit ``u`` fires as an inhomogeneous Poisson process of rate
  ``r exp(beta_u z'(t) - beta_u^2 / 2)`` (its mean rate is ``r``); units with
  ``beta_u > 0`` are labelled ``quality: good``, the ``n_noise_units`` with ``beta_u = 0``
  (constant rate, independent of everything) ``quality: noise``;
- ``processing/behavior/Position/position``: a 1-D position (SpatialSeries) at
  ``position_rate`` Hz: ``y(t) = b z'(t) + sigma_y e(t)``.

``z`` is a stationary Ornstein-Uhlenbeck process (unit variance, correlation
``exp(-|dt| / tau)``), simulated on a 1 kHz grid on which every sample time lies; the
``e`` are independent standard normal noises.  In ``condition: coupled`` sessions
``z' = z``: LFP, units and position share one latent.  In ``condition: control`` sessions
``z'`` is an independent copy of ``z``: the units and the position still share a latent,
but the LFP is independent of both, so the true MI of the LFP with either is 0.

Closed forms (the LFP and position are jointly Gaussian): at one instant, with
``G = sum_c g_c^2``,

    I(x(t); y(t)) = -1/2 log2(1 - rho^2),   rho^2 = G b^2 / ((G + sigma_x^2)(b^2 + sigma_y^2))

bits in coupled sessions, 0 in control ones; for windows (the LFP samples and position
samples in ``[t, t + w)``), ``I = 1/2 log2(det S_xx det S_yy / det S)`` from the exact
covariance ``S`` of the window's samples (:func:`window_mi_bits`).  These go to
``ground_truth.json``.  The spikes have no closed form: their MI with the LFP and the
position is positive in coupled sessions (with the position in both conditions) and 0
for the noise units.

The sessions sheet ``sessions.tsv`` has one row per session: ``name``, ``path`` (the NWB
file, relative to the sheet's folder), ``subject``, ``area``, ``condition``.  Session
``i`` is coupled when ``i`` is even; seeds derive from ``--seed`` and the session name.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from neural_mi.plan import derive_seed

#: Rate of the grid the latent is simulated on; every sample time lies on it.
GRID_RATE = 1000


@dataclass(frozen=True)
class Model:
    """Parameters of a synthetic session (see the module docstring)."""

    duration: float = 300.0
    lfp_rate: int = 250
    position_rate: int = 50
    tau: float = 0.5
    lfp_gains: tuple[float, ...] = (1.0, 0.8, 0.6, 0.4)
    sigma_x: float = 1.0
    b: float = 1.0
    sigma_y: float = 0.5
    rate: float = 8.0
    betas: tuple[float, ...] = field(default=(0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1))
    n_noise_units: int = 2

    def __post_init__(self) -> None:
        for name in ("lfp_rate", "position_rate"):
            if GRID_RATE % getattr(self, name):
                raise ValueError(f"{name} must divide {GRID_RATE} Hz")


def latent(n: int, tau: float, rng: np.random.Generator) -> np.ndarray:
    """A stationary unit-variance Ornstein-Uhlenbeck path on the grid, ``(n,)``."""
    from scipy.signal import lfilter

    a = math.exp(-1.0 / (GRID_RATE * tau))
    drive = rng.standard_normal(n) * math.sqrt(1 - a * a)
    drive[0] = rng.standard_normal()  # z[0] from the stationary distribution
    return lfilter([1.0], [1.0, -a], drive)


def spike_train(z: np.ndarray, rate: float, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Spike times (s) of a Poisson unit of rate ``rate exp(beta z - beta^2 / 2)``."""
    probability = rate * np.exp(beta * z - beta * beta / 2) / GRID_RATE
    bins = np.flatnonzero(rng.random(z.size) < probability)
    return (bins + rng.random(bins.size)) / GRID_RATE


def simulate(model: Model, coupled: bool, seed: int) -> dict[str, np.ndarray | list[np.ndarray]]:
    """One session's LFP ``(time, channels)``, position ``(time,)`` and spike trains."""
    rng = np.random.default_rng(seed)
    n = round(model.duration * GRID_RATE)
    z = latent(n, model.tau, rng)
    shared = z if coupled else latent(n, model.tau, rng)
    gains = np.asarray(model.lfp_gains)
    z_lfp = z[:: GRID_RATE // model.lfp_rate]
    lfp = z_lfp[:, None] * gains + model.sigma_x * rng.standard_normal((z_lfp.size, gains.size))
    z_pos = shared[:: GRID_RATE // model.position_rate]
    position = model.b * z_pos + model.sigma_y * rng.standard_normal(z_pos.size)
    betas = [*model.betas, *([0.0] * model.n_noise_units)]
    spikes = [spike_train(shared, model.rate, beta, rng) for beta in betas]
    return {"lfp": lfp.astype(np.float32), "position": position, "spikes": spikes}


def pointwise_mi_bits(model: Model) -> float:
    """I(x(t); y(t)) in bits in a coupled session (0 in control ones)."""
    g2 = float(np.sum(np.square(model.lfp_gains)))
    rho2 = g2 * model.b**2 / ((g2 + model.sigma_x**2) * (model.b**2 + model.sigma_y**2))
    return -0.5 * math.log2(1 - rho2)


def window_mi_bits(model: Model, window: float) -> float:
    """MI in bits, in a coupled session, between the LFP samples and the position samples
    that fall in one window ``[t, t + window)`` (both grids start on ``t``)."""
    t_x = np.arange(round(window * model.lfp_rate)) / model.lfp_rate
    t_y = np.arange(round(window * model.position_rate)) / model.position_rate
    if t_x.size == 0 or t_y.size == 0:
        raise ValueError(f"a {window} s window holds no LFP or no position sample")
    gains = np.asarray(model.lfp_gains)

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-np.abs(a[:, None] - b[None, :]) / model.tau)

    # x ordered (time, channel): entry (i, c) at index i * n_channels + c
    s_xx = np.kron(kernel(t_x, t_x), np.outer(gains, gains))
    s_xx += model.sigma_x**2 * np.eye(s_xx.shape[0])
    s_yy = model.b**2 * kernel(t_y, t_y) + model.sigma_y**2 * np.eye(t_y.size)
    s_xy = np.kron(kernel(t_x, t_y), gains[:, None] * model.b)
    joint = np.block([[s_xx, s_xy], [s_xy.T, s_yy]])
    logdet = [np.linalg.slogdet(m)[1] for m in (s_xx, s_yy, joint)]
    return (logdet[0] + logdet[1] - logdet[2]) / (2 * math.log(2))


def write_session(path: Path, name: str, meta: dict[str, str], model: Model, data: dict) -> None:
    """Write one session's NWB file."""
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.behavior import Position, SpatialSeries
    from pynwb.ecephys import LFP, ElectricalSeries
    from pynwb.file import Subject

    nwb = NWBFile(
        session_description=f"synthetic session, condition {meta['condition']}",
        identifier=name,
        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        subject=Subject(subject_id=meta["subject"], species="Mus musculus"),
    )
    device = nwb.create_device("probe")
    group = nwb.create_electrode_group(
        "shank0", description="synthetic", location=meta["area"], device=device
    )
    for _ in model.lfp_gains:
        nwb.add_electrode(group=group, location=meta["area"])
    electrodes = nwb.create_electrode_table_region(list(range(len(model.lfp_gains))), "all")
    lfp = data["lfp"]
    series = ElectricalSeries(
        name="LFP",
        data=H5DataIO(lfp, chunks=(min(lfp.shape[0], 65536), lfp.shape[1])),
        electrodes=electrodes,
        rate=float(model.lfp_rate),
        starting_time=0.0,
    )
    container = LFP()  # in the file before the series, so the series' electrodes share its root
    nwb.create_processing_module("ecephys", "LFP").add(container)
    container.add_electrical_series(series)
    position = SpatialSeries(
        name="position",
        data=data["position"],
        rate=float(model.position_rate),
        starting_time=0.0,
        reference_frame="track start",
    )
    nwb.create_processing_module("behavior", "position").add(Position(spatial_series=position))
    nwb.add_unit_column("quality", "good: driven by the latent; noise: constant rate")
    nwb.add_unit_column("beta", "coupling of the unit's log rate to the latent")
    betas = [*model.betas, *([0.0] * model.n_noise_units)]
    for unit, (beta, train) in enumerate(zip(betas, data["spikes"])):
        nwb.add_unit(
            spike_times=train,
            obs_intervals=[[0.0, model.duration]],
            quality="good" if beta > 0 else "noise",
            beta=beta,
            id=unit,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hdmf's notes on tables linked across modules
        with NWBHDF5IO(str(path), "w") as io:
            io.write(nwb)


def session_meta(index: int) -> dict[str, str]:
    """Sheet metadata of session ``index``: even sessions coupled, odd ones control."""
    return {
        "subject": f"m{index // 2 + 1}",
        "area": ("CA1", "V1")[(index // 2) % 2],
        "condition": "coupled" if index % 2 == 0 else "control",
    }


def make_sessions(
    out: Path, n_sessions: int, model: Model, seed: int, windows: tuple[float, ...] = (0.1, 0.2)
) -> Path:
    """Write the sessions, ``sessions.tsv`` and ``ground_truth.json`` into ``out``.

    Returns
    -------
    Path
        The sessions sheet.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows, truth = [], {}
    for index in range(n_sessions):
        name = f"session_{index:03d}"
        meta = session_meta(index)
        coupled = meta["condition"] == "coupled"
        data = simulate(model, coupled, derive_seed(seed, name))
        write_session(out / f"{name}.nwb", name, meta, model, data)
        rows.append({"name": name, "path": f"{name}.nwb", **meta})
        truth[name] = {
            "condition": meta["condition"],
            "mi_lfp_position_bits": {
                "pointwise": pointwise_mi_bits(model) if coupled else 0.0,
                **{f"window_{w:g}s": window_mi_bits(model, w) if coupled else 0.0 for w in windows},
            },
            "mi_lfp_units": "positive, no closed form" if coupled else 0.0,
            "mi_units_position": "positive, no closed form (noise units: 0)",
        }
    sheet = out / "sessions.tsv"
    with sheet.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    summary = {"seed": seed, "grid_rate": GRID_RATE, "model": asdict(model), "sessions": truth}
    (out / "ground_truth.json").write_text(json.dumps(summary, indent=2) + "\n")
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the sessions into")
    parser.add_argument("--sessions", type=int, default=4, help="number of sessions")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds per session")
    parser.add_argument("--tau", type=float, default=0.5, help="latent time constant (s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model = Model(duration=args.duration, tau=args.tau)
    sheet = make_sessions(args.out, args.sessions, model, args.seed)
    print(f"wrote {args.sessions} sessions and {sheet}")
    print(f"LFP-position MI at one instant (coupled): {pointwise_mi_bits(model):.4f} bits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
