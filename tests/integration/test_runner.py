"""Runner semantics: phases, teardown, retries, conditions, parallelism, reuse."""

from __future__ import annotations

import json
from pathlib import Path

from splice._internal.model.results import Phase, Status


def test_teardown_runs_after_a_failure_and_setup_captures_are_shared(
    write, run_suite, tmp_path
) -> None:
    """Suite setup captures reach testcases; testcase and suite teardowns run after a failure."""
    marker = tmp_path / "torn"
    path = write(
        "s.splice.yaml",
        f"""
        name: phases
        setup:
          - exec: "echo from-setup"
            capture: {{greeting: "stdout.strip()"}}
        teardown:
          - exec: "echo suite >> {marker}"
        testcases:
          - name: fails in the middle
            setup:
              - exec: "true"
            steps:
              - exec: "echo {{{{ greeting }}}}"
                expect: {{stdout: "nope"}}
              - exec: "echo never"
            teardown:
              - exec: "echo testcase >> {marker}"
    """,
    )
    run = run_suite(path)
    tc = run.suites[0].testcases[0]
    steps = tc.attempts[0].steps
    assert tc.status == Status.FAILED
    assert [s.phase for s in steps] == [Phase.SETUP, Phase.TEST, Phase.TEARDOWN]
    assert steps[1].failures[0].actual == "from-setup\n"
    assert marker.read_text().split() == ["testcase", "suite"]


def test_a_failed_suite_setup_errors_its_testcases(write, run_suite) -> None:
    """When suite setup fails, no testcase runs and each is reported as an error."""
    path = write(
        "s.splice.yaml",
        """
        name: broken setup
        setup:
          - exec: "exit 3"
            expect: {exit_code: 0}
        testcases:
          - name: a
            steps: [{exec: "true"}]
    """,
    )
    run = run_suite(path)
    assert run.suites[0].testcases[0].status == Status.ERROR
    assert run.status == Status.ERROR


def test_testcase_retries_make_a_flaky_pass(write, run_suite, tmp_path) -> None:
    """A testcase that fails once and passes on retry is FLAKY, with both attempts kept."""
    counter = tmp_path / "count"
    path = write(
        "f.splice.yaml",
        f"""
        name: flaky
        testcases:
          - name: second time lucky
            retries: 2
            steps:
              - exec: "echo x >> {counter}; wc -l < {counter}"
                expect: {{stdout: {{$regex: "^2"}}}}
    """,
    )
    run = run_suite(path)
    tc = run.suites[0].testcases[0]
    assert tc.status == Status.FLAKY
    assert [a.status for a in tc.attempts] == [Status.FAILED, Status.PASSED]
    assert run.status == Status.PASSED


def test_skip_and_only_conditions(write, run_suite) -> None:
    """skip/only accept booleans and expressions, on testcases and on steps."""
    path = write(
        "c.splice.yaml",
        """
        name: conditions
        vars: {mode: fast}
        testcases:
          - name: skipped
            skip: true
            steps: [{exec: "false"}]
          - name: only when slow
            only: "mode == 'slow'"
            steps: [{exec: "false"}]
          - name: runs
            steps:
              - exec: "false"
                skip: "mode == 'fast'"
              - exec: "true"
    """,
    )
    run = run_suite(path)
    a, b, c = run.suites[0].testcases
    assert (a.status, b.status, c.status) == (Status.SKIPPED, Status.SKIPPED, Status.PASSED)
    assert b.skip_reason == "only: mode == 'slow' is false"
    assert c.attempts[0].steps[0].status == Status.SKIPPED


def test_parallel_testcases_keep_their_own_variables(write, run_suite) -> None:
    """With jobs=4 each testcase sees its own vars and captures, never a neighbour's."""
    cases = "\n".join(
        f"""  - name: case {i}
    vars: {{n: {i}}}
    steps:
      - exec: "sleep 0.05; echo {{{{ n }}}}"
        capture: {{got: "stdout.strip() | int"}}
      - exec: "echo {{{{ got }}}}"
        expect: {{stdout: "{i}\\n"}}"""
        for i in range(8)
    )
    path = write("p.splice.yaml", "name: parallel\ntestcases:\n" + cases + "\n")
    run = run_suite(path, jobs=4)
    assert run.status == Status.PASSED
    assert [tc.name for tc in run.testcases()] == [f"case {i}" for i in range(8)]


