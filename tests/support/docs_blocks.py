"""The fenced blocks of README.md and docs/ that show what splice prints.

A block that shows output (a fence with no language, or `text`, `console`, `output`,
`json`) is preceded by one of two HTML comments, invisible on the rendered page:

    <!-- output: NAME -->        a test produces this output: the test listed for NAME
                                 in PRODUCERS runs the command and calls `check_output`
    <!-- not-output: REASON -->  not something splice prints (a diagram, a file's shape)

In a `console` block, lines starting with `$ ` (and the lines a trailing `\\` or an open
'…' argument continues) are the commands; the rest is their output, and only that is compared. A line `...` in a
block stands for any number of lines (the rest of a long response), and durations
(`12 ms`, `1.21 s`) match any duration. `SPLICE_UPDATE_GOLDEN=1` rewrites a block that has
no `...` with what the test produced.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUT_LANGUAGES = frozenset({"", "text", "console", "output", "json"})
MARKER = re.compile(r"^\s*<!-- (output|not-output): (.+?) -->\s*$")

# name of an output block -> the test file that produces it
PRODUCERS = {
    "sharding-plan": "tests/integration/test_static_shards.py",
    "sharding-k8s-job": "tests/integration/test_static_shards.py",
    "readme-unknown-method": "tests/unit/test_docs_outputs.py",
    "tutorial-run": "tests/integration/test_docs_tutorial.py",
    "tutorial-failure": "tests/integration/test_docs_tutorial.py",
    "tutorial-check": "tests/integration/test_docs_tutorial.py",
    "cli-ctrl-c": "tests/integration/test_signals.py",
    "cli-import-error": "tests/unit/test_docs_outputs.py",
    "cli-serve-open-reads": "tests/integration/test_docs_store.py",
    "cli-serve-dist-away": "tests/integration/test_web_trigger_dask.py",
    "dashboard-serve": "tests/integration/test_docs_store.py",
    "dashboard-open-reads": "tests/integration/test_docs_store.py",
    "dashboard-store-demo": "tests/integration/test_docs_store.py",
    "dashboard-token": "tests/integration/test_docs_store.py",
    "dashboard-webhook": "tests/integration/test_docs_store.py",
    "dashboard-prune": "tests/integration/test_docs_store.py",
    "api-events": "tests/integration/test_docs_store.py",
    "isolation-one-at-a-time": "tests/integration/test_isolation_jobs.py",
    "mock-near-miss": "tests/integration/test_docs_services.py",
    "sql-error": "tests/integration/test_docs_services.py",
    "graphql-check-error": "tests/integration/test_graphql.py",
    "kafka-value-does-not-fit": "tests/integration/test_kafka_registry.py",
    "contract-verify": "tests/integration/test_contract_verify.py",
    "contract-verify-drifted": "tests/integration/test_contract_verify.py",
    "contract-state-without-steps": "tests/integration/test_contract_verify.py",
    "contract-message-drifted": "tests/integration/test_contract_messages.py",
    "contract-message-unknown-description": "tests/integration/test_contract_message_broker.py",
    "contract-diff": "tests/integration/test_contract_diff.py",
    "contract-can-i-deploy": "tests/integration/test_contract_broker.py",
    "contract-check-openapi": "tests/integration/test_contract_openapi.py",
    "contract-run": "tests/integration/test_contract_project.py",
    "openapi-step-drifted": "tests/integration/test_openapi_steps.py",
    "data-driven-run": "tests/integration/test_data_driven.py",
    "data-driven-missing-column": "tests/unit/test_error_corpus.py",
    "pytest-ctrl-c": "tests/integration/test_pytest_signals.py",
    "cli-init": "tests/integration/test_init.py",
}


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    lines: list[str]  # the block's content, dedented to the fence
    marker: tuple[str, str] | None  # ("output" | "not-output", name or reason)
    indent: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def output_lines(self) -> list[str]:
        """The lines splice printed: a console block without its command lines."""
        if self.language != "console":
            return self.lines
        out: list[str] = []
        continued, quotes = False, 0
        for line in self.lines:
            command = continued or line.startswith("$ ")
            code = re.split(r"\s#", line, maxsplit=1)[0]  # a shell comment quotes nothing
            quotes = quotes + code.count("'") if command else 0
            # a command goes on after a trailing `\` or while a '…' argument is open
            continued = command and (line.rstrip().endswith("\\") or quotes % 2 == 1)
            if not command:
                out.append(line)
        return out


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of one Markdown file, with the marker on the line before it."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        indent, language = fence.group(1), fence.group(2)
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i].removeprefix(indent))
            i += 1
        before = lines[start - 1] if start > 0 else ""
        marked = MARKER.match(before)
        marker = (marked.group(1), marked.group(2)) if marked else None
        found.append(Block(path, start + 1, language, body, marker, indent))
        i += 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in doc_files() for block in blocks(path)]


def output_blocks(name: str) -> list[Block]:
    return [b for b in all_blocks() if b.marker == ("output", name)]


_DURATION = re.compile(r"\b\d+(?:[.,]\d+)? ?(?:ms|s)\b")


def _normal(line: str) -> str:
    return _DURATION.sub("<duration>", line.rstrip())


def matches(shown: list[str], actual: str) -> bool:
    """Whether the block's lines are the actual output (`...` lines match any lines)."""
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line.strip() == "..." else re.escape(_normal(line)) + r"\n"
        for line in shown
    )
    text = "".join(_normal(line) + "\n" for line in actual.rstrip("\n").splitlines())
    return re.fullmatch(pattern, text) is not None


def check_output(name: str, actual: str) -> None:
    """Every block marked `output: NAME` shows `actual` (see the module docstring)."""
    assert name in PRODUCERS, f"add {name!r} to PRODUCERS in tests/support/docs_blocks.py"
    found = output_blocks(name)
    assert found, f"no block in the docs is marked <!-- output: {name} -->"
    for block in found:
        shown = block.output_lines()
        if matches(shown, actual):
            continue
        if os.environ.get("SPLICE_UPDATE_GOLDEN") == "1" and not any(
            line.strip() == "..." for line in shown
        ):
            _rewrite(block, actual)
            continue
        raise AssertionError(
            f"{block.where} ({name}) shows:\n" + "\n".join(shown) + "\n\nsplice printed:\n" + actual
        )


def _rewrite(block: Block, actual: str) -> None:
    """Put `actual` in place of the block's output lines (commands stay where they are)."""
    if block.language == "console" and block.output_lines() != block.lines:
        raise AssertionError(f"{block.where}: update a console block with commands by hand")
    lines = block.path.read_text(encoding="utf-8").splitlines(keepends=True)
    new = [f"{block.indent}{line}".rstrip() + "\n" for line in actual.rstrip("\n").splitlines()]
    lines[block.line : block.line + len(block.lines)] = new
    block.path.write_text("".join(lines), encoding="utf-8")
