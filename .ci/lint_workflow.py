"""``snakemake --lint`` on the workflow with the default config; exits 1 on any finding but one.

Snakemake's command line prints its lints as text only (``--lint json`` is not passed on in
9.27), so this runs the same linter through Snakemake's API, with JSON output, in a temporary
working directory (the lint parses the workflow, which plans the default config there).

The one finding allowed, "Specify a conda environment or container for each rule", is a
deliberate choice: every rule runs the ``neural-mi`` console script of the environment that
runs the workflow (``neural-mi run`` puts it first on ``PATH``), installed with the pins of
``constraints.txt``.  A conda environment file would repeat those pins in a second place and
could not install the checkout's own neural_mi.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

REPO = Path(__file__).resolve().parent.parent
ALLOWED = {"Specify a conda environment or container for each rule."}


def lints(snakefile: Path, configfile: Path, *, as_json: bool = True) -> str:
    """The lints of ``snakefile`` run with ``configfile``: Snakemake's report (JSON, or
    its text when ``as_json`` is false)."""
    out = io.StringIO()
    with tempfile.TemporaryDirectory() as workdir, SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(configfiles=[configfile]),
            snakefile=snakefile,
            workdir=Path(workdir),
        )
        with contextlib.redirect_stdout(out):
            workflow.lint(json=as_json)
    return out.getvalue()


def main() -> int:
    snakefile, configfile = REPO / "workflow" / "Snakefile", REPO / "config" / "config.yaml"
    try:
        report = json.loads(lints(snakefile, configfile))
    except TypeError:
        # Snakemake 9 cannot write a lint of a whole snakefile as JSON (the file's name is
        # not a string there): report the text instead.
        print(lints(snakefile, configfile, as_json=False), file=sys.stderr)
        print("snakemake --lint: findings that Snakemake cannot report as JSON (above)")
        return 1
    findings = [
        (item["for"], lint["title"])
        for key in ("snakefiles", "rules")
        for item in report[key]
        for lint in item["lints"]
        if lint["title"] not in ALLOWED
    ]
    for where, title in findings:
        print(f"{where}: {title}", file=sys.stderr)
    print(f"snakemake --lint: {len(findings)} finding(s) (allowed: {', '.join(ALLOWED)})")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
