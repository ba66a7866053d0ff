# Configuration, plan and helpers shared by the rules (parse time only; never imports torch).
# Rules call the `neural-mi` console script: the environment holding neural_mi must be on
# PATH (`neural-mi run` sees to it).
import json
import threading

import neural_mi
from snakemake.utils import validate

from neural_mi.config import (
    config_file_in_use,
    load_config,
    pack_tasks,
    plan_config,
    specs_digest,
    specs_json,
)

# Train jobs plan their pack's tasks again from this file (and check the digest of what
# this run planned). It is used in shell commands rather than params on purpose: moving or
# renaming the config file must not rerun anything.
CONFIG_FILE = config_file_in_use(workflow.configfiles, config)
CFG = load_config(config)
validate(config, "../schemas/config.schema.yaml")
PACKS = {
    pair: pack_tasks(specs, CFG.tasks_per_job)
    for pair, specs in plan_config(CFG).items()
}
RESULTS = CFG.results_dir.rstrip("/")


wildcard_constraints:
    session="[A-Za-z0-9_-]+",
    analysis="[A-Za-z0-9_-]+",
    pack="[A-Za-z0-9_.-]+",


def session_files(wildcards):
    """Data files a session reads (none for synthetic sessions)."""
    session = CFG.session(wildcards.session)
    return [v.path for v in (session.x, session.y) if v is not None and v.path]


def session_source(wildcards):
    """What prepare's output depends on, as JSON (changing it reruns prepare)."""
    # (`include=` may not start a line: Snakemake would read it as its include keyword.)
    fields = {"synthetic", "x", "y"}
    no_params = {"x": {"params"}, "y": {"params"}}
    session = CFG.session(wildcards.session).model_dump(
        mode="json", include=fields, exclude=no_params
    )
    return json.dumps({"seed": CFG.seed, **session}, sort_keys=True)


def pack_specs(wildcards):
    return PACKS[(wildcards.session, wildcards.analysis)][wildcards.pack]


def pack_dirs(wildcards):
    """Train outputs of one session x analysis."""
    packs = PACKS[(wildcards.session, wildcards.analysis)]
    return [
        f"{RESULTS}/{wildcards.session}/{wildcards.analysis}/tasks/{p}" for p in packs
    ]


def all_pack_dirs():
    return [
        f"{RESULTS}/{s}/{a}/tasks/{p}" for (s, a), packs in PACKS.items() for p in packs
    ]


def fit_flags(wildcards):
    """Command-line flags of the analysis' aggregation settings."""
    analysis = CFG.analysis(wildcards.analysis)
    flags = {
        "--output-units": analysis.output_units,
        "--mi-source": analysis.fit.mi_source,
    }
    for name, value in analysis.fit.rigorous_options().items():
        flags[f"--{name.replace('_', '-')}"] = value
    return " ".join(f"{flag} {value}" for flag, value in flags.items())


def all_results(name):
    return [f"{RESULTS}/{s}/{a}/{name}" for s, a in PACKS]


def cancel_pending_timers():
    """Cancel pending ``threading.Timer`` threads (see the Snakefile's ``onsuccess``)."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()
