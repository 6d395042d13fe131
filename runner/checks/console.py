"""Reading a test runner's own closing summary from console output, when it wrote no structured report.

Only the summary a runner prints at the very end is read, never a `FAILED` line anywhere: a passing
test may print a whole nested test session (pytest's own tests do), and the sandbox keeps only the head
and the tail of a long output. Each reader anchors on the runner's final line and reads backwards:

- pytest: the final counts line ("1 failed, 3 passed in 0.12s", "no tests ran in 0.01s") and the
  "short test summary info" section right above it (ids up to " - ", spaces allowed inside [...]);
- unittest: the closing "Ran N tests" with "OK" / "FAILED (failures=1, errors=2)", and the "FAIL:" /
  "ERROR:" blocks between it and the previous "Ran" line;
- go test: top-level "--- FAIL: TestX" lines and the "ok"/"FAIL" package lines (written to go test's
  documented shapes: no Go toolchain was at hand to capture a real run);
- cargo test: every "test result:" line, the "failures:" list right above each, "could not compile".
A result whose named failures do not add up to its counts is marked incomplete (`TestRun.complete`).
"""

from __future__ import annotations

import re
from collections import Counter

from runner.checks.test_run import TestRun

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# ---- pytest ----------------------------------------------------------------------------------------
_PYTEST_FINAL = re.compile(
    r"^=*\s*(?P<counts>no tests ran|\d+ [a-z]+(?: [a-z]+)?(?:, \d+ [a-z]+(?: [a-z]+)?)*)"
    r" in \d+(?:\.\d+)?\s?(?:s|seconds)(?: \([\d:.]+\))?\s*=*$")
_PYTEST_HEADER = re.compile(r"^=+ short test summary info =+$")
_SECTION = re.compile(r"^=+ .+ =+$")
# "FAILED path::Class::test[p a r a m s] - message": the id ends at " - " or the line's end; inside
# [...] anything goes (spaces, " - ", brackets), the shortest bracketed part that is followed by one wins.
_PYTEST_RESULT = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<id>.+?(?:::[^\s:\[]+)+(?:\[.*?\])?|\S+)(?= - |$)")


def _pytest(lines: list[str], exit_code: int) -> TestRun | None:
    final = next((i for i in range(len(lines) - 1, -1, -1) if _PYTEST_FINAL.match(lines[i].strip())), None)
    if final is None:
        return None
    counts: Counter[str] = Counter()
    words = _PYTEST_FINAL.match(lines[final].strip())
    assert words is not None
    if words.group("counts") != "no tests ran":
        for part in words.group("counts").split(", "):
            number, word = part.split(" ", 1)
            counts[word.rstrip("s") if word in ("errors", "warnings") else word] += int(number)
    failed_ids: list[str] = []
    error_ids: list[str] = []
    for line in _pytest_section(lines, final):
        match = _PYTEST_RESULT.match(line)
        if match:
            (failed_ids if match.group("kind") == "FAILED" else error_ids).append(match.group("id"))
    collection_errors = tuple(dict.fromkeys(i for i in error_ids if "::" not in i))
    failed, errors = counts["failed"], counts["error"]
    passed, skipped = counts["passed"] + counts["xpassed"], counts["skipped"] + counts["xfailed"]
    return TestRun("pytest-summary", exit_code, collected=passed + failed + errors + skipped - len(collection_errors),
                   passed=passed, failed=failed, errors=errors, skipped=skipped,
                   failures=frozenset(failed_ids + error_ids), collection_errors=collection_errors,
                   complete=len(failed_ids) >= failed and len(error_ids) >= errors)


def _pytest_section(lines: list[str], final: int) -> list[str]:
    """The lines of the short test summary that belongs to the final counts line: right above it, with no other
    section header or counts line (a nested session's) in between; empty when there is none."""
    for i in range(final - 1, -1, -1):
        line = lines[i].strip()
        if _PYTEST_HEADER.match(line):
            return lines[i + 1:final]
        if _SECTION.match(line) or _PYTEST_FINAL.match(line):
            return []
    return []


# ---- unittest --------------------------------------------------------------------------------------
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in \d+(?:\.\d+)?s$")
_UNITTEST_STATUS = re.compile(r"^(OK|FAILED|NO TESTS RAN)(?: \((.*)\))?$")
_UNITTEST_BLOCK = re.compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (\w+) \(([\w.]+)\)(.*)$")
_EQUALS, _DASHES = "=" * 70, "-" * 70


