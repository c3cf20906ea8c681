"""Sharding: a run split into shards balanced by recorded durations, each shard run with
its own environment by a back end (Dask distributed), the results merged into one run.

    planner.py   units (a testcase, or a whole serial suite) into N balanced shards
    worker.py    one shard, in whatever process runs it: environment, runner, results
    dask.py      shards as Dask tasks on a LocalCluster or an existing scheduler
    live.py      what the client hears of each shard while it runs, into the store
    execute.py   `splice shard run`: plan, run on a back end, merge into one stored run
"""
