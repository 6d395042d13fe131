"""Per-repository and overall summaries, and the printed table."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.localize.metrics import mean, median

BUDGETS = (1024, 2048, 4096, 8192)
KS = (1, 5, 10)
# bm25: every file ours ranks (code, tests, docs, text); bm25src: source-code files only (a grammar
# is known for them), as the published BM25 baseline most likely indexed. Both are shown.
SYSTEMS = ("ours", "bm25", "bm25src", "aider")


def _summary(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for system in SYSTEMS:
        rows = [r[system] for r in records if system in r]
        if not rows:
            continue
        s: dict[str, float] = {"n": len(rows)}
        for k in KS:
            s[f"recall@{k}"] = mean([r[f"recall@{k}"] for r in rows])
        for b in BUDGETS:
            if f"in_map@{b}" in rows[0]:
                s[f"in_map@{b}"] = mean([r[f"in_map@{b}"] for r in rows])
                s[f"max_map_tokens@{b}"] = max(r[f"map_tokens@{b}"] for r in rows)
        s["median_seconds"] = median([r["seconds"] for r in rows])
        s["max_seconds"] = max(r["seconds"] for r in rows)
        cold = [r.get("cold_seconds") or r["seconds"] for r in rows if r.get("phase") == "cold"]
        if "incremental_seconds" in rows[0]:  # ours: base_commit right after its parent
            incremental = [r["incremental_seconds"] for r in rows]
        else:  # aider: the next instance's commit, whatever the distance
            incremental = [r["seconds"] for r in rows if r.get("phase") == "incremental"]
        warm = [r["warm_seconds"] for r in rows if "warm_seconds" in r]
        if cold:
            s["cold_seconds"] = max(cold)
        if incremental:
            s["incremental_median_seconds"] = median(incremental)
            s["incremental_max_seconds"] = max(incremental)
        if warm:
            s["warm_median_seconds"] = median(warm)
            s["warm_max_seconds"] = max(warm)
        out[system] = s
    return out


def summarise(records: list[dict[str, Any]], probes: dict[str, Any]) -> dict[str, Any]:
    by_repo: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_repo[r["repo"]].append(r)
    out: dict[str, Any] = {repo: _summary(rows) for repo, rows in sorted(by_repo.items())}
    out["overall"] = _summary(records)
    return out


def _fmt(x: float | None, digits: int = 2) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def table(summary: dict[str, Any], probes: dict[str, Any]) -> str:
    head = ["repo", "system", "n", "r@1", "r@5", "r@10", "map1k", "map2k", "map4k", "map8k",
            "cold s", "incr med/max s", "warm med/max s", "median s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for repo, systems in summary.items():
        for system, s in systems.items():
            cells = [repo, system, str(int(s["n"]))]
            cells += [_fmt(s.get(f"recall@{k}")) for k in KS]
            cells += [_fmt(s.get(f"in_map@{b}")) for b in BUDGETS]
            cells.append(_fmt(s.get("cold_seconds")))
            cells.append(f"{_fmt(s.get('incremental_median_seconds'))}/{_fmt(s.get('incremental_max_seconds'))}"
                         if "incremental_median_seconds" in s else "")
            cells.append(f"{_fmt(s.get('warm_median_seconds'))}/{_fmt(s.get('warm_max_seconds'))}"
                         if "warm_median_seconds" in s else "")
            cells.append(_fmt(s.get("median_seconds")))
            lines.append("| " + " | ".join(cells) + " |")
    if probes:
        cold, warm = probes["cold"], probes["warm"]
        lines.append("")
        lines.append(f"fresh process, {probes['repo']} at {probes['instance']} ({cold['files']} files, "
                     f"{cold['ranked']} ranked): cold {cold['seconds']:.2f}s (cache written by "
                     f"{cold.get('stored_seconds', cold['seconds']):.2f}s), warm {warm['seconds']:.2f}s; "
                     f"peak RSS {cold['peak_rss_mib']:.0f} MiB (+ parse helper {cold['helpers_peak_rss_mib']:.0f} MiB)")
    ours = summary.get("overall", {}).get("ours")
    aider = summary.get("overall", {}).get("aider")
    if probes and aider:
        repo = probes["repo"]
        aider_cold = summary.get(repo, {}).get("aider", {}).get("cold_seconds")
        if aider_cold:
            lines.append(f"cold map of {repo}: aider {aider_cold:.2f}s vs ours {probes['cold']['seconds']:.2f}s "
                         f"(fresh process) = {aider_cold / probes['cold']['seconds']:.1f}x faster")
    if ours:
        lines.append("")
        lines.append("floors: r@1>=0.45 {} r@5>=0.85 {} map2k>=0.85 {} map4k>=0.93 {}".format(
            *(("ok" if ours.get(k, 0) >= v else "NOT MET") for k, v in
              (("recall@1", 0.45), ("recall@5", 0.85), ("in_map@2048", 0.85), ("in_map@4096", 0.93)))))
    return "\n".join(lines)
