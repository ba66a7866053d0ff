rule train:
    """Train the tasks of one pack; each task's result is one store <key>.zarr in the pack folder.

    params.tasks holds every training parameter of the pack's tasks, so changing a
    parameter reruns exactly the packs whose tasks it changes.
    """
    input:
        data=f"{RESULTS}/{{session}}/data.zarr",
    output:
        directory(f"{RESULTS}/{{session}}/{{analysis}}/tasks/{{pack}}"),
    log:
        "logs/train/{session}/{analysis}/{pack}.log",
    group:
        "train"
    threads: CFG.threads_per_job
    params:
        tasks=lambda wildcards: specs_json(pack_specs(wildcards)),
        digest=lambda wildcards: specs_digest(pack_specs(wildcards)),
        version=neural_mi.__version__,
    shell:
        "neural-mi train-tasks --config {CONFIG_FILE:q} --session {wildcards.session:q}"
        " --analysis {wildcards.analysis:q} --pack {wildcards.pack:q} --data {input.data:q}"
        " --out {output:q} --digest {params.digest} --workers {threads} > {log:q} 2>&1"
