"""One map in a fresh process: wall time and peak memory (this process and its parse helpers).

    python -m bench.localize.probe ROOT CACHE ISSUE_FILE [TOKENS]
prints {"seconds", "stored_seconds", "files", "ranked", "peak_rss_mib", "helpers_peak_rss_mib"} as JSON:
`seconds` until the map is rendered, `stored_seconds` until the tag cache's writes (made on a writer
thread while the map is ranked and rendered) are on disk as well.

Peak memory is this process's VmHWM (reset by exec, unlike getrusage's ru_maxrss, which keeps the
high-water mark of the process that forked us) and the largest parse helper's ru_maxrss.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def _vm_hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    start = time.perf_counter()
    from runner.repomap import RepoMap, TagCache

    root, cache, issue = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]).read_text()
    tokens = int(sys.argv[4]) if len(sys.argv) > 4 else 2048
    repo_map = RepoMap(root, TagCache(cache))
    ranking = repo_map.rank(issue)
    repo_map.render(ranking, tokens)
    seconds = time.perf_counter() - start
    repo_map.cache.flush()
    stored = time.perf_counter() - start
    snapshot = repo_map.snapshot
    print(json.dumps({
        "seconds": seconds,
        "stored_seconds": stored,
        "files": len(snapshot.entries) + len(snapshot.unranked),
        "ranked": len(snapshot.entries),
        "peak_rss_mib": _vm_hwm_mib(),
        "helpers_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
