"""Peak memory of reading a small selection out of a ~1 GB NWB file.

    python scripts/benchmark_sources.py                 # writes /tmp/neural_mi_bench.nwb
    python scripts/benchmark_sources.py --path big.nwb --keep

The file holds an ElectricalSeries (16 channels x 9,437,184 samples of float32 at 1 kHz,
576 MiB, chunks of 32768 samples x 16 channels) and a Units table (200 units x 250,000
spike times, 381 MiB, chunks of 2^20 spikes), both written chunk by chunk.  Then a fresh
process per case loads one channel, or ten units, through the NWB source, and reports its
resident memory after importing the libraries and its peak during the load (Linux's
VmRSS and VmHWM, the peak reset just before the load), so the difference is what the load
itself needed, against the size of the data it returned; a third process times
``describe()`` of both (what ``neural-mi plan`` calls).  Prints the figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

N_CHANNELS = 16
N_TIMES = 9 * 2**20
LFP_RATE = 1000.0
LFP_CHUNK = (32768, N_CHANNELS)
N_UNITS = 200
SPIKES_PER_UNIT = 250_000
SPIKE_CHUNK = 2**20
SELECTED_UNITS = list(range(40, 50))

CASES = {
    "one channel": {"object": "acquisition/ElectricalSeries", "channels": [5]},
    "ten units": {"object": "units", "units": {"ids": SELECTED_UNITS}},
}


def _iterators():
    """Chunk iterators that compute the file's contents slice by slice."""
    from hdmf.data_utils import GenericDataChunkIterator

    class Signal(GenericDataChunkIterator):
        def _get_data(self, selection):
            times, channels = selection
            t = np.arange(times.start, times.stop, dtype=np.float64)[:, None] / LFP_RATE
            c = np.arange(channels.start, channels.stop, dtype=np.float64)[None, :]
            return np.sin(2 * np.pi * (1.0 + c) * t).astype(np.float32)

        def _get_maxshape(self):
            return (N_TIMES, N_CHANNELS)

        def _get_dtype(self):
            return np.dtype(np.float32)

    class SpikeTimes(GenericDataChunkIterator):
        """Unit u's k-th spike at (k + phase(u, k)) / rate: sorted within each unit."""

        def _get_data(self, selection):
            (index,) = selection
            i = np.arange(index.start, index.stop, dtype=np.int64)
            unit, k = np.divmod(i, SPIKES_PER_UNIT)
            phase = ((unit * 1_000_003 + k) * 0.6180339887498949) % 1.0
            return (k + phase) * (N_TIMES / LFP_RATE / SPIKES_PER_UNIT)

        def _get_maxshape(self):
            return (N_UNITS * SPIKES_PER_UNIT,)

        def __len__(self):  # the spike-time index checks its target's length
            return N_UNITS * SPIKES_PER_UNIT

        def _get_dtype(self):
            return np.dtype(np.float64)

    signal = Signal(chunk_shape=LFP_CHUNK, buffer_shape=(8 * LFP_CHUNK[0], N_CHANNELS))
    spikes = SpikeTimes(chunk_shape=(SPIKE_CHUNK,), buffer_shape=(8 * SPIKE_CHUNK,))
    return signal, spikes


def write_file(path: Path) -> None:
    """Write the benchmark file, chunk by chunk."""
    import datetime

    from hdmf.common import ElementIdentifiers, VectorData, VectorIndex
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ecephys import ElectricalSeries
    from pynwb.misc import Units

    signal, spike_times = _iterators()
    nwb = NWBFile(
        session_description="benchmark",
        identifier="benchmark",
        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    )
    device = nwb.create_device("probe")
    group = nwb.create_electrode_group("shank", description="b", location="CA1", device=device)
    for _ in range(N_CHANNELS):
        nwb.add_electrode(group=group, location="CA1")
    nwb.add_acquisition(
        ElectricalSeries(
            name="ElectricalSeries",
            data=signal,
            electrodes=nwb.create_electrode_table_region(list(range(N_CHANNELS)), "all"),
            rate=LFP_RATE,
        )
    )
    times = VectorData(name="spike_times", description="spike times (s)", data=spike_times)
    ends = np.arange(1, N_UNITS + 1, dtype=np.int64) * SPIKES_PER_UNIT
    nwb.units = Units(
        name="units",
        description="synthetic units",
        id=ElementIdentifiers(name="id", data=np.arange(N_UNITS)),
        # the index first: hdmf forgets a column written by an iterator once it has seen it
        columns=[VectorIndex(name="spike_times_index", data=ends, target=times), times],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), "w") as io:
            io.write(nwb)


def _memory(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes (Linux only:
    ru_maxrss would carry the writer's peak over into the measuring process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure(path: str, case: str) -> dict:
    """In this (fresh) process: load one case and report memory (bytes) and time."""
    import h5py  # noqa: F401  (imported before the baseline, as the load needs them)
    import pynwb  # noqa: F401

    from neural_mi.data.sources import describe_source, load_source

    if case == "describe":
        start = time.perf_counter()
        for selection in CASES.values():
            describe_source({"path": path, **selection})
        return {"seconds_per_describe": (time.perf_counter() - start) / len(CASES)}
    baseline = _memory("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) restarts from here
    start = time.perf_counter()
    loaded = load_source({"path": path, **CASES[case]})
    seconds = time.perf_counter() - start
    peak = _memory("VmHWM")
    if hasattr(loaded, "values"):
        selected = loaded.values.nbytes
    else:
        selected = sum(train.nbytes for train in loaded.times)
    return {"baseline": baseline, "peak": peak, "selected": selected, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=Path("/tmp/neural_mi_bench.nwb"))
    parser.add_argument("--keep", action="store_true", help="keep the file afterwards")
    parser.add_argument("--measure", choices=[*CASES, "describe"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(str(args.path), args.measure)))
        return 0
    if not args.path.exists():
        start = time.perf_counter()
        write_file(args.path)
        print(f"wrote {args.path} in {time.perf_counter() - start:.0f} s")
    mib = 2**20
    print(f"file: {args.path.stat().st_size / mib:.0f} MiB")
    try:
        for case in [*CASES, "describe"]:
            out = subprocess.run(
                [sys.executable, __file__, "--path", str(args.path), "--measure", case],
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            if case == "describe":
                print(f"describe(): {figures['seconds_per_describe'] * 1e3:.0f} ms per call")
                continue
            extra = figures["peak"] - figures["baseline"]
            print(
                f"{case}: selected {figures['selected'] / mib:.1f} MiB; peak RSS during the load "
                f"{extra / mib:.1f} MiB above the {figures['baseline'] / mib:.0f} MiB after "
                f"imports ({extra / figures['selected']:.2f}x the selection), "
                f"{figures['seconds']:.2f} s"
            )
    finally:
        if not args.keep:
            args.path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
