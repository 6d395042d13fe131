"""The captured output of real test runs (tests/data/test_output/, made by its make.py) as `CommandResult`s,
whole or cut the way the sandbox cuts what a command prints (`runner.sandbox.host.OutputCapture`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from runner.ports import CommandResult
from runner.sandbox.container import SandboxLimits
from runner.sandbox.host import OutputCapture

DATA = Path(__file__).resolve().parents[2] / "data" / "test_output"
SANDBOX_OUTPUT_LIMIT = SandboxLimits().max_output_bytes


@cache
def _cases() -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = json.loads((DATA / "cases.json").read_text(encoding="utf-8"))
    return cases


def names(prefix: str = "") -> list[str]:
    return sorted(name for name in _cases() if name.startswith(prefix))


def output(name: str) -> str:
    return (DATA / f"{name}.out").read_text(encoding="utf-8")


def load(name: str, *, report: bool = True, sandbox_cut: bool = False) -> CommandResult:
    """The run `name`: its output (cut in the middle as the sandbox would, when asked) and its JUnit report."""
    case = _cases()[name]
    text, omitted = output(name), 0
    if sandbox_cut:
        capture = OutputCapture(SANDBOX_OUTPUT_LIMIT)
        data = text.encode("utf-8")
        for start in range(0, len(data), 4096):  # as the pump feeds it, chunk by chunk
            capture.feed(data[start:start + 4096])
        text, omitted = capture.text(), capture.omitted
    xml = DATA / f"{name}.xml"
    return CommandResult(case["command"], case["exit_code"], text, 0.5, omitted_bytes=omitted,
                         report=xml.read_text(encoding="utf-8") if report and xml.exists() else None)
