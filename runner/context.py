"""Which files the models see, and the map providers the engine ranks them with.

`structured_map` is the tree-sitter repo map (`runner.repomap`) jobs use; `simple_map` (files the issue
names by path, file name or module stem first, then the rest) serves tests and small local
runs. Everything is capped so a huge file or tree cannot blow the prompt. A model may read every
text file the map indexes (`runner.file_kinds.is_text_path`): what the map shows, the model can open.
"""

from __future__ import annotations

import re
from pathlib import Path

from runner.file_kinds import is_text_path
from runner.ports import MapFactory, MapProvider
from runner.safe_read import read_bytes_inside

MAX_FILE_CHARS = 40_000
MAX_TOTAL_CHARS = 120_000


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_./-]{2,}", text)}


def mentioned(files: list[str], text: str) -> list[str]:
    """Tracked files the text names by path, file name or module stem (longest first wins ties)."""
    words = _words(text)
    hits: list[str] = []
    for path in files:
        lower = path.lower()
        name = lower.rsplit("/", 1)[-1]
        stem = name.rsplit(".", 1)[0]
        module = lower.rsplit(".", 1)[0].replace("/", ".")
        if lower in words or name in words or module in words or (len(stem) >= 4 and stem in words):
            hits.append(path)
    return hits


def _text(root: Path, rel: str) -> str | None:
    if not is_text_path(rel):
        return None
    data = read_bytes_inside(root, rel, MAX_FILE_CHARS)
    if data is None or b"\0" in data[:4096]:
        return None
    return data.decode("utf-8", errors="replace")


def readable(root: Path, paths: list[str]) -> list[str]:
    """The paths a model can be shown: text files, not symlinks, not huge."""
    return [rel for rel in dict.fromkeys(paths) if _text(root, rel) is not None]


def read_files(root: Path, paths: list[str], budget: int = MAX_TOTAL_CHARS) -> list[tuple[str, str]]:
    """(path, text) pairs within the budget; binary, huge or symlinked files are skipped."""
    out: list[tuple[str, str]] = []
    used = 0
    for rel in dict.fromkeys(paths):
        text = _text(root, rel)
        if text is None:
            continue
        if used + len(text) > budget:
            break
        out.append((rel, text))
        used += len(text)
    return out


def select(root: Path, files: list[str], issue_text: str) -> list[str]:
    """Files for the Senior: those named in the issue, then the rest of the source."""
    named = mentioned(files, issue_text)
    rest = [p for p in files if p not in named and is_text_path(p) and not p.startswith(".github/")]
    return named + rest


def simple_map(root: Path, files: list[str]) -> MapProvider:
    """A map provider without structure: files named in the issue first, then paths (len/4 tokens)."""

    def provide(issue_text: str, tokens: int) -> tuple[list[str], str]:
        ranked = select(root, files, issue_text)
        lines, used = [], 0
        for path in ranked:
            used += len(path) // 4 + 1
            if used > tokens:
                break
            lines.append(path)
        return ranked, "\n".join(lines)

    return provide


def structured_map(cache_path: Path | None) -> MapFactory:
    """The tree-sitter repo map (runner.repomap) as the engine's map provider, its tags cached by blob id.

    Built lazily: a small repository shown whole never pays for it. Tokens are counted as len/4, the
    same estimate the map's own budget uses.
    """

    def factory(root: Path, files: list[str]) -> MapProvider:
        from runner.repomap import RepoMap, TagCache

        built: list[RepoMap] = []

        def provide(issue_text: str, tokens: int) -> tuple[list[str], str]:
            if not built:
                built.append(RepoMap(root, TagCache(cache_path)))
            ranking = built[0].rank(issue_text)
            return ranking.paths, built[0].render(ranking, tokens)

        return provide

    return factory
