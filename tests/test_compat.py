"""The private calls of neural_mi.compat against their public fallbacks: same numbers, same
behaviour, so a dependency release that drops a private API is noticed here and costs only
speed."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
import torch
from helpers import make_result

from neural_mi import compat, store


def _adam_run(private: bool) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    params = [torch.randn(5, 3, generator=generator), torch.randn(7, generator=generator)]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    steps = [torch.zeros(()) for _ in params]
    for _ in range(20):
        grads = [torch.randn(p.shape, generator=generator) for p in params]
        for step in steps:
            step.add_(1.0)
        compat.adam_step(
            params,
            grads,
            [m for m, _ in moments],
            [v for _, v in moments],
            steps,
            1e-2,
            private=private,
        )
    return params


def test_fused_adam_and_the_public_functional_adam_agree():
    if getattr(torch, "_fused_adam_", None) is None:
        pytest.skip("this torch has no fused Adam kernel: the public route is the only one")
    fused, public = _adam_run(True), _adam_run(False)
    for a, b in zip(fused, public):
        # Same update; the fused kernel may round differently in the last bits (float32).
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_running_a_coroutine_on_zarrs_loop_or_in_a_thread_reads_the_same(tmp_path):
    for i in range(3):
        store.write_task(make_result(f"c-g03-s0{i}", "c", "rigorous", 0.1 * i), tmp_path)
    paths = sorted(tmp_path.glob("*.zarr"))
    from neural_mi.store.task_store import _read_tasks_async

    private = compat.run_coroutine(_read_tasks_async(paths))
    public = compat.run_coroutine(_read_tasks_async(paths), private=False)
    assert [r.spec for r in private] == [r.spec for r in public]
    assert [r.test_mi for r in private] == [r.test_mi for r in public] == [0.0, 0.1, 0.2]
    for a, b in zip(private, public):
        np.testing.assert_array_equal(a.history["test_mi"], b.history["test_mi"])

    async def inside_a_running_loop():  # as in a notebook
        return compat.run_coroutine(_read_tasks_async(paths), private=False)

    assert [r.test_mi for r in asyncio.run(inside_a_running_loop())] == [0.0, 0.1, 0.2]


def test_pending_timers_are_cancelled_and_other_threads_left_alone():
    fired = []
    timer = threading.Timer(30.0, lambda: fired.append(1))
    timer.start()
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    start = time.monotonic()
    assert compat.cancel_pending_timers() >= 1
    timer.join(timeout=5)
    assert not timer.is_alive() and fired == [] and time.monotonic() - start < 5
    assert worker.is_alive()
    stop.set()
    worker.join()


def test_known_signature_gives_snakemake_the_parameters_it_would_inspect():
    from snakemake.common import get_function_params, get_input_function_aux_params

    def job_runtime(wildcards, attempt):
        return attempt

    inspected = dict(get_function_params(job_runtime))
    recorded = compat.known_signature(job_runtime)
    assert recorded is job_runtime
    assert dict(get_function_params(recorded)) == inspected
    # Snakemake passes the parameters the function takes, and only those.
    offered = {"attempt": 2, "threads": 4, "input": []}
    assert get_input_function_aux_params(recorded, offered) == {"attempt": 2}
    # The public route leaves the function as it is (Snakemake inspects it per call).

    def other(wildcards):
        return None

    assert compat.known_signature(other, private=False) is other
    assert not hasattr(other, "_overwrite_params")
