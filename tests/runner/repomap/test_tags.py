"""Definitions, scopes and references from our own queries, for each supported language."""

from __future__ import annotations

import pytest

from runner.repomap.tags import FileTags, extract, fragments, split_identifier

SAMPLES = {
    "a.py": (b"class Box:\n    def open(self):\n        return helper(1)\n\ndef helper(x):\n    return x\n",
             [("Box", "class", -1), ("open", "method", 0), ("helper", "function", -1)], "helper"),
    "a.js": (b"class Box { open() { return helper(1) } }\nfunction helper(x) { return x }\n",
             [("Box", "class", -1), ("open", "method", 0), ("helper", "function", -1)], "helper"),
    "a.ts": (b"interface Shape { area(): number }\nclass Box implements Shape { area() { return helper() } }\n"
             b"function helper(): number { return 1 }\n",
             [("Shape", "interface", -1), ("area", "method", 0), ("Box", "class", -1), ("area", "method", 2),
              ("helper", "function", -1)], "helper"),
    "a.tsx": (b"function App() { return <div>{helper()}</div> }\nfunction helper() { return 1 }\n",
              [("App", "function", -1), ("helper", "function", -1)], "helper"),
    "a.go": (b"package m\ntype Box struct{}\nfunc (b *Box) Open() int { return helper() }\n"
             b"func helper() int { return 1 }\n",
             [("Box", "type", -1), ("Open", "method", -1), ("helper", "function", -1)], "helper"),
    "a.rs": (b"struct Box;\nimpl Box { fn open(&self) -> i32 { helper() } }\nfn helper() -> i32 { 1 }\n",
             [("Box", "struct", -1), ("Box", "impl", -1), ("open", "method", 1), ("helper", "function", -1)],
             "helper"),
    "A.java": (b"class Box { int open() { return helper(); } static int helper() { return 1; } }\n",
               [("Box", "class", -1), ("open", "method", 0), ("helper", "method", 0)], "helper"),
    "a.c": (b"struct box { int n; };\nint helper(int x) { return x; }\nint open_box(void) { return helper(1); }\n",
            [("box", "struct", -1), ("helper", "function", -1), ("open_box", "function", -1)], "helper"),
    "a.cpp": (b"namespace ns { class Box { public: int open(); }; int Box::open() { return helper(); } }\n",
              [("ns", "module", -1), ("Box", "class", 0), ("open", "method", 1), ("open", "method", 0)], "helper"),
    "a.rb": (b"module M\n  class Box\n    def open\n      helper(1)\n    end\n  end\nend\n",
             [("M", "module", -1), ("Box", "class", 0), ("open", "method", 1)], "helper"),
}


@pytest.mark.parametrize("path", sorted(SAMPLES))
def test_definitions_scopes_and_references(path: str) -> None:
    source, defs, ref = SAMPLES[path]
    tags = extract(path, source)
    assert tags.parsed
    assert [(d.name, d.kind, d.parent) for d in tags.defs] == defs
    assert ref in tags.refs


def test_signatures_keep_the_source_line_and_join_wrapped_python_signatures() -> None:
    tags = extract("m.py", b"def long(\n    a,\n    b,\n):\n    pass\n")
    assert tags.defs[0].sig == "def long( a, b, ):"


def test_words_split_identifiers_and_literals_keep_their_constant_parts() -> None:
    tags = extract("m.py", b'raise ValueError(f"cannot align {dim!r} along axis")\nparser.add("--collect-only")\n')
    assert tags.terms["valueerror"] == 1 and tags.terms["value"] == 1 and tags.terms["error"] == 1
    assert "cannot align" in tags.literals and "--collect-only" in tags.literals
    assert split_identifier("HTTPErrorCode") == ("http", "error", "code")
    assert fragments("%s is not a valid option for %s") == ["is not a valid option for"]


def test_unknown_languages_get_words_only_and_records_round_trip() -> None:
    tags = extract("notes.txt", b"Timeout handling\n")
    assert not tags.parsed and tags.defs == [] and tags.terms["timeout"] == 1
    py = extract("a.py", SAMPLES["a.py"][0])
    assert FileTags.load(py.dump()) == py
