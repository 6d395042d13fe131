"""Reading a JUnit XML report into a `TestRun`: the structured result, trusted before any console text.

The report is written by the repository's own test run, so it is hostile input: it is parsed with
defusedxml with DTDs forbidden (no entity expansion, no external reference can be asked for); a report
that is refused or malformed reads as None and the caller falls back to the console.

pytest (`<testsuite name="pytest">`) gets its ids rebuilt exactly as pytest prints them
(`tests/test_x.py::TestClass::test_name[params]`): pytest writes `classname` as the node id's path made
dotted (`tests.test_x.TestClass`) and `name` as the last part with its parameters, and, in the xunit1
family, `file` as the test's file. Its collection errors are testcases with `<error message="collection
failure">`. Other writers (cargo-nextest, Maven Surefire...) get `classname` and `name` joined.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

from runner.checks.test_run import TestRun

_COLLECTION_FAILURE = "collection failure"
_E_LINE = re.compile(r"^E\s+(\S.*)$", re.M)


def parse(report: str, exit_code: int) -> TestRun | None:
    """The run the report describes, or None when the report is refused, malformed or not JUnit."""
    try:
        root: ET.Element = SafeElementTree.fromstring(report, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError):
        return None
    if root.tag not in ("testsuites", "testsuite"):
        return None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    flavour = "pytest" if any(s.get("name") == "pytest" for s in suites) else \
        "nextest" if root.get("name") == "nextest-run" else "junit"
    return _tally(root, flavour, exit_code)


def _tally(root: ET.Element, flavour: str, exit_code: int) -> TestRun:
    passed = failed = errors = skipped = 0
    failures: set[str] = set()
    collection_errors: list[str] = []
    first_error = ""
    seen: set[str] = set()
    for case in root.iter("testcase"):
        test_id = _case_id(case, flavour)
        failures_here = case.findall("failure")
        errors_here = case.findall("error")
        if flavour == "pytest" and any(e.get("message") == _COLLECTION_FAILURE for e in errors_here):
            collection_errors.append(test_id)
            failures.add(test_id)
            errors += 1
            first_error = first_error or _first_error(errors_here[0])
            continue
        seen.add(test_id)
        failed += len(failures_here)
        errors += len(errors_here)
        if failures_here or errors_here:
            failures.add(test_id)
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return TestRun("junit", exit_code, collected=len(seen), passed=passed, failed=failed, errors=errors,
                   skipped=skipped, failures=frozenset(failures), collection_errors=tuple(collection_errors),
                   first_error=first_error)


def _first_error(error: ET.Element) -> str:
    """The error pytest marks with `E` (ImportError: ...), else the message's last line."""
    text = error.text or ""
    marked = _E_LINE.search(text)
    if marked:
        return marked.group(1).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else error.get("message", "")


def _case_id(case: ET.Element, flavour: str) -> str:
    classname, name = case.get("classname", ""), case.get("name", "")
    if flavour == "pytest":
        return pytest_node_id(classname, name, case.get("file"))
    if flavour == "nextest":
        return f"{classname} {name}".strip()  # nextest prints "binary-id test::path"
    return f"{classname}.{name}" if classname else name


def _dotted(path: str) -> str:
    """pytest's classname for a file: the path with its separators as dots and without `.py`."""
    return re.sub(r"\.py$", "", path.replace("/", "."))


def pytest_node_id(classname: str, name: str, file: str | None) -> str:
    """The node id pytest prints, rebuilt from its JUnit attributes.

    With `file` (xunit1) the split between module and classes is known. Without it (xunit2), or when the
    test function is defined in another file than the module that collected it, the module is the longest
    leading run of `classname`'s parts before the first one that looks like a class (capitalised).
    """
    if file:
        module = _dotted(file)
        if not classname and name == module:  # a module that could not be collected
            return file
        if classname == module or classname.startswith(module + "."):
            classes = classname[len(module) + 1:]
            return "::".join([file, *(classes.split(".") if classes else []), name])
    if not classname:
        return name.replace(".", "/") + ".py" if file is None and "[" not in name else name
    parts = classname.split(".")
    split = next((i for i, part in enumerate(parts) if i and part[:1].isupper()), len(parts))
    path = "/".join(parts[:split]) + ".py"
    return "::".join([path, *parts[split:], name])
