"""The wheel carries the workflow and the profiles; installed without a checkout, it runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from helpers import task_mi
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
#: Repository folders the wheel carries, and where they go inside the package.
MAPPED = {"workflow": "neural_mi/_workflow", "profiles": "neural_mi/_profiles"}


def tracked_files(root: Path) -> list[Path]:
    """Files of the checkout that a fresh clone has (tracked or new, not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [Path(name) for name in out.stdout.split("\0") if name and (root / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the checkout (no stale build/ folder can leak in)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git checkout")
    source = tmp_path_factory.mktemp("source")
    for name in tracked_files(REPO):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    out_dir = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out_dir), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (path,) = out_dir.glob("neural_mi-*.whl")
    return path


def test_wheel_carries_the_workflow_and_profiles_as_in_the_repository(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for folder, target in MAPPED.items():
            files = [p for p in tracked_files(REPO) if p.parts[0] == folder]
            assert files, folder
            for path in files:
                inside = f"{target}/{Path(*path.parts[1:]).as_posix()}"
                assert inside in names, inside
                assert archive.read(inside) == (REPO / path).read_bytes(), inside
    for needed in ("Snakefile", "rules/train.smk", "schemas/config.schema.yaml"):
        assert f"neural_mi/_workflow/{needed}" in names
    assert "neural_mi/_workflow/report/workflow.rst" in names
    profiles = {f"neural_mi/_profiles/{name}/config.yaml" for name in ("local", "slurm")}
    assert profiles <= names


def test_dependencies_are_ranges_and_constraints_pin_each_of_them():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    assert pins["torch"] == "2.13.0"  # the CPU wheel on this machine
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in ("test", "lint"):  # what the README's test command and .ci/run install
        requirements += [Requirement(r) for r in project["optional-dependencies"][extra]]
    for req in requirements:
        name = req.name.lower().replace("_", "-")
        assert not any(spec.operator == "==" for spec in req.specifier), req
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name]), (req, pins[name])


def test_readme_and_ci_install_with_the_constraints():
    readme = (REPO / "README.md").read_text()
    setup = readme.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in setup.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2
    assert all("-c constraints.txt" in command for command in commands)
    ci = (REPO / ".ci" / "run").read_text()
    assert "-c constraints.txt" in ci
    # CI installs what the README's test command installs (the linters among it) and runs it.
    (test_command,) = [command for command in commands if "pytest" in command]
    assert test_command.split(" && ")[1].replace("pip install", "pip install -q") in ci
    assert ".venv/bin/python -m pytest" in ci


def test_one_version_string():
    """pyproject.toml reads the version from neural_mi.__version__; the metadata agrees."""
    from importlib.metadata import version

    import neural_mi

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "neural_mi.__version__"}
    assert version("neural_mi") == neural_mi.__version__


@pytest.mark.slow
def test_installed_wheel_runs_the_tiny_config_outside_the_repository(wheel, tmp_path):
    """A fresh venv, the wheel installed with its dependencies (pinned by constraints.txt),
    the tiny config run from a folder outside the checkout: the same numbers as the
    checkout's run.  (About 2 minutes: installing the dependencies.)"""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "-c", str(REPO / "constraints.txt"),
         str(wheel)],
        check=True, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    probe = "import neural_mi, neural_mi.launch as l; print(neural_mi.__file__, l.snakefile())"
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout.split()  # fmt: skip
    assert all(Path(path).is_relative_to(venv) for path in where), where

    runs = {}
    for name, neural_mi in (("wheel", venv / "bin" / "neural-mi"),
                            ("checkout", Path(sys.executable).parent / "neural-mi")):  # fmt: skip
        workdir = tmp_path / name
        workdir.mkdir()
        shutil.copy(REPO / "config" / "test_tiny.yaml", workdir / "config.yaml")
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env["PATH"] = "/usr/bin:/bin"
        out = subprocess.run(
            [str(neural_mi), "run", "config.yaml", "--cores", "2"],
            cwd=workdir, capture_output=True, text=True, timeout=600, env=env,
        )  # fmt: skip
        assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
        assert out.stdout.splitlines()[0].split()[:2] == ["session", "analysis"]
        runs[name] = workdir
    assert task_mi(runs["wheel"]) == task_mi(runs["checkout"])
    summary = [(runs[name] / "results" / "summary.csv").read_bytes() for name in runs]
    assert summary[0] == summary[1]
