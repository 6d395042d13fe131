"""What the receiver's event-loop thread is doing, sampled from /proc while a step runs.

uvicorn runs the event loop on the serve process's main thread (thread id = process id). Sampling its scheduler
state every few milliseconds tells the three ways a loop can be slow apart: `R` running or waiting for a core
(CPU-bound, or starved by other processes), `D` uninterruptible sleep (waiting for the disk: an fsync on the loop),
`S` sleeping (idle in epoll, or waiting on a lock). `wchan` names the kernel function it waits in.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from types import TracebackType


class LoopSampler:
    def __init__(self, pid: int, interval_s: float = 0.002) -> None:
        self._task = Path(f"/proc/{pid}/task/{pid}")
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loop-sampler", daemon=True)
        self.states: Counter[str] = Counter()
        self.waits: Counter[str] = Counter()  # "state:wchan"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                state = (self._task / "stat").read_text().rsplit(")", 1)[1].split()[0]
                wchan = (self._task / "wchan").read_text().strip() or "-"
            except (OSError, IndexError):
                return
            self.states[state] += 1
            if state != "R":
                self.waits[f"{state}:{wchan}"] += 1
            time.sleep(self._interval)

    def __enter__(self) -> LoopSampler:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, object]:
        total = sum(self.states.values()) or 1
        return {"samples": total,
                "state_pct": {s: round(100 * n / total, 1) for s, n in self.states.most_common()},
                "top_waits_pct": {w: round(100 * n / total, 1) for w, n in self.waits.most_common(5)}}
