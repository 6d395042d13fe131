"""What real models write, and exactly what it does to the files (or exactly why it is refused).

Each case: the files before, the Junior's reply, the files after (None: absent), and every error message the
parser and `apply_edits` produce, in order. Files a case does not list under `after` must be unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runner.edit.apply import apply_edits
from runner.edit.parse import parse, parse_whole

F = "```"

CALC = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
CLASS = ("class Cart:\n"
         "    def __init__(self):\n"
         "        self.items = []\n"
         "\n"
         "    def total(self):\n"
         "        return sum(self.items)\n")
CLASS_FIXED = CLASS.replace("return sum(self.items)", "return round(sum(self.items), 2)")


@dataclass(frozen=True)
class Case:
    id: str
    before: dict[str, str]
    reply: str
    after: dict[str, str | None] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    whole: bool = False
    """Parse with `parse_whole` (the model was asked for whole files)."""
    known: bool = False
    """Pass the files of `before` as the tracked files, so unknown paths are resolved or reported."""


def sr(path_line: str, search: str, replace: str, fence: str = F + "python") -> str:
    """A block as most models write it: the path, a fence, the markers."""
    close = fence[:len(fence) - len(fence.lstrip("`~"))] or F
    return f"{path_line}\n{fence}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n{close}\n"


def fix_add(path_line: str, fence: str = F + "python") -> Case:
    return Case(f"filename {path_line!r} {fence!r}", {"pkg/calc.py": CALC},
                sr(path_line, "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n", fence),
                {"pkg/calc.py": CALC.replace("a - b", "a + b", 1)})


FILENAMES = [
    fix_add("pkg/calc.py"),
    fix_add("`pkg/calc.py`"),
    fix_add("**pkg/calc.py**"),
    fix_add("**`pkg/calc.py`**"),
    fix_add("# pkg/calc.py"),
    fix_add("### File: `pkg/calc.py`"),
    fix_add("File: pkg/calc.py"),
    fix_add("Path: `pkg/calc.py`"),
    fix_add("pkg/calc.py:"),
    fix_add("- `pkg/calc.py`"),
    fix_add("./pkg/calc.py"),
    fix_add("pkg\\calc.py"),
    fix_add("Now fix the addition in `pkg/calc.py`:"),
    fix_add("", fence=F + "python pkg/calc.py"),
    fix_add("", fence=F + "py:pkg/calc.py"),
    fix_add("", fence=F + 'python title="pkg/calc.py"'),
    Case("filename as a comment inside the fence", {"pkg/calc.py": CALC},
         f"{F}python\n# pkg/calc.py\n<<<<<<< SEARCH\ndef add(a, b):\n    return a - b\n=======\n"
         f"def add(a, b):\n    return a + b\n>>>>>>> REPLACE\n{F}\n",
         {"pkg/calc.py": CALC.replace("a - b", "a + b", 1)}),
    Case("js filename in a // comment", {"src/app.js": "const x = 1;\n"},
         sr("// src/app.js", "const x = 1;\n", "const x = 2;\n", F + "javascript"), {"src/app.js": "const x = 2;\n"}),
    Case("filename two lines up, a blank line between", {"pkg/calc.py": CALC},
         "**pkg/calc.py**\n\n" + sr("", "def sub(a, b):\n", "def subtract(a, b):\n")[1:],
         {"pkg/calc.py": CALC.replace("def sub(", "def subtract(")}),
    Case("unique basename matched to the tracked file", {"pkg/calc.py": CALC, "README.md": "x\n"},
         sr("calc.py", "def sub(a, b):\n", "def subtract(a, b):\n"),
         {"pkg/calc.py": CALC.replace("def sub(", "def subtract(")}, known=True),
    Case("repository name prefixed to the path", {"pkg/calc.py": CALC},
         sr("myrepo/pkg/calc.py", "def sub(a, b):\n", "def subtract(a, b):\n"),
         {"pkg/calc.py": CALC.replace("def sub(", "def subtract(")}, known=True),
    Case("basename shared by two tracked files is reported", {"a/util.py": "x = 1\n", "b/util.py": "x = 1\n"},
         sr("util.py", "x = 1\n", "x = 2\n"),
         errors=["util.py: no such file in the repository, and it could be any of `a/util.py`, `b/util.py`: write "
                 "the full path from the repository root"], known=True),
    Case("a path naming no tracked file is reported, not guessed", {"pkg/calc.py": CALC},
         sr("pkg/calculator.py", "def sub(a, b):\n", "def subtract(a, b):\n"),
         errors=["pkg/calculator.py: no such file in the repository; to create it, use an empty SEARCH section"],
         known=True),
]

FENCES_AND_MARKERS = [
    fix_add("pkg/calc.py", fence="````python"),
    fix_add("pkg/calc.py", fence="~~~python"),
    fix_add("pkg/calc.py", fence=F + "diff"),
    Case("no fence at all", {"m.py": "a = 1\n"},
         "m.py\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE\n", {"m.py": "a = 2\n"}),
    Case("marker lengths 5 and 9, lower case, no space", {"m.py": "a = 1\n"},
         "m.py\n```\n<<<<<search\na = 1\n=========\na = 2\n>>>>>>>>>replace\n```\n", {"m.py": "a = 2\n"}),
    Case("aider's old ORIGINAL/UPDATED markers", {"m.py": "a = 1\n"},
         "m.py\n```\n<<<<<<< ORIGINAL\na = 1\n=======\na = 2\n>>>>>>> UPDATED\n```", {"m.py": "a = 2\n"}),
    Case("reply without a final newline", {"m.py": "a = 1\n"},
         "m.py\n```\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE", {"m.py": "a = 2\n"}),
    Case("two blocks in one fence, the second inherits the file", {"pkg/calc.py": CALC},
         f"pkg/calc.py\n{F}python\n<<<<<<< SEARCH\ndef add(a, b):\n    return a - b\n=======\n"
         "def add(a, b):\n    return a + b\n>>>>>>> REPLACE\n<<<<<<< SEARCH\ndef sub(a, b):\n=======\n"
         f"def subtract(a, b):\n>>>>>>> REPLACE\n{F}\n",
         {"pkg/calc.py": CALC.replace("a - b", "a + b", 1).replace("def sub(", "def subtract(")}),
    Case("prose between blocks, second block in its own fence without a filename", {"pkg/calc.py": CALC},
         "I'll fix `add` first.\n\n"
         + sr("pkg/calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n")
         + "\nThen rename the other one, since it is confusing:\n\n"
         + sr("", "def sub(a, b):\n", "def subtract(a, b):\n")[1:],
         {"pkg/calc.py": CALC.replace("a - b", "a + b", 1).replace("def sub(", "def subtract(")}),
    Case("blocks for two files, and an explanatory snippet that is not an edit", {"a.py": "A = 1\n", "b.py": "B = 1\n"},
         sr("a.py", "A = 1\n", "A = 2\n") + "\nYou can check it with:\n\n```bash\npytest -q\n```\n\n"
         + sr("b.py", "B = 1\n", "B = 2\n"), {"a.py": "A = 2\n", "b.py": "B = 2\n"}),
    Case("unclosed last block is reported, the first still applies", {"a.py": "A = 1\n", "b.py": "B = 1\n"},
         sr("a.py", "A = 1\n", "A = 2\n") + "b.py\n```python\n<<<<<<< SEARCH\nB = 1\n=======\nB = 2\n",
         {"a.py": "A = 2\n"},
         ["the block at line 11 of your reply (b.py) has no >>>>>>> REPLACE line: it was not applied; send it "
          "again whole"]),
    Case("block without a divider is reported", {"a.py": "A = 1\n"},
         "a.py\n```\n<<<<<<< SEARCH\nA = 1\n>>>>>>> REPLACE\n```\n",
         errors=["the block at line 3 of your reply (a.py) has no ======= line: it was not applied; send it again "
                 "whole"]),
    Case("block naming no file is reported", {"a.py": "A = 1\n"},
         "Here is the fix:\n```python\n<<<<<<< SEARCH\nA = 1\n=======\nA = 2\n>>>>>>> REPLACE\n```\n",
         errors=["the block at line 3 of your reply names no file: put the path on the line before the opening "
                 "fence"]),
    Case("a whole file without markers is not an edit in SEARCH/REPLACE mode", {"a.py": "A = 1\n"},
         "a.py\n```python\nA = 2\n```\n"),
]

LADDER = [
    Case("trailing whitespace in the file", {"m.py": "def f():   \n    return 1\t\n"},
         sr("m.py", "def f():\n    return 1\n", "def f():\n    return 2\n"), {"m.py": "def f():\n    return 2\n"}),
    Case("CRLF file stays CRLF", {"m.py": "a = 1\r\nb = 2\r\nc = 3\r\n"},
         sr("m.py", "b = 2\n", "b = 20\nb2 = 21\n"), {"m.py": "a = 1\r\nb = 20\r\nb2 = 21\r\nc = 3\r\n"}),
    Case("CRLF file and trailing spaces in the SEARCH", {"m.py": "a = 1\r\nb = 2\r\n"},
         sr("m.py", "a = 1  \n", "a = 10\n"), {"m.py": "a = 10\r\nb = 2\r\n"}),
    Case("indentation dropped: method quoted at column 0", {"cart.py": CLASS},
         sr("cart.py", "def total(self):\n    return sum(self.items)\n",
            "def total(self):\n    return round(sum(self.items), 2)\n"), {"cart.py": CLASS_FIXED}),
    Case("indentation added: body quoted 4 columns too deep", {"cart.py": CLASS},
         sr("cart.py", "            return sum(self.items)\n", "            return round(sum(self.items), 2)\n"),
         {"cart.py": CLASS_FIXED}),
    Case("tabs file, tabs copied exactly", {"m.go": "func f() {\n\tif x {\n\t\treturn 1\n\t}\n}\n"},
         sr("m.go", "\t\treturn 1\n", "\t\treturn 2\n", F + "go"),
         {"m.go": "func f() {\n\tif x {\n\t\treturn 2\n\t}\n}\n"}),
    Case("tabs file, model wrote 4 spaces per tab", {"m.go": "func f() {\n\tif x {\n\t\treturn 1\n\t}\n}\n"},
         sr("m.go", "    if x {\n        return 1\n", "    if x {\n        log(x)\n        return 1\n", F + "go"),
         {"m.go": "func f() {\n\tif x {\n\t\tlog(x)\n\t\treturn 1\n\t}\n}\n"}),
    Case("relative indentation differs: refused with the real lines", {"cart.py": CLASS},
         sr("cart.py", "def total(self):\nreturn sum(self.items)\n", "def total(self):\nreturn 0\n"),
         errors=["block 1 of 1 (cart.py) failed: the SEARCH lines exist at lines 5-6 but with different relative "
                 "indentation; copy them exactly:\n```\n    def total(self):\n        return sum(self.items)\n```\n"
                 "Its SEARCH section was:\n```\ndef total(self):\nreturn sum(self.items)\n```"]),
    Case("spaces file, model wrote a tab", {"m.py": "if x:\n    y = 1\n"},
         sr("m.py", "if x:\n\ty = 1\n", "if x:\n\ty = 2\n"), {"m.py": "if x:\n    y = 2\n"}),
    Case("CRLF file and indentation dropped", {"m.py": "class A:\r\n    def f(self):\r\n        return 1\r\n"},
         sr("m.py", "def f(self):\n    return 1\n", "def f(self):\n    return 2\n"),
         {"m.py": "class A:\r\n    def f(self):\r\n        return 2\r\n"}),
    Case("spurious blank lines around the SEARCH", {"m.py": "a = 1\nb = 2\n"},
         sr("m.py", "\na = 1\n\n", "\na = 10\n\n"), {"m.py": "a = 10\nb = 2\n"}),
    Case("elided middle", {"m.py": "def f(x):\n    a = x\n    b = a\n    c = b\n    return c\n"},
         sr("m.py", "def f(x):\n...\n    return c\n", "def f(x: int) -> int:\n...\n    return c + 1\n"),
         {"m.py": "def f(x: int) -> int:\n    a = x\n    b = a\n    c = b\n    return c + 1\n"}),
    Case("elided middle as a comment, indentation dropped", {"m.py": "class A:\n    def f(self):\n        a = 1\n"
                                                                     "        b = 2\n        return a + b\n"},
         sr("m.py", "def f(self):\n    # ... existing code ...\n    return a + b\n",
            "def f(self):\n    # ... existing code ...\n    return a * b\n"),
         {"m.py": "class A:\n    def f(self):\n        a = 1\n        b = 2\n        return a * b\n"}),
    Case("two elisions", {"m.py": "a = 1\nx = 0\nb = 2\ny = 0\nc = 3\n"},
         sr("m.py", "a = 1\n...\nb = 2\n...\nc = 3\n", "a = 10\n...\nb = 20\n...\nc = 30\n"),
         {"m.py": "a = 10\nx = 0\nb = 20\ny = 0\nc = 30\n"}),
    Case("elision missing from the REPLACE is refused", {"m.py": "a = 1\nx = 0\nb = 2\n"},
         sr("m.py", "a = 1\n...\nb = 2\n", "a = 10\nb = 20\n"),
         errors=["block 1 of 1 (m.py) failed: the SEARCH has 1 `...` line(s) but the REPLACE has 0: each `...` "
                 "stands for unchanged lines and must appear in both, at matching places\nIts SEARCH section was:\n"
                 "```\na = 1\n...\nb = 2\n```"]),
    Case("elision at the start of the SEARCH is refused", {"m.py": "a = 1\nb = 2\n"},
         sr("m.py", "...\nb = 2\n", "...\nb = 20\n"),
         errors=["block 1 of 1 (m.py) failed: a `...` line must stand between quoted lines: start and end the "
                 "SEARCH with real lines from the file\nIts SEARCH section was:\n```\n...\nb = 2\n```"]),
    Case("elided SEARCH matching two ways is refused", {"m.py": "a = 1\nb = 2\na = 1\nb = 2\n"},
         sr("m.py", "a = 1\n...\nb = 2\n", "a = 1\n...\nb = 3\n"),
         errors=["block 1 of 1 (m.py) failed: the SEARCH text with its `...` lines matches 3 ways, at lines 1-2, "
                 "1-4, 3-4; quote more lines around each `...` to make it unique\nIts SEARCH section was:\n"
                 "```\na = 1\n...\nb = 2\n```"]),
    Case("a real `...` line in a stub matches exactly", {"p.pyi": "def f() -> int:\n    ...\n"},
         sr("p.pyi", "def f() -> int:\n    ...\n", "def f() -> str:\n    ...\n"),
         {"p.pyi": "def f() -> str:\n    ...\n"}),
    Case("ambiguous exact match is refused", {"m.py": "x = 1\ny = 2\nx = 1\n"},
         sr("m.py", "x = 1\n", "x = 3\n"),
         errors=["block 1 of 1 (m.py) failed: the SEARCH text matches 2 places, at lines 1 and 3; include more "
                 "surrounding lines to make it unique\nIts SEARCH section was:\n```\nx = 1\n```"]),
    Case("none exact, two ignoring trailing whitespace: refused", {"m.py": "x = 1 \ny = 2\nx = 1\t\n"},
         sr("m.py", "x = 1\n", "x = 3\n"),
         errors=["block 1 of 1 (m.py) failed: the SEARCH text matches 2 places (ignoring trailing whitespace), at "
                 "lines 1 and 3; include more surrounding lines to make it unique\nIts SEARCH section was:\n"
                 "```\nx = 1\n```"]),
    Case("none exact, two with an indentation offset: refused",
         {"m.py": "if a:\n    go()\nif b:\n        go()\n"}, sr("m.py", "  go()\n", "  stop()\n"),
         errors=["block 1 of 1 (m.py) failed: the SEARCH text matches 2 places (with a different indentation), at "
                 "lines 2 and 4; include more surrounding lines to make it unique\nIts SEARCH section was:\n"
                 "```\n  go()\n```"]),
    Case("one exact match wins over indented look-alikes", {"m.py": "go()\nif a:\n    go()\n"},
         sr("m.py", "go()\n", "stop()\n"), {"m.py": "stop()\nif a:\n    go()\n"}),
    Case("not found: the closest lines are shown", {"m.py": "def compute(value):\n    return value * 2\n"},
         sr("m.py", "def compute(val):\n    return val * 2\n", "pass\n"),
         errors=["block 1 of 1 (m.py) failed: the SEARCH text was not found; did you mean these lines (1-2)?\n"
                 "```\ndef compute(value):\n    return value * 2\n```\nIts SEARCH section was:\n```\n"
                 "def compute(val):\n    return val * 2\n```"]),
    Case("not found, nothing close", {"m.py": "a = 1\n"}, sr("m.py", "import sys\n", "import os\n"),
         errors=["block 1 of 1 (m.py) failed: the SEARCH text was not found in the file, nor anything close to it; "
                 "quote lines that exist in the current file\nIts SEARCH section was:\n```\nimport sys\n```"]),
    Case("already applied: the REPLACE is there, the SEARCH is not", {"m.py": "a = 2\n"},
         sr("m.py", "a = 1\n", "a = 2\n"),
         errors=["block 1 of 1 (m.py) failed: the SEARCH text was not found, but the REPLACE text is already in the "
                 "file at line 1: this edit seems applied already; do not send it again\nIts SEARCH section was:\n"
                 "```\na = 1\n```"]),
    Case("already applied: a block that adds lines after its SEARCH, sent again", {"m.py": "import os\nimport sys\n"},
         sr("m.py", "import os\n", "import os\nimport sys\n"),
         errors=["block 1 of 1 (m.py) failed: the REPLACE text is already in the file around the SEARCH text: this "
                 "edit was applied already; do not send it again\nIts SEARCH section was:\n```\nimport os\n```"]),
    Case("unicode text", {"i18n.py": "GREETING = \"héllo wörld ✓\"\nNAME = \"名前\"\n"},
         sr("i18n.py", "NAME = \"名前\"\n", "NAME = \"名前 😀\"\n"),
         {"i18n.py": "GREETING = \"héllo wörld ✓\"\nNAME = \"名前 😀\"\n"}),
    Case("byte-order mark kept", {"m.py": "\ufeffa = 1\nb = 2\n"}, sr("m.py", "a = 1\n", "a = 10\n"),
         {"m.py": "\ufeffa = 10\nb = 2\n"}),
    Case("no final newline, last line edited", {"m.py": "a = 1\nb = 2"}, sr("m.py", "b = 2\n", "b = 3\n"),
         {"m.py": "a = 1\nb = 3"}),
    Case("no final newline, middle line edited", {"m.py": "a = 1\nb = 2"}, sr("m.py", "a = 1\n", "a = 0\n"),
         {"m.py": "a = 0\nb = 2"}),
    Case("a later block edits what an earlier one wrote", {"m.py": "a = 1\n"},
         sr("m.py", "a = 1\n", "a = 2\n") + sr("m.py", "a = 2\n", "a = 3\n"), {"m.py": "a = 3\n"}),
    Case("partial edit: blocks 1 and 3 apply, 2 is refused", {"m.py": "a = 1\nb = 2\nc = 3\n"},
         sr("m.py", "a = 1\n", "a = 10\n") + sr("m.py", "b = 5\n", "b = 20\n") + sr("m.py", "c = 3\n", "c = 30\n"),
         {"m.py": "a = 10\nb = 2\nc = 30\n"},
         ["block 2 of 3 (m.py) failed: the SEARCH text was not found; did you mean these lines (2-2)?\n```\n"
          "b = 2\n```\nIts SEARCH section was:\n```\nb = 5\n```"]),
    Case("a markdown file whose lines start with backticks", {"doc.md": "Run:\n\n```\nmake\n```\n"},
         sr("doc.md", "```\nmake\n```\n", "```\nmake test\n```\n", "````markdown"),
         {"doc.md": "Run:\n\n```\nmake test\n```\n"}),
]

FILES = [
    Case("new file with an empty SEARCH", {}, sr("pkg/new/util.py", "", "def helper():\n    return 1\n"),
         {"pkg/new/util.py": "def helper():\n    return 1\n"}),
    Case("empty SEARCH on an existing file is refused", {"m.py": "a = 1\n"}, sr("m.py", "", "b = 2\n"),
         errors=["block 1 of 1 (m.py) failed: the SEARCH section is empty but the file exists and is not empty: "
                 "quote the lines to change (an empty SEARCH only creates a file)"]),
    Case("edit of a file that does not exist", {}, sr("nope.py", "a = 1\n", "a = 2\n"),
         errors=["block 1 of 1 (nope.py) failed: the file does not exist; to create a file, use an empty SEARCH "
                 "section"]),
    Case("delete a file", {"old.py": "x = 1\n", "keep.py": "y = 1\n"},
         "Remove the obsolete module:\n\nold.py\n```\n<<<<<<< DELETE FILE\n```\n", {"old.py": None}),
    Case("delete with a closing marker, then recreate", {"old.py": "x = 1\n"},
         "old.py\n<<<<<<< DELETE\n>>>>>>> DELETE\n\n" + sr("old.py", "", "x = 2\n"), {"old.py": "x = 2\n"}),
    Case("delete a file that does not exist", {}, "gone.py\n<<<<<<< DELETE FILE\n",
         errors=["block 1 of 1 (gone.py) failed: there is no such file to delete"]),
    Case("delete without a filename", {"a.py": "x\n"}, "Delete it:\n```\n<<<<<<< DELETE FILE\n```\n",
         errors=["the block at line 3 of your reply deletes a file but names none: put the path on the line before "
                 "it"]),
    Case("edit after deleting in the same reply", {"old.py": "x = 1\n"},
         "old.py\n<<<<<<< DELETE FILE\n" + sr("old.py", "x = 1\n", "x = 2\n"), {"old.py": None},
         ["block 2 of 2 (old.py) failed: the file was deleted by an earlier block; to create a file, use an empty "
          "SEARCH section"]),
    Case("whole file: new file", {}, "pkg/new.py\n```python\nVALUE = 1\n```\n", {"pkg/new.py": "VALUE = 1\n"},
         whole=True),
    Case("whole file: small CRLF file replaced, stays CRLF", {"cfg.ini": "[a]\r\nx = 1\r\n"},
         "`cfg.ini`\n```ini\n[a]\nx = 2\ny = 3\n```\n", {"cfg.ini": "[a]\r\nx = 2\r\ny = 3\r\n"}, whole=True),
    Case("whole file: path in the info string, and a SEARCH/REPLACE block in the same reply",
         {"a.py": "A = 1\n", "b.py": "B = 1\n"},
         "```python b.py\nB = 2\n```\n\n" + sr("a.py", "A = 1\n", "A = 2\n"), {"a.py": "A = 2\n", "b.py": "B = 2\n"},
         whole=True),
    Case("whole file with a lazy placeholder is refused", {"m.py": "a = 1\nb = 2\n"},
         "m.py\n```python\na = 10\n# ... rest of the file unchanged ...\n```\n",
         errors=["block 1 of 1 (m.py) failed: the whole-file content contains the placeholder `# ... rest of the file "
                 "unchanged ...`: send the complete file, or SEARCH/REPLACE blocks"], whole=True),
    Case("whole file cut off (unclosed fence) is refused", {"m.py": "a = 1\n"},
         "m.py\n```python\na = 2\n",
         errors=["the block at line 2 of your reply (m.py) is not closed: the reply seems cut off; send the whole "
                 "block again"], whole=True),
    Case("whole file: prose code blocks without a filename are ignored", {"m.py": "a = 1\n"},
         "Run this to check:\n```bash\npytest\n```\nm.py\n```python\na = 2\n```\n", {"m.py": "a = 2\n"}, whole=True),
]

PY_SYMBOLS = ("import functools\n\n\n"
              "class Cart:\n"
              "    def __init__(self):\n"
              "        self.items = []\n"
              "\n"
              "    @functools.cache\n"
              "    def total(self):\n"
              "        return sum(self.items)\n"
              "\n"
              "    @property\n"
              "    def size(self):\n"
              "        return len(self.items)\n"
              "\n"
              "    @size.setter\n"
              "    def size(self, value):\n"
              "        raise AttributeError\n"
              "\n\n"
              "def helper(x):\n"
              "    return x\n")
NEW_TOTAL = "def total(self):\n    return round(sum(self.items), 2)\n"

SYMBOLS = [
    Case("method replaced, decorator kept, re-indented from column 0", {"cart.py": PY_SYMBOLS},
         f"cart.py::Cart.total\n{F}python\n{NEW_TOTAL}{F}\n",
         {"cart.py": PY_SYMBOLS.replace("return sum(self.items)", "return round(sum(self.items), 2)")}),
    Case("method sent with its own decorator replaces the old one", {"cart.py": PY_SYMBOLS},
         f"`cart.py::Cart.total`\n{F}python\n    @functools.lru_cache\n    def total(self):\n"
         f"        return round(sum(self.items), 2)\n{F}\n",
         {"cart.py": PY_SYMBOLS.replace("@functools.cache", "@functools.lru_cache")
          .replace("return sum(self.items)", "return round(sum(self.items), 2)")}),
    Case("method whose body was pasted from the file under an unindented def", {"cart.py": PY_SYMBOLS},
         f"cart.py::Cart.total\n{F}python\ndef total(self):\n        return 0\n{F}\n",
         {"cart.py": PY_SYMBOLS.replace("return sum(self.items)", "return 0")}),
    Case("top-level function in the fence's info string", {"cart.py": PY_SYMBOLS},
         f"{F}python cart.py::helper\ndef helper(x, y=0):\n    return x + y\n{F}\n",
         {"cart.py": PY_SYMBOLS.replace("def helper(x):\n    return x\n", "def helper(x, y=0):\n    return x + y\n")}),
    Case("whole class", {"m.py": "import os\n\nclass A:\n    x = 1\n\n\nY = 2\n"},
         f"m.py::A\n{F}python\nclass A:\n    x = 2\n    y = 3\n{F}\n",
         {"m.py": "import os\n\nclass A:\n    x = 2\n    y = 3\n\n\nY = 2\n"}),
    Case("unknown symbol: the close names are suggested", {"cart.py": PY_SYMBOLS},
         f"cart.py::Cart.totals\n{F}python\n{NEW_TOTAL}{F}\n",
         errors=["block 1 of 1 (cart.py::Cart.totals) failed: `Cart.totals` is not defined in cart.py; did you mean "
                 "`Cart.total`, `Cart.size`? (to add a new definition, use a SEARCH/REPLACE block)"]),
    Case("a property's getter and setter share a name: refused", {"cart.py": PY_SYMBOLS},
         f"cart.py::Cart.size\n{F}python\ndef size(self):\n    return 0\n{F}\n",
         errors=["block 1 of 1 (cart.py::Cart.size) failed: `Cart.size` is defined 2 times in cart.py (lines 13 and "
                 "17); use SEARCH/REPLACE blocks to change one of them"]),
    Case("CRLF python file", {"m.py": "def f():\r\n    return 1\r\n\r\ndef g():\r\n    return 2\r\n"},
         f"m.py::g\n{F}python\ndef g():\n    return 3\n{F}\n",
         {"m.py": "def f():\r\n    return 1\r\n\r\ndef g():\r\n    return 3\r\n"}),
    Case("javascript class method", {"src/a.js": "class A {\n  foo() {\n    return 1;\n  }\n}\n"},
         f"src/a.js::A.foo\n{F}js\nfoo() {{\n  return 2;\n}}\n{F}\n",
         {"src/a.js": "class A {\n  foo() {\n    return 2;\n  }\n}\n"}),
    Case("typescript exported function keeps its export", {"src/b.ts": "export function f(x: number): number {\n"
                                                                     "  return x;\n}\n"},
         f"src/b.ts::f\n{F}ts\nfunction f(x: number): number {{\n  return x * 2;\n}}\n{F}\n",
         {"src/b.ts": "export function f(x: number): number {\n  return x * 2;\n}\n"}),
    Case("typescript arrow function constant", {"src/c.ts": "const double = (x: number) => x * 2;\nconst y = 1;\n"},
         f"src/c.ts::double\n{F}ts\nconst double = (x: number): number => x + x;\n{F}\n",
         {"src/c.ts": "const double = (x: number): number => x + x;\nconst y = 1;\n"}),
    Case("nested function", {"m.py": "def outer():\n    def inner():\n        return 1\n    return inner\n"},
         f"m.py::outer.inner\n{F}python\ndef inner():\n    return 2\n{F}\n",
         {"m.py": "def outer():\n    def inner():\n        return 2\n    return inner\n"}),
    Case("typescript method keeps its decorator", {"c.ts": "class C {\n  @Input()\n  name(): string {\n"
                                                           "    return 'a';\n  }\n}\n"},
         f"c.ts::C.name\n{F}ts\nname(): string {{\n  return 'b';\n}}\n{F}\n",
         {"c.ts": "class C {\n  @Input()\n  name(): string {\n    return 'b';\n  }\n}\n"}),
    Case("unsupported language is refused", {"main.go": "package main\n"},
         f"main.go::main\n{F}go\nfunc main() {{}}\n{F}\n",
         errors=["block 1 of 1 (main.go::main) failed: whole-symbol edits work on Python, JavaScript and TypeScript "
                 "files; use SEARCH/REPLACE blocks for main.go"]),
]

CONFINED = [
    Case(f"confinement {path}", {"a.py": "x\n"}, sr(path, "", "pwned\n"),
         errors=[f"block 1 of 1 ({shown}) failed: refused: {why}"])
    for path, shown, why in [
        ("../outside.py", "../outside.py", "paths may not contain `..`"),
        ("/etc/passwd", "/etc/passwd", "absolute paths are not allowed; use a path relative to the repository root"),
        (".git/config", ".git/config", "files under .git/ are never edited"),
        ("./.git/config", ".git/config", "files under .git/ are never edited"),
        ("a/../.git/config", "a/../.git/config", "paths may not contain `..`"),
        (".GIT/config", ".GIT/config", "files under .git/ are never edited"),
        ("sub/.git/hooks/pre-commit", "sub/.git/hooks/pre-commit", "files under .git/ are never edited"),
        ("sub\\..\\..\\x.py", "sub/../../x.py", "paths may not contain `..`"),
        (".github/workflows/ci.yml", ".github/workflows/ci.yml", "the App has no permission to change workflows"),
        (".github/Workflows/ci.yml", ".github/Workflows/ci.yml", "the App has no permission to change workflows"),
        ("vendor/lib.py", "vendor/lib.py", "the repository denies `vendor/**` in .github/ai-fix.yml"),
    ]
]

CASES = FILENAMES + FENCES_AND_MARKERS + LADDER + FILES + SYMBOLS + CONFINED


def _run(case: Case, root: Path) -> list[str]:
    for rel, text in case.before.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text.encode())
    known = list(case.before) if case.known else None
    parsed = parse_whole(case.reply, known) if case.whole else parse(case.reply, known)
    applied = apply_edits(root, parsed.blocks, deny=["vendor/**"])
    return parsed.errors + applied.errors


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_edit_case(case: Case, tmp_path: Path) -> None:
    errors = _run(case, tmp_path)
    assert errors == case.errors
    expected = {**case.before, **case.after}
    for rel, text in expected.items():
        path = tmp_path / rel
        assert (path.read_bytes().decode() if path.exists() else None) == text, rel
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {rel for rel, text in expected.items() if text is not None}


def test_there_are_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)
