# The plan of the run and helpers shared by the rules (parse time only; never imports
# torch).  Rules call the `neural-mi` console script: the environment holding neural_mi
# must be on PATH (`neural-mi run` sees to it).
import json
import sys

import neural_mi
import neural_mi.compat
from neural_mi.workflow.plan import workflow_plan

# Validates the whole config (data headers included), plans every session x analysis and
# packs the tasks into train jobs.  When a run starts, the main process writes the files
# the jobs read (each session's session.json, each analysis' plan.json: see the
# Snakefile's onstart), so that no job plans again and settings given with --config reach
# every job.  Before the DAG is built it drops the completion marker of any pack that lost
# a task store, so that exactly that pack's missing tasks are trained again.
PLAN = workflow_plan(config)
RESULTS = PLAN.results_dir
if workflow.is_main_process:
    for marker, stores in PLAN.remove_stale_markers():
        print(
            f"neural_mi: {marker} was removed: its pack lost or damaged task stores, which "
            "were removed too and are trained again in this run:",
            *(f"  {path}: {reason}" for path, reason in stores),
            sep="\n",
            file=sys.stderr,
        )


wildcard_constraints:
    session="[A-Za-z0-9_-]+",
    analysis="[A-Za-z0-9_-]+",
    pack="[A-Za-z0-9_.-]+",


def session_files(wildcards):
    """Data files a session reads (none for synthetic sessions)."""
    session = PLAN.config.session(wildcards.session)
    return [v.path for v in (session.x, session.y, session.z) if v is not None and v.path]


def session_source(wildcards):
    """What prepare's output depends on, as JSON (changing it reruns prepare)."""
    return PLAN.session_json(wildcards.session)


def analysis_plan(wildcards):
    return PLAN.analyses[(wildcards.session, wildcards.analysis)]


def pack_tasks(wildcards):
    """Every training parameter of a pack's tasks: changing one reruns that pack only."""
    specs = analysis_plan(wildcards).packs[wildcards.pack]
    return "[" + ", ".join(spec.to_json() for spec in specs) + "]"


def pack_markers(wildcards):
    """Completion markers of the train jobs of one session x analysis."""
    s, a = wildcards.session, wildcards.analysis
    return [PLAN.pack_marker(s, a, pack) for pack in analysis_plan(wildcards).packs]


def analysis_settings(wildcards):
    """What aggregation depends on besides the tasks (changing it reruns only that)."""
    return json.dumps(analysis_plan(wildcards).settings(), sort_keys=True)


def all_pack_markers():
    """Every train job's output: a pack whose marker was dropped is trained again."""
    return [
        PLAN.pack_marker(s, a, pack)
        for (s, a), plan in PLAN.analyses.items()
        for pack in plan.packs
    ]


def all_results(name):
    return [f"{RESULTS}/{s}/{a}/{name}" for s, a in PLAN.analyses]
