"""A corpus of bad configs and data files: each is refused by ``neural-mi plan`` before any
job or training, with a message that names the problem, and never as a traceback.

Every case starts from a small valid config (one file-based session, ``rec``, with X and Y
arrays of 2 x 1000 points, and one rigorous analysis) and breaks one thing.  The nmi.run
side of the corpus is ``tests/test_run_errors.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from neural_mi import cli


def _base(tmp: Path) -> dict:
    np.save(tmp / "x.npy", np.random.default_rng(0).normal(size=(2, 1000)).astype(np.float32))
    np.save(tmp / "y.npy", np.random.default_rng(1).normal(size=(2, 1000)).astype(np.float32))
    return {
        "seed": 1,
        "results_dir": str(tmp / "results"),
        "sessions": [
            {"name": "rec", "x": {"path": str(tmp / "x.npy")}, "y": {"path": str(tmp / "y.npy")}}
        ],
        "analyses": [
            {
                "name": "rig",
                "mode": "rigorous",
                "gamma_range": [1, 2, 3],
                "base_params": {"batch_size": 64},
                "split_mode": "random",
            }
        ],
    }


def _synthetic(generator: str, **kwargs) -> dict:
    return {
        "name": "syn",
        "synthetic": {"generator": generator, **kwargs},
        "x": {"type": "continuous"},
        "y": {"type": "continuous"},
    }


def session(**changes) -> Callable[[dict, Path], None]:
    def edit(config: dict, tmp: Path) -> None:
        config["sessions"][0].update(changes)

    return edit


def variable(name: str, **changes) -> Callable[[dict, Path], None]:
    def edit(config: dict, tmp: Path) -> None:
        config["sessions"][0][name].update(changes)

    return edit


def analysis(**changes) -> Callable[[dict, Path], None]:
    def edit(config: dict, tmp: Path) -> None:
        config["analyses"][0].update(changes)
        for key, value in list(changes.items()):
            if value is None:
                del config["analyses"][0][key]

    return edit


def base_params(**changes) -> Callable[[dict, Path], None]:
    def edit(config: dict, tmp: Path) -> None:
        config["analyses"][0]["base_params"].update(changes)

    return edit


def top(**changes) -> Callable[[dict, Path], None]:
    def edit(config: dict, tmp: Path) -> None:
        config.update(changes)

    return edit


def data_file(
    name: str, make: Callable[[], object], variable_name: str = "x", **variable_changes
) -> Callable[[dict, Path], None]:
    """Write a data file (``.npy``, or ``.npz`` when ``make`` returns a dict) and point the
    variable at it."""

    def edit(config: dict, tmp: Path) -> None:
        value = make()
        path = tmp / name
        if isinstance(value, dict):
            np.savez(path, **value)
        else:
            np.save(path, value)
        config["sessions"][0][variable_name].update(path=str(path), **variable_changes)

    return edit


def synthetic_session(generator: str, **kwargs) -> Callable[[dict, Path], None]:
    def edit(config: dict, tmp: Path) -> None:
        config["sessions"] = [_synthetic(generator, **kwargs)]

    return edit


def both(*edits: Callable[[dict, Path], None]) -> Callable[[dict, Path], None]:
    def edit(config: dict, tmp: Path) -> None:
        for one in edits:
            one(config, tmp)

    return edit


def _nan_x():
    x = np.zeros((2, 1000), dtype=np.float32)
    x[1, 7] = np.nan
    return x


def _lfp_spikes_lag(config: dict, tmp: Path) -> None:
    np.savez(tmp / "spk.npz", u0=np.linspace(0, 9.9, 50), u1=np.linspace(0.05, 9.9, 40))
    config["sessions"][0]["y"] = {
        "path": str(tmp / "spk.npz"),
        "type": "spike",
        "params": {"window_size": 0.01},
    }
    config["analyses"][0].update(mode="lag", lag_range=[0, 1], gamma_range=None)
    del config["analyses"][0]["gamma_range"]


#: name -> (edit of the base config, pattern the error must contain)
CASES: dict[str, tuple[Callable[[dict, Path], None], str]] = {
    # --- the config's structure ---
    "unknown top-level key": (top(sesions=[]), r"unknown key 'sesions' \(did you mean 'sessions'"),
    "seed not an integer": (top(seed="abc"), r"config: seed: must be an integer"),
    "seed a fraction": (top(seed=1.5), r"config: seed: must be an integer, got 1.5"),
    "tasks_per_job zero": (top(tasks_per_job=0), r"tasks_per_job: must be an integer >= 1"),
    "threads_per_job negative": (top(threads_per_job=-2), r"threads_per_job: must be an integer"),
    "no sessions": (top(sessions=[]), r"sessions: List should have at least 1 item"),
    "no analyses": (top(analyses=[]), r"analyses: List should have at least 1 item"),
    "plugins not a list": (top(plugins="mymode"), r"plugins must be a list"),
    "plugin that does not exist": (
        top(plugins=["no_such_module_x"]),
        r"Cannot load the plugin 'no_such_module_x'",
    ),
    "results_dir not a string": (
        top(results_dir=5),
        r"results_dir: Input should be a valid string",
    ),
    # --- sessions ---
    "repeated session names": (
        lambda c, t: c["sessions"].append(copy.deepcopy(c["sessions"][0])),
        r"session names must be unique; repeated: rec",
    ),
    "session name with a slash": (session(name="a/b"), r"name: String should match pattern"),
    "missing x path": (variable("x", path=None), r"x.path is missing"),
    "unknown key in x": (
        variable("x", pth="x.npy"),
        r"unknown key 'pth' in x \(did you mean 'path'",
    ),
    "unknown processor type": (variable("x", type="spikes"), r"x.type: Input should be"),
    "missing data file": (
        variable("y", path="nowhere.npy"),
        r"session 'rec', y: data file 'nowhere.npy' not found",
    ),
    "key given for an npy file": (
        variable("x", key="lfp"),
        r"key 'lfp' was given, but a .npy file",
    ),
    "npz without its key": (
        data_file("two.npz", lambda: {"a": np.zeros((2, 1000)), "b": np.zeros(3)}),
        r"needs key: one of a, b",
    ),
    "npz with an unknown key": (
        data_file("two.npz", lambda: {"a": np.zeros((2, 1000))}, key="lfp"),
        r"has no array 'lfp'; choose one of a",
    ),
    "unsupported file type": (
        lambda c, t: (
            t.joinpath("x.csv").write_text("1,2"),
            c["sessions"][0]["x"].update(path=str(t / "x.csv")),
        ),
        r"unsupported file type '.csv'",
    ),
    "synthetic with a path": (
        both(
            synthetic_session("correlated_gaussians", n_samples=1000, dim=2, mi=1.0),
            lambda c, t: c["sessions"][0]["x"].update(path="x.npy"),
        ),
        r"x.path is set, but the session is synthetic",
    ),
    "synthetic processed type": (
        both(
            synthetic_session("correlated_gaussians", n_samples=1000, dim=2, mi=1.0),
            lambda c, t: c["sessions"][0]["x"].update(type=None),
        ),
        r"x.type is null \(already processed\), but synthetic",
    ),
    "unknown generator": (
        synthetic_session("corelated_gaussians"),
        r"unknown synthetic generator 'corelated_gaussians' \(did you mean 'correlated_gaussians'",
    ),
    "unknown generator argument": (
        synthetic_session("correlated_gaussians", n_samples=1000, dims=2, mi=1.0),
        r"unknown key 'dims' in synthetic",
    ),
    "missing generator argument": (
        synthetic_session("correlated_gaussians", n_samples=1000, dim=2),
        r"synthetic generator 'correlated_gaussians' needs mi",
    ),
    "generator refuses its value": (
        synthetic_session("correlated_gaussians", n_samples=1000, dim=2, mi=-1.0),
        r"session 'syn': synthetic generator 'correlated_gaussians': "
        r"mi must be a finite number >= 0",
    ),
    "generator length not a number": (
        synthetic_session("correlated_gaussians", n_samples="many", dim=2, mi=1.0),
        r"synthetic n_samples must be a finite number > 0",
    ),
    "X-only generator asked for Y": (
        synthetic_session("latent_factor_data", n_samples=1000, latent_dim=2, n_channels=4),
        r"makes X only; remove 'y'",
    ),
    # --- data values and shapes ---
    "NaN in X": (
        data_file("nan.npy", _nan_x),
        r"session 'rec', x holds 1 non-finite values.*index \(1, 7\)",
    ),
    "Inf in Y": (
        data_file("inf.npy", lambda: np.full((2, 1000), np.inf, dtype=np.float32), "y"),
        r"session 'rec', y holds 2000 non-finite values",
    ),
    "3-D array for a signal": (
        data_file("cube.npy", lambda: np.zeros((2, 10, 1000), np.float32)),
        r"has shape \(2, 10, 1000\) \(3-D\), but processor 'continuous' expects",
    ),
    "string array": (
        data_file("str.npy", lambda: np.array([["a"] * 1000] * 2)),
        r"session 'rec', x must be numeric, got dtype <U1",
    ),
    "complex array": (
        data_file("cx.npy", lambda: np.zeros((2, 1000), dtype=complex)),
        r"must be numeric, got dtype complex128",
    ),
    "empty array": (
        data_file("empty.npy", lambda: np.zeros((2, 0), np.float32)),
        r"processing X leaves 0 sample\(s\)|is empty",
    ),
    "1-D processed data": (
        data_file("flat.npy", lambda: np.zeros(1000, np.float32), type=None),
        r"shape \(1000,\) \(1-D\), but processor None expects",
    ),
    "negative spike time": (
        data_file(
            "spk.npz",
            lambda: {"u0": np.array([-0.5, 1.0, 9.0])},
            "y",
            type="spike",
            params={"window_size": 0.01},
        ),
        r"spike channel 0 holds 1 negative spike times",
    ),
    "NaN in a spike file": (
        data_file(
            "spk.npz",
            lambda: {"u0": np.array([0.5, np.nan, 9.99])},
            "y",
            type="spike",
            params={"window_size": 0.01},
        ),
        r"spike channel 'u0' holds 1 non-finite time",
    ),
    "2-D spike entry": (
        data_file(
            "spk.npz",
            lambda: {"u0": np.zeros((2, 3))},
            "y",
            type="spike",
            params={"window_size": 0.01},
        ),
        r"must be 1-D",
    ),
    "spike file not npz": (
        variable("y", type="spike", params={"window_size": 0.1}),
        r"spike times must be an .npz archive",
    ),
    "negative categorical labels": (
        data_file("lab.npy", lambda: -np.ones((1, 1000)), "y", type="categorical"),
        r"categorical labels must be whole numbers >= 0; 1000 are not",
    ),
    "fractional categorical labels": (
        data_file("lab.npy", lambda: np.full((1, 1000), 0.5), "y", type="categorical"),
        r"categorical labels must be whole numbers >= 0",
    ),
    "counts that cannot be aligned": (
        data_file("short.npy", lambda: np.zeros((2, 300), np.float32), "y"),
        r"X gives 1000 samples and Y gives 300; they cannot be aligned",
    ),
    "window longer than the recording": (
        variable("x", params={"window_size": 5000}),
        r"processing X leaves 0 sample\(s\); the window is longer",
    ),
    "unknown processor parameter": (
        variable("x", params={"windw_size": 3}),
        r"Unknown key 'windw_size' in processor_params_x",
    ),
    "time axis out of range": (variable("x", params={"time_axis": 2}), r"Unknown time_axis 2"),
    "spike window missing": (
        data_file("spk.npz", lambda: {"u0": np.array([0.5, 9.9])}, "y", type="spike"),
        r"processor_params_y\['window_size'\] \(seconds\) is required",
    ),
    "step of zero": (
        variable("x", params={"step_size": 0}),
        r"step_size'\] must be an integer >= 1",
    ),
    # --- analyses ---
    "unknown analysis key": (
        analysis(gama_range=[1, 2]),
        r"unknown key 'gama_range' \(did you mean 'gamma_range'",
    ),
    "unknown mode": (
        analysis(mode="rigourous"),
        r"unknown mode 'rigourous' \(did you mean 'rigorous'",
    ),
    "mode missing": (
        lambda c, t: c["analyses"][0].pop("mode"),
        r"mode is missing|Unable to extract tag",
    ),
    "repeated analysis names": (
        lambda c, t: c["analyses"].append(copy.deepcopy(c["analyses"][0])),
        r"analysis names must be unique",
    ),
    "analysis of an unknown session": (
        analysis(sessions=["rek"]),
        r"unknown session 'rek' \(did you mean 'rec'",
    ),
    "gamma of zero": (analysis(gamma_range=[0, 1]), r"gamma_range.*must be an integer >= 1"),
    "repeated gammas": (
        analysis(gamma_range=[1, 2, 2]),
        r"gamma_range must not repeat values, got \[1, 2, 2\]",
    ),
    "gamma too large for the data": (
        analysis(gamma_range=[1, 50]),
        r"gamma=50 cuts 1000 samples into chunks of 20, fewer than one batch",
    ),
    "batch of one": (base_params(batch_size=1), r"batch_size: must be an integer >= 2"),
    "no epochs": (base_params(n_epochs=0), r"n_epochs: must be an integer >= 1"),
    "negative learning rate": (
        base_params(learning_rate=-1.0),
        r"learning_rate: must be a finite number > 0",
    ),
    "unknown critic": (base_params(critic_type="bilinar"), r"critic_type: Input should be"),
    "unknown embedding model": (
        base_params(embedding_model="rnn"),
        r"embedding_model: Input should be",
    ),
    "unknown base parameter": (
        base_params(n_epoch=3),
        r"unknown key 'n_epoch' in base_params \(did you mean 'n_epochs'",
    ),
    "train fraction of one": (
        base_params(train_fraction=1.0),
        r"train_fraction: must be a finite number > 0 and < 1",
    ),
    "unknown estimator": (analysis(estimator="infonse"), r"estimator: Input should be"),
    "unknown estimator parameter": (
        analysis(estimator="smile", estimator_params={"clipp": 5}),
        r"Unknown key 'clipp' in estimator_params for 'smile'",
    ),
    "sweep key that is no parameter": (
        analysis(mode="sweep", gamma_range=None, sweep_grid={"hiden_dim": [4]}),
        r"sweep_grid key 'hiden_dim' is neither",
    ),
    "sweep values not a list": (
        analysis(mode="sweep", gamma_range=None, sweep_grid={"hidden_dim": 4}),
        r"sweep_grid.hidden_dim: Input should be a valid list",
    ),
    "sweep without a grid": (
        analysis(mode="sweep", gamma_range=None),
        r"mode 'sweep' needs a non-empty sweep_grid",
    ),
    "lag without lags": (analysis(mode="lag", gamma_range=None), r"lag_range: Field required"),
    "lag of NaN": (
        analysis(mode="lag", gamma_range=None, lag_range=[float("nan")]),
        r"lag_range.*must be a finite number",
    ),
    "lag longer than the data": (
        analysis(mode="lag", gamma_range=None, lag_range=[0, 5000]),
        r"Lag 5000 shifts by 5000 windows, which leaves no samples out of 1000",
    ),
    "lag not a multiple of the step": (
        both(
            variable("x", params={"step_size": 2}),
            variable("y", params={"step_size": 2}),
            analysis(mode="lag", gamma_range=None, lag_range=[3]),
        ),
        r"Lag 3 must be an integer multiple of step_size 2",
    ),
    "lag between spikes and a signal": (
        _lfp_spikes_lag,
        r"Lags are supported when X and Y are both spike trains",
    ),
    "confidence level of 1.5": (
        analysis(fit={"confidence_level": 1.5}),
        r"fit.confidence_level: must be a finite number > 0 and < 1",
    ),
    "fit setting of another mode": (
        analysis(mode="estimate", gamma_range=None, fit={"confidence_level": 0.9}),
        r"'confidence_level' in fit is not used in this mode \(it is an argument of mode "
        r"'conditional' / 'rigorous' / 'transfer'\)",
    ),
    "argument of another mode": (
        analysis(lag_range=[0, 1]),
        r"'lag_range' is not used in this mode \(it is an argument of mode 'lag'\)",
    ),
    "unknown split mode": (
        analysis(split_mode="blocky"),
        r"split_mode: Input should be 'blocked' or 'random'",
    ),
    "unknown units": (
        analysis(output_units="bytes"),
        r"output_units: Input should be 'bits' or 'nats'",
    ),
    "mode needing Y on an X-only session": (
        both(lambda c, t: c["sessions"][0].pop("y"), analysis(mode="estimate", gamma_range=None)),
        r"mode 'estimate' needs Y, but the session has no 'y'",
    ),
    "no channel splits": (
        analysis(mode="dimensionality", gamma_range=None, n_splits=0),
        r"n_splits: must be an integer >= 1",
    ),
    "halves of one channel": (
        both(
            data_file("one.npy", lambda: np.zeros((1, 1000), np.float32)),
            analysis(mode="dimensionality", gamma_range=None, sweep_grid={"embedding_dim": [1]}),
        ),
        r"splits the channels of X in two halves; X has 1 channel",
    ),
    "strictness above one": (
        analysis(mode="dimensionality", gamma_range=None, fit={"strictness": [1.5]}),
        r"strictness.*must be a finite number > 0 and <= 1",
    ),
}


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_by_plan_naming_the_problem(case, tmp_path, capsys):
    edit, pattern = CASES[case]
    config = _base(tmp_path)
    edit(config, tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    status = cli.main(["plan", str(path)])
    err = capsys.readouterr().err
    assert status == 1, err
    assert err.startswith("neural-mi plan: error: "), err
    assert "Traceback" not in err
    import re

    assert re.search(pattern, err), err
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("seed: 1\nsessions: [\n", r"is not valid YAML"),
        (
            'seed: !!python/object/apply:os.system ["echo hi"]\n',
            r"is not valid YAML: could not "
            r"determine a constructor for the tag "
            r"'tag:yaml.org,2002:python/object/apply:os.system'",
        ),
        ("- 1\n- 2\n", r"must hold a mapping \(seed, sessions, analyses...\), got list"),
        ("", r"must hold a mapping .* got NoneType"),
    ],
)
def test_a_file_that_is_not_a_config_is_refused(text, pattern, tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert cli.main(["plan", str(path)]) == 1
    err = capsys.readouterr().err
    import re

    assert re.search(pattern, err), err and "Traceback" not in err


def test_every_problem_of_a_config_is_reported_together(tmp_path, capsys):
    config = _base(tmp_path)
    config["analyses"].append({"name": "lagged", "mode": "lag", "lag_range": [0, 5000]})
    config["sessions"][0]["x"]["params"] = {"windw_size": 2}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert cli.main(["plan", str(path)]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s) found" in err
    assert "analysis 'rig'" in err and "analysis 'lagged'" in err


def test_neural_mi_run_refuses_bad_data_before_snakemake_starts(tmp_path, capsys, monkeypatch):
    import subprocess

    config = _base(tmp_path)
    np.save(tmp_path / "x.npy", np.full((2, 1000), np.nan, dtype=np.float32))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a))
    assert cli.main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    assert "neural-mi run: error:" in err and "session 'rec', x holds 2000 non-finite" in err
    assert started == [] and not (tmp_path / "results").exists()


def test_data_that_passed_is_not_read_again_until_it_changes(tmp_path, monkeypatch):
    from neural_mi.config import checks

    config = _base(tmp_path)
    memory = tmp_path / "checked.json"
    reads = []
    real = checks.load_session_arrays
    monkeypatch.setattr(
        checks, "load_session_arrays", lambda *a, **k: reads.append(1) or real(*a, **k)
    )
    checks.check_config(config, checked=memory)
    checks.check_config(config, checked=memory)
    assert len(reads) == 1
    np.save(tmp_path / "y.npy", np.full((2, 1000), np.nan, dtype=np.float32))
    with pytest.raises(Exception, match="non-finite"):
        checks.check_config(config, checked=memory)
    assert len(reads) == 2
