"""bench/localize/dataset.py: rows beyond the dev split get their gold files; rows the mirrors cannot check out
are dropped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench.localize import dataset

PATCH = """diff --git a/pkg/a.py b/pkg/a.py
--- a/pkg/a.py
+++ b/pkg/a.py
@@ -1 +1 @@
-x = 1
+x = 2
diff --git a/setup.cfg b/setup.cfg
--- a/setup.cfg
+++ b/setup.cfg
@@ -1 +1 @@
-a
+b
diff --git a/pkg/a.py b/pkg/a.py
"""


def test_gold_files_are_the_files_the_patch_changes() -> None:
    assert dataset.gold_files(PATCH) == ["pkg/a.py", "setup.cfg"]


def test_rows_of_other_repositories_and_incomplete_commits_are_left_out(tmp_path: Path) -> None:
    clone = tmp_path / "mirrors" / "acme__lib"
    clone.mkdir(parents=True)
    git = ["git", "-C", str(clone)]
    subprocess.run([*git, "init", "-q"], check=True)
    (clone / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    rows = [
        {"instance_id": "acme__lib-1", "repo": "acme/lib", "base_commit": head, "problem_statement": "t",
         "patch": PATCH},
        {"instance_id": "acme__lib-2", "repo": "acme/lib", "base_commit": "0" * 40, "problem_statement": "t",
         "patch": PATCH},
        {"instance_id": "other__x-1", "repo": "other/x", "base_commit": head, "problem_statement": "t", "patch": PATCH},
    ]
    source = tmp_path / "lite.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    assert dataset.main([str(source), "--repos", "acme/lib", "--repos-dir", str(tmp_path / "mirrors"),
                         "--out", str(out)]) == 0
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["instance_id"] for r in kept] == ["acme__lib-1"]
    assert kept[0]["gold_files"] == ["pkg/a.py", "setup.cfg"]
