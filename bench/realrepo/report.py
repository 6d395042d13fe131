"""One row per run, the table a pull request pastes, and the summary counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    instance: str
    run: str
    expected: str
    verdict: str = "-"
    new_failures: list[str] = field(default_factory=list)
    setup: str = "-"
    """The setup phase: built, hit (cached image) or none."""
    setup_s: float = 0.0
    engine_before: dict[str, Any] | None = None
    """The engine's own counts at baseline (None: the outcome has none)."""
    engine_after: dict[str, Any] | None = None
    truth_before: dict[str, int] | None = None
    """The benchmark's reading of pytest's JUnit report at baseline."""
    truth_after: dict[str, int] | None = None
    broke: list[str] = field(default_factory=list)
    """Tests the JUnit reports show failing after the edit and not before: what the engine should call new."""
    result: str = "invalid"
    """right | wrong | invalid (the run cannot judge the verdict: see `why`)."""
    why: str = ""
    engine_s: float = 0.0
    """The job's time without LLM latency and without the benchmark's own reruns."""
    commands_s: float = 0.0
    """Of which: the engine's commands in the sandbox (baseline and attempt test runs)."""
    truth_s: float = 0.0
    test_runs: int = 0
    """How many times the engine ran the test command (baseline, attempt, each reflection)."""


def _counts(data: dict[str, Any] | None) -> str:
    if not data:
        return "-"
    text = f"{data.get('passed')}p/{data.get('failed')}f/{data.get('errors')}e"
    if data.get("collection_errors"):
        text += f"/{data['collection_errors']}ce"
    return text + (f" {data['status']}" if data.get("status") else "")


def _ids(ids: Sequence[str], limit: int = 2) -> str:
    shown = "; ".join(f"`{i[:70]}`" for i in ids[:limit])
    return shown + (f" (+{len(ids) - limit})" if len(ids) > limit else "") if ids else "none"


def table(rows: Sequence[Row]) -> str:
    lines = ["| instance | run | setup | verdict | new failures (engine) | engine counts before → after | "
             "JUnit before → after | JUnit: newly failing | result | engine s (tests s) | why |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r.instance} | {r.run} | {r.setup} {r.setup_s:.0f}s | {r.verdict} | {_ids(r.new_failures)} | "
            f"{_counts(r.engine_before)} → {_counts(r.engine_after)} | "
            f"{_counts(r.truth_before)} → {_counts(r.truth_after)} | {_ids(r.broke)} | **{r.result}** | "
            f"{r.engine_s:.1f} ({r.commands_s:.1f}, {r.test_runs} runs) | {r.why.replace('|', '/')[:160]} |")
    return "\n".join(lines)


def summary_data(rows: Sequence[Row]) -> dict[str, dict[str, int]]:
    data: dict[str, dict[str, int]] = {}
    for r in rows:
        entry = data.setdefault(r.run, {"right": 0, "wrong": 0, "invalid": 0})
        entry[r.result] += 1
    return data


def summary(rows: Sequence[Row], total_s: float) -> str:
    parts = [f"{run}: {d['right']}/{d['right'] + d['wrong']} right" + (f", {d['invalid']} invalid" if d["invalid"]
                                                                         else "")
             for run, d in summary_data(rows).items()]
    return f"\n{'; '.join(parts)}. Total {total_s / 60:.1f} min for {len(rows)} runs."
