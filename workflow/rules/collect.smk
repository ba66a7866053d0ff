rule collect:
    """One table and one figure over every session x analysis."""
    input:
        all_results("results.json"),
    output:
        table=report(
            f"{RESULTS}/summary.csv",
            caption="../report/collect_table.rst",
            category="Overview",
            labels={"file": "table"},
        ),
        figure=report(
            f"{RESULTS}/overview.png",
            caption="../report/overview.rst",
            category="Overview",
            labels={"file": "figure"},
        ),
    log:
        "logs/collect.log",
    shell:
        "neural-mi collect {input:q} --out-csv {output.table:q} --out-png {output.figure:q}"
        " > {log:q} 2>&1"
