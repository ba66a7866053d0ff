rule prepare:
    """Read or generate a session's raw X and Y, validate them, write one zarr group."""
    input:
        session_files,
    output:
        directory(f"{RESULTS}/{{session}}/data.zarr"),
    log:
        "logs/prepare/{session}.log",
    group:
        cluster_group("prepare")
    resources:
        runtime=runtime("prepare"),
        mem_mb=mem_mb("prepare"),
    params:
        source=session_source,
        version=neural_mi.__version__,
    shell:
        "neural-mi prepare --out {output:q} > {log:q} 2>&1"
