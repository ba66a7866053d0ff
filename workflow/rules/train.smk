rule train:
    """Train the tasks of one pack: one store <key>.zarr per task in tasks/<pack>/, then the
    marker tasks/<pack>.done.

    params.tasks holds every training parameter of the pack's tasks, so changing a
    parameter reruns exactly the packs whose tasks it changes.  A pack whose job was cut
    short keeps its finished stores; the next attempt trains only the others.
    """
    input:
        data=f"{RESULTS}/{{session}}/data.zarr",
    output:
        f"{RESULTS}/{{session}}/{{analysis}}/tasks/{{pack}}.done",
    log:
        "logs/train/{session}/{analysis}/{pack}.log",
    group:
        cluster_group("train")
    threads: PLAN.config.threads_per_job
    resources:
        runtime=runtime("train"),
        mem_mb=mem_mb("train"),
    params:
        tasks=pack_tasks,
        version=neural_mi.__version__,
    shell:
        "neural-mi train-tasks {output:q} --data {input.data:q} --workers {threads}"
        " > {log:q} 2>&1"
