"""The exec executor runs real commands."""

from __future__ import annotations

from pathlib import Path

from splice._internal.model.results import Status


def test_arguments_env_cwd_stdin_and_json(write, run_suite, tmp_path) -> None:
    """A list command runs without a shell, with env, cwd and stdin; stdout parses as JSON."""
    (tmp_path / "tools").mkdir()
    path = write(
        "e.splice.yaml",
        """
        name: exec
        testcases:
          - name: features
            steps:
              - exec:
                  command: [python3, -c, "import json,os,sys; print(json.dumps({'cwd': os.path.basename(os.getcwd()), 'level': os.environ['LEVEL'], 'in': sys.stdin.read()}))"]
                  env: {LEVEL: 3}
                  cwd: tools
                  stdin: hello
                expect: {exit_code: 0, json: {cwd: tools, level: "3", in: hello}}
              - exec: "echo out; echo err >&2; exit 4"
                expect: {exit_code: 4, stdout: "out\\n", stderr: "err\\n", lines: [out]}
              - exec: {command: "echo $HOME", shell: true}
                assert: ["result.stdout != '$HOME'"]
    """,
    )
    run = run_suite(path)
    assert run.status == Status.PASSED, run.testcases()[0].attempts[0].steps


def test_timeout_kills_the_command_and_its_children(write, run_suite, tmp_path) -> None:
    """A command past its timeout is killed with its process group and reported as an error."""
    pidfile = tmp_path / "child.pid"
    path = write(
        "t.splice.yaml",
        f"""
        name: exec timeout
        testcases:
          - name: slow
            steps:
              - exec: "sleep 30 & echo $! > {pidfile}; wait"
                timeout: 300ms
    """,
    )
    run = run_suite(path)
    step = run.testcases()[0].attempts[0].steps[0]
    assert step.status == Status.ERROR
    assert "still running after 0.3s" in step.failures[0].message
    pid = int(pidfile.read_text())
    assert not _running(pid), "the background child of the timed-out command survived"


def _running(pid: int) -> bool:
    """True when `pid` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_missing_command_is_a_clear_error(write, run_suite) -> None:
    """A command that does not exist says so, with a hint."""
    path = write(
        "m.splice.yaml",
        """
        name: missing
        testcases:
          - name: nope
            steps:
              - exec: {command: [definitely-not-a-command-xyz]}
    """,
    )
    run = run_suite(path)
    failure = run.testcases()[0].attempts[0].steps[0].failures[0]
    assert failure.message == "command not found: 'definitely-not-a-command-xyz'"


def test_a_nonzero_exit_fails_unless_expect_names_exit_code(write, run_suite) -> None:
    """A command that exits non-zero fails the step (with and without other expectations);
    naming `exit_code` in `expect` makes the exit status the user's to check."""
    path = write(
        "x.splice.yaml",
        """
        name: exit codes
        testcases:
          - name: bare
            steps:
              - exec: "echo broken >&2; exit 3"
          - name: other expectations
            steps:
              - exec: "echo out; exit 1"
                expect: {stdout: "out\\n"}
          - name: named
            steps:
              - exec: "exit 2"
                expect: {exit_code: 2}
          - name: zero
            steps:
              - exec: "true"
    """,
    )
    run = run_suite(path)
    bare, other, named, zero = run.suites[0].testcases
    assert bare.status == Status.FAILED
    failure = bare.attempts[0].steps[0].failures[0]
    assert (failure.path, failure.message) == ("exit_code", "expected 0, got 3")
    assert failure.hint is not None and "exit_code: 3" in failure.hint
    assert other.status == Status.FAILED
    assert named.status == Status.PASSED
    assert zero.status == Status.PASSED