def test_a_testcase_reading_an_earlier_capture_runs_in_order(write, run_suite) -> None:
    """A suite whose testcase reads an earlier testcase's capture is run serially."""
    path = write(
        "o.splice.yaml",
        """
        name: ordered
        testcases:
          - name: produce
            steps:
              - exec: "sleep 0.1; echo 7"
                capture: {value: "stdout.strip()"}
          - name: consume
            steps:
              - exec: "echo {{ value }}"
                expect: {stdout: "7\\n"}
    """,
    )
    run = run_suite(path, jobs=4)
    assert run.status == Status.PASSED


def test_include_and_step_templates(write, run_suite) -> None:
    """`include:` splices steps from a file; `use:` runs a template with inputs and outputs."""
    write(
        "steps/common.yaml",
        """
        - exec: "echo included"
          expect: {stdout: "included\\n"}
    """,
    )
    write(
        "templates/greet.yaml",
        """
        template: greet
        inputs:
          who: {}
          punctuation: {default: "!"}
        steps:
          - exec: "echo Hello, {{ who }}{{ punctuation }}"
            capture: {line: "stdout.strip()"}
        outputs:
          message: "{{ line }}"
    """,
    )
    path = write(
        "u.splice.yaml",
        """
        name: reuse
        templates: [templates/*.yaml]
        testcases:
          - name: include and use
            steps:
              - include: steps/common.yaml
              - use: greet
                with: {who: Ada}
                expect: {message: "Hello, Ada!"}
                capture: {greeting: message}
              - exec: "echo {{ greeting }}"
                expect: {stdout: "Hello, Ada!\\n"}
    """,
    )
    run = run_suite(path)
    steps = run.suites[0].testcases[0].attempts[0].steps
    assert run.status == Status.PASSED, steps
    assert [s.name for s in steps][:3] == [
        "exec echo included",
        "greet › exec echo Hello, Ada!",
        "use greet",
    ]


def test_secret_values_are_masked_in_every_report(write, tmp_path, splice_cli, server) -> None:
    """Secret vars and captures marked secret never appear in console, JSON, JUnit or HTML."""
    write(
        "s.splice.yaml",
        """
        name: secrets
        vars: {api_key: sup3r-s3cret-key}
        secrets: [api_key]
        testcases:
          - name: leaks nothing
            steps:
              - http: {post: "{{ base }}/echo", headers: {X-Api-Key: "{{ api_key }}"},
                       json: {token: captured-t0ken-value}}
                capture: {token: {expr: json.json.token, secret: true}}
              - http: {post: "{{ base }}/echo", json: {key: "{{ api_key }}", t: "{{ token }}"}}
                expect: {status: 500}
    """,
    )
    result = splice_cli(
        "run",
        "s.splice.yaml",
        "--var",
        f"base={server.url}",
        "-v",
        "--json",
        "r.json",
        "--junit",
        "r.xml",
        "--html",
        "r.html",
    )
    assert result.exit_code == 1
    outputs = [
        result.output,
        *(Path(tmp_path / f).read_text() for f in ("r.json", "r.xml", "r.html")),
    ]
    for text in outputs:
        assert "sup3r-s3cret-key" not in text
        # masked from the capture on, including the response it was captured from
        assert "captured-t0ken-value" not in text
    for text in (outputs[0], outputs[1], outputs[3]):  # JUnit shows no request bodies
        assert "****" in text


