"""The benchmark's own reading of a pytest run: its JUnit XML report, test by test.

This is the ground truth the engine's verdict is judged against, so it does not reuse the engine's
reading: it parses the report pytest wrote (`-o junit_family=xunit1`, so each test case carries
its file) and keeps every test with its status. SWE-bench's test lists name tests by pytest node id,
cut at the first space for parametrized ids that contain one; `statuses` matches those too.

The reports come from the benchmark's own runs of pinned upstream repositories, not from hostile
code, and ElementTree (expat) does not fetch external entities; so the standard library parser is
used here, where the App itself must refuse entity tricks.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from typing import Literal

Status = Literal["passed", "failed", "error", "skipped"]
_RANK: dict[Status, int] = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


@dataclass(frozen=True)
class Case:
    id: str
    """The pytest node id, rebuilt from the report (`file::Class::name[params]`)."""
    key: tuple[str, str]
    """(classname, name) exactly as pytest's report names the test."""
    status: Status
    collection_error: bool = False
    """A module that failed to import or collect: an error entry, not a test."""


@dataclass(frozen=True)
class Results:
    cases: tuple[Case, ...]

    @property
    def tests(self) -> tuple[Case, ...]:
        return tuple(c for c in self.cases if not c.collection_error)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(c.status for c in self.tests)
        return {"collected": len(self.tests), "passed": counted["passed"], "failed": counted["failed"],
                "errors": counted["error"], "skipped": counted["skipped"],
                "collection_errors": sum(c.collection_error for c in self.cases)}

    @property
    def ran(self) -> bool:
        """At least one test executed (passed or failed; skipped and errored-at-setup do not count)."""
        return any(c.status in ("passed", "failed") for c in self.tests)

    @property
    def failing(self) -> frozenset[str]:
        return frozenset(c.id for c in self.tests if c.status in ("failed", "error"))

    def statuses(self, node_id: str) -> list[Status]:
        """The status of each test `node_id` names: one, or several for an id SWE-bench cut at a space."""
        classname, name = mangle(node_id)
        truncated = "[" in name and not name.endswith("]")
        return [c.status for c in self.tests if c.key[0] == classname and (
            c.key[1] == name or (truncated and c.key[1].startswith(name) and c.key[1][len(name):][:1].isspace()))]


def mangle(node_id: str) -> tuple[str, str]:
    """pytest's own mapping of a node id to (classname, name) in its report."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def parse(xml_text: str) -> Results:
    """Every test case of a JUnit report; a test reported twice (call and teardown) keeps its worst status."""
    root = ElementTree.fromstring(xml_text)
    found: dict[tuple[str, str], Case] = {}
    for case in root.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        children = {child.tag for child in case}
        status: Status = ("error" if "error" in children else "failed" if "failure" in children
                          else "skipped" if "skipped" in children else "passed")
        collection = not classname and status == "error"
        key = (classname, name)
        new = Case(_node_id(classname, name, case.get("file")), key, status, collection)
        old = found.get(key)
        if old is None or _RANK[new.status] > _RANK[old.status]:
            found[key] = new
    return Results(tuple(found.values()))


def _node_id(classname: str, name: str, file: str | None) -> str:
    if not classname:  # a collection error names the module in `name`
        return (file or name.replace(".", "/") + ".py")
    if file and file.endswith(".py"):
        module = file[:-3].replace("/", ".")
        if classname == module:
            return f"{file}::{name}"
        if classname.startswith(module + "."):
            return "::".join([file, *classname[len(module) + 1:].split("."), name])
    parts = classname.split(".")
    first_class = next((i for i, part in enumerate(parts) if part[:1].isupper()), len(parts))
    return "::".join(["/".join(parts[:first_class]) + ".py", *parts[first_class:], name])
