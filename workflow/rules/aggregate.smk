rule aggregate:
    """Summarise the task stores of one session x analysis (tables, netCDF, figure)."""
    input:
        pack_markers,
    output:
        tasks=f"{RESULTS}/{{session}}/{{analysis}}/tasks.nc",
        summary=f"{RESULTS}/{{session}}/{{analysis}}/summary.nc",
        results=f"{RESULTS}/{{session}}/{{analysis}}/results.json",
        headline=f"{RESULTS}/{{session}}/{{analysis}}/summary.json",
        table=report(
            f"{RESULTS}/{{session}}/{{analysis}}/summary.csv",
            caption="../report/summary_table.rst",
            category="Analyses",
            subcategory="{session}",
            labels={"session": "{session}", "analysis": "{analysis}", "file": "table"},
        ),
        figure=report(
            f"{RESULTS}/{{session}}/{{analysis}}/figure.png",
            caption="../report/figure.rst",
            category="Analyses",
            subcategory="{session}",
            labels={
                "session": "{session}",
                "analysis": "{analysis}",
                "file": "figure",
            },
        ),
    log:
        "logs/aggregate/{session}/{analysis}.log",
    group:
        cluster_group("aggregate")
    resources:
        runtime=runtime("aggregate"),
        mem_mb=mem_mb("aggregate"),
    params:
        settings=analysis_settings,
        out_dir=f"{RESULTS}/{{session}}/{{analysis}}",
    shell:
        "neural-mi aggregate --out-dir {params.out_dir:q} > {log:q} 2>&1"
