"""What a run is recorded with besides its results: commit, branch, CI job, environment.

CI systems say it in environment variables; elsewhere `git` in the run's folder does.
`SPLICE_COMMIT`, `SPLICE_BRANCH` and `SPLICE_CI_URL` override either; `SPLICE_ENVIRONMENT`
names the environment the run tested (staging, after a deploy), kept as `environment.target`.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from splice._internal.store.liveness import process_start

# (CI name, commit variable, branch variables, job URL builder)
_CI: list[tuple[str, str, tuple[str, ...], str]] = [
    ("github", "GITHUB_SHA", ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"), "github"),
    ("gitlab", "CI_COMMIT_SHA", ("CI_COMMIT_REF_NAME",), "CI_JOB_URL"),
    ("circleci", "CIRCLE_SHA1", ("CIRCLE_BRANCH",), "CIRCLE_BUILD_URL"),
    ("buildkite", "BUILDKITE_COMMIT", ("BUILDKITE_BRANCH",), "BUILDKITE_BUILD_URL"),
    ("jenkins", "GIT_COMMIT", ("BRANCH_NAME", "GIT_BRANCH"), "BUILD_URL"),
]


@dataclass
class RunMeta:
    """Metadata of one run, as stored in the `runs` table."""

    source: str = "run"  # run, pytest, junit, upload
    project: str = ""
    commit_sha: str = ""
    branch: str = ""
    ci_url: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None
    pid_start: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect(
    cwd: Path, project: str = "", source: str = "run", env: Mapping[str, str] | None = None
) -> RunMeta:
    """Metadata of a run happening now in this process, in `cwd`."""
    from splice import __version__

    env = os.environ if env is None else env
    meta = RunMeta(source=source, project=project, pid=os.getpid())
    meta.pid_start = process_start(os.getpid())
    ci = ""
    for name, commit_var, branch_vars, url_var in _CI:
        if env.get(commit_var):
            ci = name
            meta.commit_sha = env[commit_var]
            meta.branch = next((env[v] for v in branch_vars if env.get(v)), "")
            meta.ci_url = _github_url(env) if url_var == "github" else env.get(url_var, "")
            break
    if not meta.commit_sha:
        meta.commit_sha = _git(cwd, "rev-parse", "HEAD")
        if meta.commit_sha:
            branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
            meta.branch = "" if branch == "HEAD" else branch  # detached: no branch
    meta.commit_sha = env.get("SPLICE_COMMIT", meta.commit_sha)[:64]
    meta.branch = env.get("SPLICE_BRANCH", meta.branch).removeprefix("origin/")[:200]
    meta.ci_url = env.get("SPLICE_CI_URL", meta.ci_url)
    meta.environment = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "splice": __version__,
        "ci": ci or ("yes" if env.get("CI") else ""),
    }
    if env.get("SPLICE_ENVIRONMENT"):
        meta.environment["target"] = env["SPLICE_ENVIRONMENT"][:200]
    return meta


def _github_url(env: Mapping[str, str]) -> str:
    server, repo, run = (
        env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else ""


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):  # no git, or a hung filesystem
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
