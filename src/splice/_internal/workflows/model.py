"""The typed model of a workflow: named jobs, each of one kind, in a DAG of `needs`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from splice._internal.errors import SourceSpan


class JobKind(StrEnum):
    SUITES = "suites"  # splice suites, run in this process
    PYTEST = "pytest"  # a pytest session; results come back through splice's plugin
    COMMAND = "command"  # any program; its JUnit reports become testcases


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # could not run as written: command not found, no JUnit file, services
    SKIPPED = "skipped"  # a job it needs did not pass, or the run was interrupted first
    INTERRUPTED = "interrupted"

    @property
    def done(self) -> bool:
        return self not in (JobStatus.PENDING, JobStatus.RUNNING)

    @property
    def ok(self) -> bool:
        return self is JobStatus.PASSED


@dataclass
class Job:
    """One job after its matrix is expanded (`name` then reads `load[pg=16]`)."""

    name: str
    kind: JobKind
    suites: list[str] = field(default_factory=list)  # globs, for kind suites
    keywords: list[str] = field(default_factory=list)  # -k
    tags: list[str] = field(default_factory=list)
    pytest: list[str] = field(default_factory=list)  # arguments, for kind pytest
    command: list[str] = field(default_factory=list)  # argv, for kind command
    shell: bool = False  # command written as one string: run by /bin/sh
    junit: list[str] = field(default_factory=list)  # globs of the reports it writes
    needs: list[str] = field(default_factory=list)  # names of expanded jobs
    services: list[str] | None = None  # None: every service of the project
    private: bool = False  # its own copy of its services, not the shared ones
    timeout: float | None = None
    retries: int = 0
    artifacts: list[str] = field(default_factory=list)  # globs kept with the run
    env: dict[str, str] = field(default_factory=dict)
    matrix: dict[str, str] = field(default_factory=dict)  # this expansion's values
    span: SourceSpan | None = None


@dataclass
class Workflow:
    name: str
    jobs: dict[str, Job]  # in written order, matrix expansions in place
    root: Path  # paths in jobs are relative to it
    span: SourceSpan | None = None

    def services(self) -> set[str] | None:
        """The services the shared environment needs: None for all of the project's."""
        wanted: set[str] = set()
        for job in self.jobs.values():
            if job.private:
                continue
            if job.services is None:
                return None
            wanted.update(job.services)
        return wanted
