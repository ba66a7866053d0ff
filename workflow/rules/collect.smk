rule collect:
    """One table, one dataset and one figure over every session x analysis."""
    input:
        all_results("results.json"),
    output:
        table=report(
            f"{RESULTS}/summary.csv",
            caption="../report/collect_table.rst",
            category="Overview",
            labels={"file": "table"},
        ),
        dataset=f"{RESULTS}/summary.nc",
        figure=report(
            f"{RESULTS}/overview.png",
            caption="../report/overview.rst",
            category="Overview",
            labels={"file": "figure"},
        ),
    log:
        "logs/collect.log",
    params:
        # Each session's metadata (results/sessions.json, written when the run starts):
        # changing it reruns collect only.
        sessions=PLAN.sessions_json(),
        sessions_file=PLAN.sessions_file,
    shell:
        "neural-mi collect {input:q} --out-csv {output.table:q} --out-nc {output.dataset:q}"
        " --out-png {output.figure:q} --sessions {params.sessions_file:q} > {log:q} 2>&1"
