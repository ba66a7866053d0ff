# The plan of the run and helpers shared by the rules (parse time only; never imports
# torch).  Rules call the `neural-mi` console script: the environment holding neural_mi
# must be on PATH (`neural-mi run` sees to it).
import json
import sys

import neural_mi
import neural_mi.compat
from neural_mi.compat import known_signature
from neural_mi.workflow.plan import GROUP_PARENT, workflow_plan

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


# Collecting one table and one figure takes a second: not worth a cluster job.
localrules:
    collect,


if (
    workflow.is_main_process
    and not workflow.local_exec
    and GROUP_PARENT not in workflow.group_settings.group_components
):
    print(
        f"neural_mi: the profile sets no group-components for {GROUP_PARENT}, so every "
        "job is submitted on its own instead of in groups of about target_job_minutes "
        f"(set `group-components: [{GROUP_PARENT}=100000]`).",
        file=sys.stderr,
    )


wildcard_constraints:
    session="[A-Za-z0-9_-]+",
    analysis="[A-Za-z0-9_-]+",
    pack="[A-Za-z0-9_.-]+",


# Snakemake calls the functions below for every job; known_signature records their
# parameters once, so that it does not inspect them at each call (neural_mi.compat).
@known_signature
def session_files(wildcards):
    """Data files a session reads (none for synthetic sessions)."""
    session = PLAN.config.session(wildcards.session)
    return [v.path for v in (session.x, session.y, session.z) if v is not None and v.path]


@known_signature
def session_source(wildcards):
    """What prepare's output depends on, as JSON (changing it reruns prepare)."""
    return PLAN.session_json(wildcards.session)


def analysis_plan(wildcards):
    return PLAN.analyses[(wildcards.session, wildcards.analysis)]


@known_signature
def pack_tasks(wildcards):
    """Every training parameter of a pack's tasks: changing one reruns that pack only."""
    return PLAN.pack_signature(wildcards.session, wildcards.analysis, wildcards.pack)


@known_signature
def pack_markers(wildcards):
    """Completion markers of the train jobs of one session x analysis."""
    s, a = wildcards.session, wildcards.analysis
    return [PLAN.pack_marker(s, a, pack) for pack in analysis_plan(wildcards).packs]


@known_signature
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


# Cluster groups and resources, from the cost model (neural_mi.workflow.cost): each job's
# group, its runtime (minutes; a group's jobs add up to the group's estimate with headroom)
# and its memory; a retry (attempt 2, ...) multiplies both.


def cluster_group(rule):
    """The cluster group of a job of ``rule`` (WorkflowPlan.job_group)."""

    def job_group(wildcards):
        name = PLAN.job_group(rule, **dict(wildcards.items()))
        # Snakemake submits the parts of a group that do not depend on each other (other
        # sessions) as one job only as far as the group-components of the parent group
        # allow (nmi=... in the profile).
        workflow.parent_groupids[name] = GROUP_PARENT
        return name

    return known_signature(job_group)


def runtime(rule):
    """Minutes a job of ``rule`` asks for (WorkflowPlan.job_runtime)."""

    def job_runtime(wildcards, attempt):
        return PLAN.job_runtime(rule, attempt=attempt, **dict(wildcards.items()))

    return known_signature(job_runtime)


def mem_mb(rule):
    """Memory (MB) a job of ``rule`` asks for (WorkflowPlan.job_memory_mb)."""

    def job_mem_mb(wildcards, attempt):
        return PLAN.job_memory_mb(rule, attempt=attempt, **dict(wildcards.items()))

    return known_signature(job_mem_mb)
