"""The Python side of the Snakemake workflow (``workflow/Snakefile``).

- :mod:`~neural_mi.workflow.cost`: what a task and a job cost (seconds, memory), estimated
  from the plan and calibrated on the run's finished tasks;
- :mod:`~neural_mi.workflow.packing`: which tasks share a train job;
- :mod:`~neural_mi.workflow.plan`: the plan of a whole config (sessions × analyses ×
  packs), computed when Snakemake parses the workflow and written to files the jobs
  read, so that no job plans again; the cluster groups and each job's resources;
- :mod:`~neural_mi.workflow.steps`: what each rule runs (prepare, train, aggregate,
  collect), through the same engine and the same ``Results`` as ``nmi.run``.

Nothing here imports torch at import time: the Snakefile imports the plan at parse time.
"""
