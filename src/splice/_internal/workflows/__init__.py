"""Workflows: jobs of several test types (splice suites, pytest, any command writing JUnit)
with `needs`, `matrix` and shared services, recorded as one run.

    model.py       the typed jobs and workflows
    loader.py      `workflows:` in splice.yaml and `*.workflow.yaml` files, located errors
    scheduler.py   the DAG of jobs run in threads; a failed job skips its dependents
    jobs.py        how each kind of job runs and what it returns
    services.py    the one adapter to the environment lifecycle (start, share, stop)
    recording.py   every job's testcases, logs and artifacts into one stored run
    console.py     the live tree of jobs
"""
