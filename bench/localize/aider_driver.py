"""Drive aider's RepoMap the way aider drives it. Runs under aider's own Python (a separate venv).

stdin: JSON {"root": clone, "budgets": [...], "instances": [{"id", "commit", "text"}...]}
stdout: one JSON line per instance: {"id", "files": [ranked paths], "maps": {budget: text}, "seconds"}

For each instance: check out the commit, then exactly what `Coder.get_repo_map` does with no files
in the chat: mentions from the issue text with aider's own `get_file_mentions`,
`get_ident_mentions` and `get_ident_filename_matches`, then `RepoMap.get_repo_map(set(), all
files, mentioned_fnames, mentioned_idents)` with `map_tokens` = the budget (no
`max_context_window`, so no x8 multiplier: the map targets the budget itself). Token counts use
len/4, like every map in the benchmark. The tags cache stays in the clone across commits, as it
would in a user's checkout, so the first instance is cold and the rest incremental.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from aider.coders.base_coder import Coder
from aider.io import InputOutput
from aider.repomap import RepoMap


class _Model:
    def token_count(self, text: str) -> float:
        return len(text) / 4


class _Mentions:
    """The parts of a Coder that its mention extraction uses: tracked files, none in the chat."""

    get_file_mentions = Coder.get_file_mentions
    get_ident_mentions = Coder.get_ident_mentions
    get_ident_filename_matches = Coder.get_ident_filename_matches

    def __init__(self, root: str, files: list[str]) -> None:
        self.root = root
        self.files = files
        self.abs_fnames: set[str] = set()
        self.abs_read_only_fnames: set[str] = set()

    def get_all_relative_files(self) -> list[str]:
        return sorted(set(self.files))

    def get_addable_relative_files(self) -> set[str]:
        return set(self.files)

    def get_inchat_relative_files(self) -> list[str]:
        return []

    def get_rel_fname(self, fname: str) -> str:
        return os.path.relpath(fname, self.root)


def _git(root: str, *args: str) -> str:
    return subprocess.run(["git", "-C", root, *args], check=True, capture_output=True, text=True).stdout


def main() -> None:
    out, sys.stdout = sys.stdout, sys.stderr  # aider prints progress to stdout; keep ours clean
    job = json.load(sys.stdin)
    root, budgets = job["root"], job["budgets"]
    io = InputOutput(pretty=False, yes=True, fancy_input=False)
    for inst in job["instances"]:
        _git(root, "checkout", "-q", "-f", "--detach", inst["commit"])
        _git(root, "clean", "-fdq", "-e", RepoMap.TAGS_CACHE_DIR)
        files = [f for f in _git(root, "ls-files", "-z").split("\0") if f]
        coder = _Mentions(root, files)
        text = inst["text"] + "\n"
        maps: dict[str, str] = {}
        ranked: list[Any] | None = None
        seconds: float | None = None
        for budget in budgets:
            start = time.perf_counter()
            rm = RepoMap(map_tokens=budget, root=root, main_model=_Model(), io=io, refresh="always")
            if ranked is not None:  # same instance, another budget: reuse aider's own ranking
                rm.get_ranked_tags = lambda *a, _r=ranked, **k: _r
            else:
                real = rm.get_ranked_tags

                def remember(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
                    nonlocal ranked
                    ranked = _real(*args, **kwargs)
                    return ranked

                rm.get_ranked_tags = remember
            mentioned_fnames = coder.get_file_mentions(text)
            mentioned_idents = coder.get_ident_mentions(text)
            mentioned_fnames.update(coder.get_ident_filename_matches(mentioned_idents))
            all_abs = [os.path.join(root, f) for f in files]
            content = rm.get_repo_map(set(), all_abs, mentioned_fnames=mentioned_fnames,
                                      mentioned_idents=mentioned_idents)
            if not content:
                content = rm.get_repo_map(set(), all_abs) or ""
            if seconds is None:
                seconds = time.perf_counter() - start
            maps[str(budget)] = content
        order: list[str] = []
        seen: set[str] = set()
        for tag in ranked or []:
            if tag[0] not in seen:
                seen.add(tag[0])
                order.append(tag[0])
        out.write(json.dumps({"id": inst["id"], "files": order, "maps": maps, "seconds": seconds}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
