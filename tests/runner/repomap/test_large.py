"""A repository of 100,000 generated files maps without error (no recursion, bounded time).

A fifth are Python sources (parsed, ranked, linked by references), the rest data files that are
listed but never read, as in a large real repository; that keeps the test to seconds."""

from __future__ import annotations

import time
from pathlib import Path

from runner.repomap import RepoMap, TagCache, approx_tokens

FILES = 100_000


def _generate(root: Path) -> None:
    for d in range(FILES // 100):
        folder = root / f"pkg{d // 100:03}" / f"mod{d:04}"
        folder.mkdir(parents=True)
        for f in range(100):
            n = d * 100 + f
            if f % 5 == 0:
                (folder / f"f{f:02}.py").write_text(f"def func_{n}(x):\n    return func_{n - 5}(x)\n")
            else:
                (folder / f"f{f:02}.dat").write_bytes(b"\0")


def test_a_hundred_thousand_files(tmp_path: Path) -> None:
    _generate(tmp_path / "repo")
    start = time.perf_counter()
    repo_map = RepoMap(tmp_path / "repo", TagCache(tmp_path / "tags.sqlite3"))
    ranking = repo_map.rank("func_54320 returns the wrong value")
    text = repo_map.render(ranking, 1024, approx_tokens)
    elapsed = time.perf_counter() - start
    assert len(ranking.files) + len(ranking.unranked) == FILES
    assert len(ranking.files) == FILES // 5
    assert ranking.paths[0] == "pkg005/mod0543/f20.py"
    assert text.startswith("pkg005/mod0543/f20.py:\n│def func_54320(x):")
    assert approx_tokens(text) <= 1024
    assert elapsed < 120, elapsed
