"""The Junior's edits for each run: the known fix, and three negative controls.

- `fix`: the gold patch as SEARCH/REPLACE blocks (`bench.oracle.noise.diff_to_blocks`).
- `noop`: a comment line appended to the first gold file: a real edit that changes no behaviour.
- `regression`: the instance's own edit (`bench.realrepo.instances.Regression`) that breaks tests with
  spaces in their ids.
- `import_break`: a `raise` appended to the first gold file, a module the tests import, so the test module
  (or its conftest) cannot be imported and no test runs. It is valid Python, so the edit passes the
  engine's own lint and reaches the tests.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.oracle.noise import diff_to_blocks
from bench.realrepo.instances import Regression
from bench.realrepo.judge import Kind
from runner.edit.parse import EditBlock

NOOP_LINE = "# ai-fix benchmark: a no-op edit (this comment changes nothing)\n"
IMPORT_BREAK_LINE = 'raise RuntimeError("ai-fix benchmark: this module no longer imports")\n'


class ControlError(ValueError):
    """The control cannot be written for this instance (the reason says what is missing)."""


def blocks_for(kind: Kind, patch: str, read: Callable[[str], str | None], gold_file: str,
               regression: Regression | None) -> list[EditBlock]:
    """The edit blocks of run `kind`; `read` gives a file at the instance's base commit (None: absent).

    The no-op and the import break both edit the first gold file: a module the instance's tests import."""
    if kind == "fix":
        return diff_to_blocks(patch, read)
    if kind == "regression":
        if regression is None:
            raise ControlError("no regression control is defined for this instance")
        return [EditBlock(e.path, e.search, e.replace) for e in regression.edits]
    text = read(gold_file)
    if text is None:
        raise ControlError(f"{gold_file} does not exist at the base commit")
    return [append(gold_file, text, NOOP_LINE if kind == "noop" else IMPORT_BREAK_LINE)]


def append(path: str, text: str, line: str) -> EditBlock:
    """A block adding `line` at the end of `text`: SEARCH is the shortest tail of whole lines found only once."""
    if not text.endswith("\n"):
        raise ControlError(f"{path} does not end with a newline")
    lines = text.splitlines(keepends=True)
    for n in range(1, len(lines) + 1):
        tail = "".join(lines[-n:])
        if tail.strip() and text.count(tail) == 1:
            return EditBlock(path, tail, tail + line)
    raise ControlError(f"{path} has no unique tail to anchor an edit")


def touched(blocks: list[EditBlock]) -> tuple[str, ...]:
    """The files the blocks edit, in order: the files the Senior is told to show the Junior."""
    return tuple(dict.fromkeys(block.path for block in blocks))
