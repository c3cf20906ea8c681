"""Which suites and testcases a run contains: discovery of files, selection by name and tag."""

from __future__ import annotations

import dataclasses
import fnmatch
import glob
from dataclasses import dataclass, field
from pathlib import Path

from splice._internal.errors import Diagnostic, SuiteError, UsageError
from splice._internal.loader.suite_loader import load_suite
from splice._internal.model.suite import Suite, Testcase

SUITE_GLOB = "**/*.splice.yaml"
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".splice"}


def discover(paths: list[str], root: Path) -> list[Path]:
    """Suite files named by `paths` (files, folders, globs), sorted, without duplicates."""
    if not paths:
        paths = [str(root)]
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if not path.is_absolute():
            path = root / path
        if any(ch in raw for ch in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(str(path), recursive=True))]  # noqa: PTH207
            if not matches:
                raise UsageError(f"no file matches {raw!r}")
            for m in matches:
                for f in _expand(m):
                    found[f] = None
            continue
        if not path.exists():
            raise UsageError(f"no such file or folder: {raw!r}")
        files = _expand(path)
        if path.is_dir() and not files:
            raise UsageError(f"no suites in {raw!r}", "suite files are named *.splice.yaml")
        for f in files:
            found[f] = None
    return list(found)


def _expand(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    out = []
    for candidate in sorted(path.rglob("*.splice.y*ml")):
        rel = candidate.relative_to(path).parts
        if any(part in _SKIP_DIRS for part in rel[:-1]):
            continue
        out.append(candidate)
    return out


@dataclass
class Selection:
    """`-k` expressions and `--tag` filters."""

    keywords: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    exclude_tags: list[str] = field(default_factory=list)

    def keeps(self, suite: Suite, name: str, tags: set[str], *, names_later: bool = False) -> bool:
        """Whether the testcase is selected; with `names_later` (rows from a query, named
        when the run starts) only its tags are judged here."""
        if self.keywords and not names_later and not self.named(suite, name):
            return False
        if self.tags and not tags.intersection(self.tags):
            return False
        return not tags.intersection(self.exclude_tags)

    def named(self, suite: Suite, name: str) -> bool:
        """Whether a `-k` expression (if any) matches `suite::name`."""
        full = f"{suite.name}::{name}".lower()
        return not self.keywords or any(_keyword(k, full) for k in self.keywords)


def _keyword(pattern: str, full: str) -> bool:
    pattern = pattern.lower()
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(full, pattern) or fnmatch.fnmatchcase(full, f"*{pattern}*")
    return pattern in full


def _later_keywords(tc: Testcase, suite: Suite, selection: Selection) -> Testcase:
    """A query-row testcase that `-k` does not name as written: its rows are matched when
    they are made (`runner.later_rows`)."""
    if tc.later is None or not selection.keywords or selection.named(suite, tc.name):
        return tc
    return dataclasses.replace(
        tc, later=dataclasses.replace(tc.later, keywords=tuple(selection.keywords))
    )


def load_all(files: list[Path]) -> tuple[list[Suite], list[Diagnostic]]:
    """Load every file, collecting the diagnostics of all broken files at once."""
    suites, problems = [], []
    for path in files:
        try:
            suites.append(load_suite(path))
        except SuiteError as exc:
            problems.extend(exc.diagnostics)
    return suites, problems


def select(suites: list[Suite], selection: Selection) -> list[Suite]:
    """Suites narrowed to the selected testcases; suites left empty are dropped."""
    out = []
    for suite in suites:
        kept = [
            _later_keywords(tc, suite, selection)
            for tc in suite.testcases
            if selection.keeps(
                suite, tc.name, {*suite.tags, *tc.tags}, names_later=tc.later is not None
            )
        ]
        if kept:
            narrowed = Suite(**{**suite.__dict__, "testcases": kept})
            out.append(narrowed)
    return out
