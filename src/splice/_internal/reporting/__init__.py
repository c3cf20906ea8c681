"""Reporters: turn a finished run (`splice._internal.model.results.RunResult`) into reports.

- `junit.write_junit`: JUnit XML for CI servers (GitLab, Jenkins, GitHub Actions reporters);
- `json_report.write_json`: the run as JSON (schema `splice-run/1`) for scripts and tools;
- `html.write_html`: one self-contained HTML page for people.
"""