def _unittest(lines: list[str], exit_code: int) -> TestRun | None:
    ran_at = [(i, int(m.group(1))) for i, line in enumerate(lines) if (m := _UNITTEST_RAN.match(line.strip()))]
    if not ran_at:
        return None
    last, total = ran_at[-1]
    status = next((m for line in lines[last + 1:last + 4] if (m := _UNITTEST_STATUS.match(line.strip()))), None)
    if status is None:
        return None
    counts = Counter({k.strip(): int(v) for k, v in re.findall(r"([a-z ]+)=(\d+)", status.group(2) or "")})
    failed_ids: list[str] = []
    error_ids: list[str] = []
    collection_errors: list[str] = []
    start = ran_at[-2][0] + 1 if len(ran_at) > 1 else 0  # blocks above an earlier "Ran" are a nested run's
    for i in range(max(start, 1), last):
        match = _UNITTEST_BLOCK.match(lines[i])
        if not match or lines[i - 1].strip() != _EQUALS or lines[i + 1].strip() != _DASHES:
            continue
        kind, name, where, rest = match.groups()
        if where.startswith("unittest.loader._FailedTest"):
            collection_errors.append(name)  # a module that failed to import, as unittest names it
            error_ids.append(name)
            continue
        test_id = (where if where.endswith(f".{name}") else f"{where}.{name}") + rest.rstrip()
        (error_ids if kind == "ERROR" else failed_ids).append(test_id)
    failed, errors = counts["failures"] + counts["unexpected successes"], counts["errors"]
    skipped = counts["skipped"] + counts["expected failures"]
    return TestRun("unittest", exit_code, collected=total - len(collection_errors),
                   passed=max(0, total - failed - errors - skipped), failed=failed, errors=errors, skipped=skipped,
                   failures=frozenset(failed_ids + error_ids), collection_errors=tuple(collection_errors),
                   complete=len(failed_ids) >= counts["failures"] and len(error_ids) >= errors)


# ---- go test ---------------------------------------------------------------------------------------
_GO_TEST = re.compile(r"^--- (FAIL|PASS|SKIP): (\S+)")
_GO_PACKAGE = re.compile(r"^(ok|FAIL)\s+(\S+)\s+(?:\[(build failed|setup failed)\]|\d+(?:\.\d+)?s\b|\(cached\))")


def _go(lines: list[str], exit_code: int) -> TestRun | None:
    tests: Counter[str] = Counter()
    failed_ids: list[str] = []
    packages: Counter[str] = Counter()
    broken: list[str] = []
    pending: list[str] = []
    for line in lines:
        test = _GO_TEST.match(line)  # top level only: subtests are indented
        if test:
            tests[test.group(1)] += 1
            if test.group(1) == "FAIL":
                pending.append(test.group(2))
            continue
        package = _GO_PACKAGE.match(line)
        if not package:
            continue
        packages[package.group(1)] += 1
        if package.group(3) in ("build failed", "setup failed"):
            broken.append(package.group(2))
        elif package.group(1) == "FAIL" and not pending:
            failed_ids.append(package.group(2))  # the package failed with no test named (a panic, TestMain)
        failed_ids += pending
        pending = []
    if not packages:
        return None
    failed_ids += pending
    return TestRun("go", exit_code, passed=max(tests["PASS"], packages["ok"]), failed=len(failed_ids),
                   errors=len(broken), skipped=tests["SKIP"], failures=frozenset(failed_ids + broken),
                   collection_errors=tuple(broken))


# ---- cargo test ------------------------------------------------------------------------------------
_CARGO_RESULT = re.compile(r"^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored")
_CARGO_COMPILE = re.compile(r"^error: could not compile `([^`]+)`")


def _cargo(lines: list[str], exit_code: int) -> TestRun | None:
    passed = failed = ignored = 0
    failed_ids: list[str] = []
    broken = list(dict.fromkeys(m.group(1) for line in lines if (m := _CARGO_COMPILE.match(line))))
    complete, found = True, False
    for i, line in enumerate(lines):
        result = _CARGO_RESULT.match(line)
        if not result:
            continue
        found = True
        passed, failed, ignored = passed + int(result[1]), failed + int(result[2]), ignored + int(result[3])
        names = _cargo_failures(lines, i)
        complete = complete and len(names) >= int(result[2])
        failed_ids += names
    if not (found or broken):
        return None
    return TestRun("cargo", exit_code, collected=passed + failed + ignored, passed=passed, failed=failed,
                   errors=len(broken), skipped=ignored, failures=frozenset(failed_ids + broken),
                   collection_errors=tuple(broken), complete=complete)


def _cargo_failures(lines: list[str], result: int) -> list[str]:
    """The indented names of the "failures:" list right above a "test result:" line."""
    names: list[str] = []
    for i in range(result - 1, -1, -1):
        line = lines[i]
        if not line.strip():
            continue
        if line.startswith("    ") and line.strip():
            names.append(line.strip())
            continue
        return names[::-1] if line.strip() == "failures:" else []
    return []


def parse(output: str, exit_code: int) -> TestRun | None:
    """The run as its runner summed it up at the end of `output`, or None when no known summary is there."""
    lines = _ANSI.sub("", output.replace("\r\n", "\n")).split("\n")
    for reader in (_pytest, _unittest, _cargo, _go):
        run = reader(lines, exit_code)
        if run is not None:
            return run
    return None
