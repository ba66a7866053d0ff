"""The mode registry, and a toy mode written as a user would write one
(``tests/support/halves_mode.py``) running through ``nmi.run`` and through the workflow with
no change to any other module."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import run_snakemake

import neural_mi as nmi
from neural_mi.errors import ConfigError, ParameterError
from neural_mi.modes import Mode, available_modes, get_mode, load_plugins, register_mode
from neural_mi.store import load_dataset

REPO = Path(__file__).resolve().parents[2]
HALVES = REPO / "tests" / "support" / "halves_mode.py"


@pytest.fixture(scope="module")
def halves():
    load_plugins([str(HALVES)])
    return get_mode("halves")


def test_builtin_modes_are_registered_and_unknown_names_are_refused():
    assert {"estimate", "sweep", "rigorous", "dimensionality", "lag"} <= set(available_modes())
    with pytest.raises(ParameterError, match=r"Unknown mode 'rigourous'.*Did you mean 'rigorous'"):
        get_mode("rigourous")

    class Impostor(Mode):
        name = "rigorous"

    with pytest.raises(ParameterError, match="built in and cannot be replaced"):
        register_mode(Impostor)
    assert type(get_mode("rigorous")).__name__ == "Rigorous"


def test_a_plugin_that_cannot_load_is_named():
    with pytest.raises(ParameterError, match="Cannot load the plugin 'no_such_plugin_module'"):
        load_plugins(["no_such_plugin_module"])


def test_plugin_mode_through_nmi_run(halves, gauss_small, fast_params):
    x, y = gauss_small
    results = nmi.run(
        x,
        y,
        mode="halves",
        n_halves=2,
        base_params=fast_params,
        split_mode="random",
        random_seed=3,
        verbose=False,
        output_units="nats",
    )
    tasks = results.details["tasks"]
    assert len(tasks) == 2
    # Each task trained on half of the 900 samples.
    assert (tasks["n_train"] + tasks["n_test"]).tolist() == [450, 450]
    assert results.mi_estimate == pytest.approx(tasks["test_mi"].mean(), rel=1e-12)
    assert results.plot(show=False).get_ylabel() == "MI (nats)"
    # The mode's own argument is checked like any other.
    with pytest.raises(ParameterError, match="n_halves"):
        nmi.run(x, y, mode="halves", n_halves=0, base_params=fast_params, verbose=False)
    with pytest.raises(ParameterError, match="Unknown argument 'n_halfs'.*'n_halves'"):
        nmi.run(x, y, mode="halves", n_halfs=2, base_params=fast_params, verbose=False)


def test_plugin_mode_through_the_workflow_gives_the_nmi_run_numbers(halves, tmp_path, fast_params):
    config = yaml.safe_load((REPO / "config" / "test_tiny.yaml").read_text())
    config["plugins"] = [str(HALVES)]
    config["analyses"] = [
        {
            "name": "halves",
            "mode": "halves",
            "n_halves": 2,
            "base_params": fast_params,
            "split_mode": "random",
        }
    ]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    out = run_snakemake(tmp_path, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    workflow = load_dataset(tmp_path / "results" / "tiny" / "halves" / "tasks.nc")

    synthetic = dict(config["sessions"][0]["synthetic"])
    synthetic.pop("generator")
    x, y = nmi.datasets.generate_correlated_gaussians(
        **synthetic, use_torch=False, seed=nmi.plan.derive_seed(config["seed"], "tiny")
    )
    direct = nmi.run(
        x.T,
        y.T,
        mode="halves",
        n_halves=2,
        base_params=fast_params,
        split_mode="random",
        random_seed=config["seed"],
        verbose=False,
    )
    assert workflow["key"].values.tolist() == direct.tasks["key"].values.tolist()
    np.testing.assert_array_equal(workflow["test_mi"].values, direct.tasks["test_mi"].values)
    summary = (tmp_path / "results" / "summary.csv").read_text().splitlines()
    assert summary[1].startswith("tiny,halves,halves,")
    assert math.isclose(float(summary[1].split(",")[3]), direct.mi_estimate, rel_tol=1e-12)


def test_an_unknown_mode_in_a_config_names_the_registered_ones():
    from neural_mi.config import load_config

    config = yaml.safe_load((REPO / "config" / "test_tiny.yaml").read_text())
    config["analyses"][0]["mode"] = "halvez"
    with pytest.raises(ConfigError, match="unknown mode 'halvez'"):
        load_config(config)
