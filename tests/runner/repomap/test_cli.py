"""`ai-fix map`: the output contract other tools rely on."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from runner.repomap import cli
from tests.runner.repomap.conftest import RepoFactory
from tests.runner.repomap.fixtures import HTTPLIB


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> int:
    monkeypatch.setenv("AI_FIX_CACHE_DIR", str(tmp_path / "cache"))
    parser = argparse.ArgumentParser(prog="ai-fix")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_json_is_the_only_thing_on_stdout(make_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(HTTPLIB)
    issue = tmp_path / "issue.md"
    issue.write_text("`Session.merge_settings` drops None values\n")
    assert _run(["map", "--repo", str(root), "--issue-file", str(issue), "--json", "--explain", "--tokens", "300"],
                monkeypatch, tmp_path) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert list(data) == ["files", "map"]
    assert data["files"][0] == "netlib/session.py"
    assert data["map"].startswith("netlib/session.py:")
    assert len(data["map"]) / 4 <= 300
    assert "Why these files" in err and "defines `merge_settings`" in err


def test_plain_map_with_explanation(make_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(HTTPLIB)
    assert _run(["map", "--repo", str(root), "--issue", "retries ignore the timeout", "--explain"],
                monkeypatch, tmp_path) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("netlib/download.py:")
    assert "  1. netlib/download.py  [code] score" in out
    assert (tmp_path / "cache" / "repomap.sqlite3").exists()


def test_bad_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["map", "--repo", str(tmp_path / "nope"), "--issue", "x"], monkeypatch, tmp_path) == 2
    assert "not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run(["map", "--repo", str(tmp_path)], monkeypatch, tmp_path)  # no issue text