def test_tags_and_keyword_selection(write, splice_cli) -> None:
    """`--tag`, `--exclude-tag` and `-k` narrow the run; no match is a usage error."""
    write(
        "t.splice.yaml",
        """
        name: tagged
        tags: [api]
        testcases:
          - {name: fast one, tags: [smoke], steps: [{exec: "true"}]}
          - {name: slow one, tags: [slow], steps: [{exec: "true"}]}
    """,
    )
    assert "1 passed" in splice_cli("run", "t.splice.yaml", "--tag", "smoke").output
    assert "1 passed" in splice_cli("run", "t.splice.yaml", "--exclude-tag", "smoke").output
    assert "2 passed" in splice_cli("run", "t.splice.yaml", "--tag", "api").output
    assert "1 passed" in splice_cli("run", "t.splice.yaml", "-k", "slow").output
    assert "1 passed" in splice_cli("run", "t.splice.yaml", "-k", "tagged::fast*").output
    none = splice_cli("run", "t.splice.yaml", "-k", "nothing")
    assert none.exit_code == 2
    assert "no testcase matches" in none.stderr


def test_exit_codes_and_fail_fast(write, splice_cli) -> None:
    """0 when all pass, 1 on failures, 2 on suite errors; --fail-fast stops starting testcases."""
    write("ok.splice.yaml", "name: ok\ntestcases: [{name: a, steps: [{exec: 'true'}]}]\n")
    write(
        "bad.splice.yaml",
        """
        name: bad
        testcases:
          - {name: one, steps: [{exec: "false", expect: {exit_code: 0}}]}
          - {name: two, steps: [{exec: "true"}]}
    """,
    )
    write("broken/x.splice.yaml", "name: x\ntestcases: [{name: a, steps: [{htp: {}}]}]\n")
    assert splice_cli("run", "ok.splice.yaml").exit_code == 0
    assert splice_cli("run", "bad.splice.yaml").exit_code == 1
    assert splice_cli("run", "broken").exit_code == 2
    ff = splice_cli("run", "bad.splice.yaml", "--fail-fast")
    assert ff.exit_code == 1
    assert "1 failed" in ff.output and "1 skipped" in ff.output


def test_variable_precedence(write, splice_cli, monkeypatch, tmp_path) -> None:
    """suite vars < testcase vars < SPLICE_VAR_* < --var-file < --var."""
    write("vars.yaml", "b: from-file\nc: from-file\n")
    write(
        "p.splice.yaml",
        """
        name: precedence
        vars: {a: suite, b: suite, c: suite, d: suite, e: suite}
        testcases:
          - name: layers
            vars: {e: testcase}
            steps:
              - exec: "echo {{ a }} {{ b }} {{ c }} {{ d }} {{ e }}"
                expect: {stdout: "from-env from-file from-cli suite testcase\\n"}
    """,
    )
    monkeypatch.setenv("SPLICE_VAR_a", "from-env")
    monkeypatch.setenv("SPLICE_VAR_b", "from-env")
    result = splice_cli("run", "p.splice.yaml", "--var-file", "vars.yaml", "--var", "c=from-cli")
    assert result.exit_code == 0, result.output


def test_a_step_keeps_what_it_checked_masked(write, splice_cli, tmp_path) -> None:
    """A step records its rendered `expect` (implied fields included) and its `assert`
    expressions, with secrets masked, so reports can show what a passing step held."""
    write(
        "c.splice.yaml",
        """
        name: checks
        vars: {token: hunter2-secret-x}
        secrets: [token]
        testcases:
          - name: recorded
            steps:
              - exec: "echo {{ token }} ok"
                expect: {stdout: {$contains: "{{ token }}"}}
                assert: ["token in result.stdout"]
              - exec: "true"
    """,
    )
    result = splice_cli("run", "c.splice.yaml", "--no-store", "--json", "run.json")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "run.json").read_text()
    assert "hunter2-secret-x" not in text
    steps = json.loads(text)["suites"][0]["testcases"][0]["attempts"][0]["steps"]
    assert steps[0]["expect"] == {"stdout": {"$contains": "****"}, "exit_code": 0}
    assert steps[0]["asserted"] == ["token in result.stdout"]  # as written
    assert steps[1]["expect"] == {"exit_code": 0} and steps[1]["asserted"] == []
