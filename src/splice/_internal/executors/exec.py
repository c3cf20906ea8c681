"""The `exec` executor: run a command, capture its exit code, stdout and stderr.

- exec: ./scripts/seed.sh --count 3        # a string runs through the shell
- exec:
    command: [python, -c, "print(42)"]   # a list runs without a shell
    env: {LOG_LEVEL: debug}
    cwd: tools
    stdin: "input text"
    timeout: 5s
  expect: {exit_code: 0, json: 42}
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import field_validator

from splice._internal.errors import StepError, StepInterrupted
from splice._internal.executors.executor_api import Block, StepContext, StepOutput, block_properties
from splice._internal.model.durations import parse_duration
from splice._internal.source.validation import HintedValueError

_KEEP = 64 * 1024  # characters of stdout/stderr kept in reports


class ExecBlock(Block):
    command: str | list[str | int | float]
    env: dict[str, str | int | float | bool] = {}
    inherit_env: bool = True
    cwd: str | None = None
    stdin: str | None = None
    shell: bool | None = None  # default: true for a string command, false for a list
    timeout: str | float | None = None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("command")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if not value or (isinstance(value, str) and not value.strip()):
            raise HintedValueError(
                "the command is empty", "give a command line (`exec: ls -l`) or a list"
            )
        return value


class ExecExecutor:
    """Runs a command; the result has exit_code, stdout, stderr, json (of stdout), duration."""

    name: ClassVar[str] = "exec"
    block_model: ClassVar[type[Block]] = ExecBlock
    result_fields: ClassVar[dict[str, str]] = {
        "exit_code": "the command's exit status (negative: killed by that signal)",
        "stdout": "standard output as text",
        "stderr": "standard error as text",
        "json": "standard output parsed as JSON (null when it is not JSON)",
        "lines": "standard output split into lines",
        "duration": "seconds the command ran",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()
    # a command that exits non-zero fails its step unless the step's expect names exit_code
    implied_expect: ClassVar[Mapping[str, Any]] = {"exit_code": 0}

    @staticmethod
    def shorthand(raw: Any) -> Any:
        if isinstance(raw, str | list):
            return {"command": raw}
        return raw

    @staticmethod
    def shorthand_schema(block: dict[str, Any]) -> list[Any]:
        """`exec: "ls -l"` or `exec: [ls, -l]`: the command alone."""
        return [block_properties(block)["command"]]

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        command = block.get("command", "")
        text = command if isinstance(command, str) else " ".join(map(str, command))
        return f"exec {text[:60]}"

    def execute(self, block: ExecBlock, ctx: StepContext) -> StepOutput:
        timeout = parse_duration(block.timeout) if block.timeout is not None else ctx.timeout
        shell = block.shell if block.shell is not None else isinstance(block.command, str)
        args: Any = (
            block.command if isinstance(block.command, str) else [str(a) for a in block.command]
        )
        if shell and isinstance(args, list):
            args = " ".join(args)
        env = dict(os.environ) if block.inherit_env else {}
        env.update({k: _env_value(v) for k, v in block.env.items()})
        cwd = ctx.base_dir / block.cwd if block.cwd else ctx.base_dir
        request = {"command": block.command, "cwd": str(cwd), "env": block.env or None}
        started = time.perf_counter()
        try:
            # own process group, so a timeout kills the command's children too
            proc = subprocess.Popen(
                args,
                shell=shell,
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE if block.stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            missing = exc.filename or (args[0] if isinstance(args, list) else args)
            if not cwd.is_dir():
                raise StepError(f"working directory not found: {cwd}") from exc
            raise StepError(
                f"command not found: {missing!r}", "check the spelling and that it is on PATH"
            ) from exc
        except PermissionError as exc:
            raise StepError(
                f"cannot run {exc.filename!r}: permission denied",
                "make the file executable (chmod +x)",
            ) from exc
        if ctx.processes is not None:
            ctx.processes.watch_group(proc.pid)
        try:
            stdout, stderr = _communicate(proc, block.stdin, timeout, ctx)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            proc.communicate()
            raise StepError(
                f"command still running after {timeout:g}s; it was killed",
                "raise `timeout:` or check that the command does not wait for input",
            ) from exc
        except BaseException:
            _kill_group(proc)
            proc.communicate()
            raise
        finally:
            if ctx.processes is not None:
                ctx.processes.forget_group(proc.pid)
        parsed: Any = None
        if stdout.strip():
            try:
                parsed = json.loads(stdout)
            except ValueError:
                parsed = None
        result = {
            "exit_code": proc.returncode,
            "stdout": stdout,
            "stderr": stderr,
            "json": parsed,
            "lines": stdout.splitlines(),
            "duration": round(time.perf_counter() - started, 6),
        }
        response = {
            "exit_code": proc.returncode,
            "stdout": stdout[:_KEEP],
            "stderr": stderr[:_KEEP],
        }
        return StepOutput(result, request, response)


def _communicate(
    proc: subprocess.Popen[str], stdin: str | None, timeout: float | None, ctx: StepContext
) -> tuple[str, str]:
    """Wait for the command in short slices, so an interrupted run stops it promptly."""
    deadline = None if timeout is None else time.monotonic() + timeout
    first = True
    while True:
        slice_ = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
        try:
            return proc.communicate(stdin if first else None, timeout=slice_)
        except subprocess.TimeoutExpired:
            first = False
            if deadline is not None and time.monotonic() >= deadline:
                raise
            if ctx.cancelled.is_set():
                raise StepInterrupted("interrupted while the command was running") from None


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
