"""The indexer reads files through descriptors that never follow a symlink, and never reads a huge file whole."""

from pathlib import Path

from runner.repomap import RepoMap
from runner.repomap.index import _read
from runner.repomap.languages import HUGE_BYTES


def test_no_read_through_a_symlinked_directory_and_huge_files_are_capped(tmp_path: Path) -> None:
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "secret_settings.py").write_text("API_TOKEN = 'host-only'\n")
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "core.py").write_text("def handle_request(payload):\n    return payload\n")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "big.py").write_bytes(b"x = 1\n" * (HUGE_BYTES // 6 + 10))
    assert _read(root, "linked/secret_settings.py") is None
    data = _read(root, "big.py")
    assert data is not None and len(data) == HUGE_BYTES + 1
    ranking = RepoMap(root).rank("handle_request fails with API_TOKEN")
    assert "linked/secret_settings.py" not in ranking.paths and "pkg/core.py" in ranking.paths
    assert "big.py" not in ranking.paths  # listed as huge, not ranked
