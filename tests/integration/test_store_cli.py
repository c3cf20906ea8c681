"""The store from the command line: `splice run` records by default, `--no-store` does not,
`splice quarantine` makes a run pass that only quarantined tests fail, `splice import` and
`splice store info` work on the same file."""

from __future__ import annotations

from pathlib import Path

from splice._internal.store import Store
from splice._internal.store.query_runs import list_runs

SUITE = """
name: orders
testcases:
  - name: works
    steps:
      - exec: {command: [echo, ok]}
  - name: breaks
    steps:
      - exec: {command: [sh, -c, "exit 3"]}
        expect: {exit_code: 0}
"""


def _runs(folder: Path) -> list[dict[str, object]]:
    store = Store.open(f"sqlite:///{folder / '.splice' / 'results.db'}")
    try:
        return list_runs(store)
    finally:
        store.close()


def test_run_records_quarantine_passes_and_no_store_skips(tmp_path, splice_cli, write) -> None:  # type: ignore[no-untyped-def]
    write("orders.splice.yaml", SUITE)
    first = splice_cli("run", "--json", "run.json", "--junit", "run.xml")
    assert first.exit_code == 1, first.output + first.stderr
    [run] = _runs(tmp_path)
    assert (run["source"], run["status"]) == ("run", "failed")

    added = splice_cli("quarantine", "add", "orders::breaks", "--reason", "known")
    assert added.exit_code == 0, added.output + added.stderr
    listed = splice_cli("quarantine", "list")
    assert "orders::breaks" in listed.output and "known" in listed.output

    second = splice_cli("run")
    assert second.exit_code == 0, second.output + second.stderr
    assert "1 quarantined failure" in second.output
    assert _runs(tmp_path)[0]["status"] == "passed"  # newest first

    # --no-store leaves the store alone: nothing recorded, and no quarantine read from it
    assert splice_cli("run", "--no-store").exit_code == 1
    assert len(_runs(tmp_path)) == 2

    splice_cli("quarantine", "remove", "orders::breaks")
    assert splice_cli("run").exit_code == 1

    again = splice_cli("import", "run.json")  # recorded already: refused, nothing doubled
    assert again.exit_code == 2 and "already stored" in again.stderr
    imported = splice_cli("import", "run.xml", "--branch", "main")
    assert imported.exit_code == 0, imported.output + imported.stderr
    assert len(_runs(tmp_path)) == 4
    info = splice_cli("store", "info")
    assert info.exit_code == 0 and "results.db" in info.output


def test_a_named_store_that_cannot_open_fails_the_run(tmp_path, splice_cli, write) -> None:  # type: ignore[no-untyped-def]
    write("orders.splice.yaml", SUITE)
    done = splice_cli("run", "--store", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert done.exit_code == 2
    assert "cannot open the results store" in done.stderr
    assert not (tmp_path / ".splice" / "results.db").exists()
