"""Gold patches expressed as Junior replies: clean replies reproduce the patch byte for byte, noisy ones too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.oracle.noise import NOISES, DiffError, diff_to_blocks, render
from runner.edit.apply import apply_edits
from runner.edit.parse import EditBlock, parse

MODELS = '''"""Order models."""

from decimal import Decimal


class LineItem:
    def __init__(self, sku, quantity, price):
        self.sku = sku
        self.quantity = quantity
        self.price = price

    def total(self):
        return self.quantity * self.price


class Order:
    def __init__(self, items=None):
        self.items = list(items or [])

    def add(self, item):
        self.items.append(item)

    def total(self):
        result = Decimal("0")
        for item in self.items:
            result += item.total()
        return result

    def describe(self):
        lines = []
        for item in self.items:
            lines.append(f"{item.sku} x{item.quantity}")
        return "\\n".join(lines)
'''

MODELS_FIXED = MODELS.replace(
    "    def total(self):\n        return self.quantity * self.price\n",
    "    def total(self):\n        if self.quantity < 0:\n            raise ValueError(\"negative quantity\")\n"
    "        return self.quantity * self.price\n").replace(
    '            lines.append(f"{item.sku} x{item.quantity}")\n',
    '            lines.append(f"{item.sku} x{item.quantity} = {item.total()}")\n').replace(
    '        result = Decimal("0")\n', '        result = Decimal("0.00")\n')

# Two validators with identical bodies: a hunk inside the second needs more context to be unique.
VALIDATORS = "".join(f'''def check_{name}(value):
    if value is None:
        return False
    if not isinstance(value, str):
        return False
    value = value.strip()
    return bool(value)


''' for name in ("name", "email")) + "__all__ = [\"check_name\", \"check_email\"]\n"
_HEAD, _, _TAIL = VALIDATORS.rpartition("    value = value.strip()\n")
VALIDATORS_FIXED = _HEAD + "    value = value.strip().lower()\n" + _TAIL

TABS = "function f(items) {\n\tfor (const x of items) {\n\t\tif (x) {\n\t\t\tuse(x);\n\t\t}\n\t}\n\treturn items;\n}\n"
TABS_FIXED = TABS.replace("\t\t\tuse(x);\n", "\t\t\tuse(x);\n\t\t\tlog(x);\n")

BEFORE = {"shop/models.py": MODELS, "shop/validators.py": VALIDATORS, "web/f.js": TABS, "shop/legacy.py": "OLD = 1\n"}
AFTER = {"shop/models.py": MODELS_FIXED, "shop/validators.py": VALIDATORS_FIXED, "web/f.js": TABS_FIXED,
         "shop/legacy.py": None, "shop/money.py": "def cents(value):\n    return int(value * 100)\n"}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _write(root: Path, files: dict[str, str | None]) -> None:
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


@pytest.fixture(scope="module")
def gold(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The gold patch, as git writes it."""
    repo = tmp_path_factory.mktemp("gold")
    _git(repo, "init", "-q")
    _write(repo, dict(BEFORE))
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    _write(repo, AFTER)
    _git(repo, "add", "-A")
    return _git(repo, "diff", "--cached")


def _solve(root: Path, reply: str) -> list[str]:
    _write(root, dict(BEFORE))
    parsed = parse(reply)
    return parsed.errors + apply_edits(root, parsed.blocks).errors


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_blocks_are_minimal_but_unique(gold: str) -> None:
    blocks = diff_to_blocks(gold, BEFORE.get)
    validator = [b for b in blocks if b.path == "shop/validators.py"]
    [block] = validator  # the hunk's 7 lines are in both functions: one more line each side makes it unique
    assert block.search.startswith("    if value is None:\n") and block.search.endswith("__all__ = [\"check_name\", "
                                                                                    "\"check_email\"]\n")
    assert len(block.search.splitlines()) == 9
    assert EditBlock("shop/legacy.py", "", "", kind="delete") in blocks
    assert EditBlock("shop/money.py", "", "def cents(value):\n    return int(value * 100)\n") in blocks
    assert len([b for b in blocks if b.path == "shop/models.py"]) == 3


@pytest.mark.parametrize("noise", NOISES)
def test_every_reply_reproduces_the_gold_patch(gold: str, noise: str, tmp_path: Path) -> None:
    reply = render(diff_to_blocks(gold, BEFORE.get, context=6 if noise == "elided_middle" else 0), noise)
    assert _solve(tmp_path, reply) == []
    expected = {rel: text for rel, text in AFTER.items() if text is not None}
    assert _files(tmp_path) == expected


def test_clean_reply_gives_the_same_diff_as_gold(gold: str, tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _write(tmp_path, dict(BEFORE))
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    parsed = parse(render(diff_to_blocks(gold, BEFORE.get)))
    assert apply_edits(tmp_path, parsed.blocks).errors == []
    _git(tmp_path, "add", "-A")
    assert _git(tmp_path, "diff", "--cached") == gold


def test_noise_looks_like_what_models_write(gold: str) -> None:
    blocks = [b for b in diff_to_blocks(gold, BEFORE.get) if b.path == "shop/models.py"]
    shifted = render(blocks, "shifted_indent")
    assert "<<<<<<< SEARCH\n    self.price = price\n\ndef total(self):\n    return self.quantity" in shifted
    elided = render([b for b in diff_to_blocks(gold, BEFORE.get, context=6) if b.path == "shop/models.py"],
                    "elided_middle")
    assert elided.count("\n...\n") == 6  # in SEARCH and REPLACE of each of the three blocks
    bare = render(blocks, "no_filename_fence")
    assert "```" not in bare and bare.count("shop/models.py") == 1
    assert "  \n" in render(blocks, "trailing_spaces")


def test_crlf_files_and_a_diff_that_changes_the_final_newline() -> None:
    patch = "--- a/w.txt\n+++ b/w.txt\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n"
    assert diff_to_blocks(patch, {"w.txt": "a\r\nb\r\n"}.get) == [EditBlock("w.txt", "a\nb\n", "a\nc\n")]
    no_newline = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"
    with pytest.raises(DiffError, match="changes the final newline"):
        diff_to_blocks(no_newline, {"x": "a"}.get)


def test_a_patch_that_does_not_fit_the_file_is_an_error() -> None:
    with pytest.raises(DiffError, match="the hunk at line 1 does not apply"):
        diff_to_blocks("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-q\n+r\n", {"x": "a\n"}.get)


def test_hunks_whose_line_numbers_are_off_are_found_like_git_apply_finds_them() -> None:
    original = "".join(f"line {i}\n" for i in range(1, 21))
    patch = ("diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n"
             "@@ -7,3 +7,3 @@\n line 10\n-line 11\n+LINE 11\n line 12\n")  # really at line 10, not 7
    [only] = diff_to_blocks(patch, lambda path: original)
    assert only.search == "line 10\nline 11\nline 12\n" and only.replace == "line 10\nLINE 11\nline 12\n"
