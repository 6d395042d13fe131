"""Regenerate the captured test-runner output in this folder from real runs of small throwaway projects.

    /work/main/.venv/bin/python tests/data/test_output/make.py [--no-docker] [--only NAME]

Each project below is written into a fresh directory under /tmp, then the real runner runs in it:
pytest of this virtualenv (`pytest9-*`), pytest of the sandbox image (`pytest7-*`, through
`docker run ai-fix-sandbox:latest`), `python -m unittest` (`unittest-*`) and `cargo test` (`cargo-*`).
pytest is run the way the sandbox runs it: `PYTEST_ADDOPTS` asks for a JUnit report (xunit1, so each
testcase carries `file`) in a results directory outside the project. Each run leaves `NAME.out` (stdout
and stderr interleaved, whole: tests cut it the way the sandbox does), `NAME.xml` (the report, when the
runner wrote one) and an entry in `cases.json` (command, exit code, runner version). See README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = Path("/tmp/ai-fix-test-output")
IMAGE = "ai-fix-sandbox:latest"
PYTEST = "-m pytest -p no:cacheprovider"
XUNIT1 = "-o junit_family=xunit1"

CALC_BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
CALC_FIXED = CALC_BUGGY.replace("a - b", "a + b")
CALC_TESTS = ("from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
              "def test_mul():\n    assert mul(2, 3) == 6\n")

# A passing test that runs a whole pytest session of its own (as pytest's own suite does with pytester, and
# plugins do with a subprocess), with -rA: its captured output, shown by the outer -rA, holds the inner
# session's "short test summary info" with FAILED lines, one naming a test that exists in the outer project.
NESTED_TESTS = '''import subprocess
import sys

INNER = "def test_mul():\\n    assert 2 * 3 == 7\\n\\n\\ndef test_inner_ok():\\n    assert True\\n"


def test_runs_a_nested_session(tmp_path):
    (tmp_path / "test_calc.py").write_text(INNER)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "test_calc.py"],
                          capture_output=True, text=True, cwd=tmp_path)
    print(proc.stdout)
    assert proc.returncode == 1 and "1 failed, 1 passed" in proc.stdout


def test_runs_pytester(pytester):
    pytester.makepyfile(test_inner="def test_add():\\n    assert 0\\n")
    result = pytester.runpytest("-rA")
    result.assert_outcomes(failed=1)
'''

TEXT_OK = '''def shout(word):
    return word.upper() + "!"


def locate(spec):
    if "(" not in spec or spec.endswith("()"):
        return ""
    return " ".join(arg.strip().strip('"') for arg in spec[spec.index("(") + 1:-1].split(","))
'''
# The regression: words with a space or a non-ASCII letter, and specs with arguments, now come out wrong.
TEXT_BROKEN = TEXT_OK.replace('    return word.upper() + "!"',
                              '    if " " in word or not word.isascii():\n        return word\n'
                              '    return word.upper() + "!"').replace(
    "    return \" \".join(", "    return \",\".join(")
PARAM_TESTS = '''import pytest

from text import locate, shout

APP2 = 'cliapp.factory-create_app2("foo", "bar")-app2_foo_bar'
WORDS = ["plain", "two words", 'say "hi"', "it's", "café", "naïve ünïcödé", "x - y", "[x y]", "a :: b"]


@pytest.mark.parametrize("word", WORDS)
def test_shout(word):
    assert shout(word) == word.upper() + "!"


class TestLocate:
    @pytest.mark.parametrize("spec,expected", [
        pytest.param('create_app2("foo", "bar")', "foo bar", id=APP2),
        pytest.param("create_app()", "", id="cliapp.factory-create_app-None"),
    ])
    def test_locate_app(self, spec, expected):
        assert locate(spec) == expected
'''

NOISY_TESTS = '''from calc import add


def test_noisy():
    for i in range({lines}):
        print(f"line {{i:05d}} FAILED tests/test_ghost.py::test_ghost_{{i}} - printed by a test, not a result")
    assert False, "the noisy test fails"


def test_add():
    assert add(2, 3) == 5


def test_quiet():
    assert True
'''

UNITTEST_TESTS = '''import unittest


class Arithmetic(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(2 + 2, 4)

    def test_fail(self):
        self.assertEqual(2 + 2, 5)

    def test_error(self):
        raise RuntimeError("boom")

    def test_sub(self):
        for n in (1, 2, 3):
            with self.subTest(n=n):
                self.assertNotEqual(n, 2)

    @unittest.skip("not today")
    def test_skipped(self):
        pass
'''
UNITTEST_BROKEN = "import missing_module  # noqa\n\n\ndef test_never():\n    pass\n"

CARGO_TOML = '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n'
CARGO_LIB = '''pub fn add(a: i32, b: i32) -> i32 {
    a - b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_adds() {
        assert_eq!(add(2, 3), 5);
    }

    #[test]
    fn it_subtracts_zero() {
        assert_eq!(add(2, 0), 2);
    }
}
'''
CARGO_IT = '''#[test]
fn integration_adds() {
    assert_eq!(calc::add(1, 1), 2);
}

#[test]
fn integration_ok() {
    assert!(true);
}
'''

Files = Mapping[str, str]


def _write(root: Path, files: Files) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _where(text: str, project: Path, report: Path | None) -> str:
    """The host's throwaway paths written as the sandbox's (/w, /results), so both pytests' captures read alike."""
    if report is not None:
        text = text.replace(str(report.parent), "/results")
    return text.replace(str(project), "/w")


class Recorder:
    """Runs commands in projects and records their output, report and exit code under this folder."""

    def __init__(self, docker: bool, only: str | None) -> None:
        self.docker, self.only = docker, only
        self.cases: dict[str, dict[str, object]] = {}
        index = HERE / "cases.json"
        if only and index.exists():
            self.cases = json.loads(index.read_text(encoding="utf-8"))
        self.versions = {"pytest9": self._version([sys.executable, "-m", "pytest", "--version"])}
        if docker:
            self.versions["pytest7"] = self._version(["docker", "run", "--rm", IMAGE, "python3", "-m", "pytest",
                                                      "--version"])

    @staticmethod
    def _version(argv: list[str]) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()

    def pytest(self, name: str, files: Files, args: str = "-q", family: str = XUNIT1) -> None:
        """The same project under both pytests (the sandbox image's only when Docker is asked for)."""
        self._pytest_host(f"pytest9-{name}", files, args, family)
        if self.docker:
            self._pytest_docker(f"pytest7-{name}", files, args, family)

    def _pytest_host(self, name: str, files: Files, args: str, family: str) -> None:
        if self.only and self.only not in name:
            return
        project, results = WORK / name, WORK / f"{name}.results"
        _write(project, files)
        _write(results, {})
        env = {"PYTEST_ADDOPTS": f"--junitxml={results}/report.xml {family}".strip()}
        command = f"python3 {PYTEST} {args}".strip()
        self._run(name, f"{sys.executable} {PYTEST} {args}".strip(), command, project, env, results / "report.xml",
                  self.versions["pytest9"])

    def _pytest_docker(self, name: str, files: Files, args: str, family: str) -> None:
        if self.only and self.only not in name:
            return
        project, results = WORK / name, WORK / f"{name}.results"
        _write(project, files)
        _write(results, {})
        for path in (project, results, *project.rglob("*")):
            path.chmod(0o777 if path.is_dir() else 0o666)  # the image runs as an unprivileged user
        addopts = f"--junitxml=/results/report.xml {family}".strip()
        command = f"python3 {PYTEST} {args}".strip()
        argv = (f"docker run --rm --network none -e PYTEST_ADDOPTS='{addopts}' -e COLUMNS=80 -v {project}:/w "
                f"-v {results}:/results -w /w {IMAGE} {command}")
        self._run(name, argv, command, project, {}, results / "report.xml", self.versions["pytest7"])

    def plain(self, name: str, files: Files, argv: str, command: str, version: str) -> None:
        if self.only and self.only not in name:
            return
        project = WORK / name
        _write(project, files)
        self._run(name, argv, command, project, {}, None, version)

    def _run(self, name: str, argv: str, command: str, cwd: Path, env: Mapping[str, str], report: Path | None,
             version: str) -> None:
        full_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "COLUMNS": "80",
                    "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8", **env}
        proc = subprocess.run(argv, shell=True, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=600, check=False)
        out = _where(proc.stdout.decode("utf-8", "replace"), cwd, report)
        (HERE / f"{name}.out").write_text(out, encoding="utf-8")
        xml = HERE / f"{name}.xml"
        if report is not None and report.exists():
            xml.write_text(_where(report.read_text(encoding="utf-8"), cwd, report), encoding="utf-8")
        elif xml.exists():
            xml.unlink()
        self.cases[name] = {"command": command, "exit_code": proc.returncode, "runner": version,
                            "report": xml.exists()}
        print(f"{name}: exit {proc.returncode}, {len(out):,} characters{', report' if xml.exists() else ''}")

    def save(self) -> None:
        text = json.dumps(dict(sorted(self.cases.items())), indent=1, ensure_ascii=False)
        (HERE / "cases.json").write_text(text + "\n", encoding="utf-8")


def _pytest_cases(rec: Recorder) -> None:
    nested = {"conftest.py": 'pytest_plugins = ["pytester"]\n', "test_calc.py": CALC_TESTS,
              "test_nested.py": NESTED_TESTS}
    rec.pytest("nested-before", {**nested, "calc.py": CALC_BUGGY}, "-q -rA")
    rec.pytest("nested-after", {**nested, "calc.py": CALC_FIXED}, "-q -rA")
    # -s: the nested sessions print straight to the terminal, and the outer run, all green, has no summary section.
    rec.pytest("nested-after-s", {**nested, "calc.py": CALC_FIXED}, "-q -s")
    params = {"tests/__init__.py": "", "tests/test_text.py": PARAM_TESTS}
    rec.pytest("params-before", {**params, "text.py": TEXT_OK})
    rec.pytest("params-after", {**params, "text.py": TEXT_BROKEN})
    rec.pytest("params-after-xunit2", {**params, "text.py": TEXT_BROKEN}, family="")
    broken = {"app.py": "def helper():\n    return 1\n", "tests/test_util.py": "def test_util():\n    assert True\n",
              "tests/test_app.py": "from app import helpr\n\n\ndef test_app():\n    assert helpr() == 1\n"}
    rec.pytest("import-error-before", broken)
    rec.pytest("import-error-after", {**broken, "app.py": "def helper():\n    return 2\n"})
    # Without -q: pytest's header says "collected 0 items / 1 error".
    rec.pytest("import-error-only", {"app.py": "def helper():\n    return 1\n",
                                     "tests/test_app.py": broken["tests/test_app.py"]}, "")
    rec.pytest("no-tests", {"lib.py": "X = 1\n"})
    rec.pytest("deselected", {"test_a.py": "def test_a():\n    assert True\n"}, "-q -k nomatch")
    rec.pytest("missing-path", {"test_a.py": "def test_a():\n    assert True\n"}, "-q tests/test_missing.py")
    rec.pytest("usage-error", {"test_a.py": "def test_a():\n    assert True\n"}, "-q --no-such-option")
    rec.pytest("conftest-import-error", {"conftest.py": "import missing_plugin  # noqa\n",
                                         "test_a.py": "def test_a():\n    assert True\n"})
    # conftest.py at the root puts the root on sys.path, so tests/ imports calc.
    rec.pytest("big-before", {"conftest.py": "", "tests/test_noisy.py": NOISY_TESTS.format(lines=900),
                              "calc.py": CALC_BUGGY})
    rec.pytest("big-after", {"conftest.py": "", "tests/test_noisy.py": NOISY_TESTS.format(lines=1200),
                             "calc.py": CALC_FIXED})


def _unittest_cases(rec: Recorder) -> None:
    version = f"python {sys.version.split()[0]} unittest"
    argv, command = f"{sys.executable} -m unittest", "python3 -m unittest"
    rec.plain("unittest-failures", {"test_arith.py": UNITTEST_TESTS, "test_broken.py": UNITTEST_BROKEN},
              argv, command, version)
    rec.plain("unittest-ok", {"test_arith.py": "import unittest\n\n\nclass T(unittest.TestCase):\n"
                                               "    def test_ok(self):\n        pass\n"}, argv, command, version)
    rec.plain("unittest-import-error", {"test_broken.py": UNITTEST_BROKEN}, argv, command, version)
    rec.plain("unittest-no-tests", {"lib.py": "X = 1\n"}, argv, command, version)


def _cargo_cases(rec: Recorder) -> None:
    cargo = shutil.which("cargo")
    if cargo is None:
        print("cargo not found: cargo cases not captured")
        return
    version = Recorder._version([cargo, "--version"])
    argv = f"{cargo} test --offline --no-fail-fast"
    crate = {"Cargo.toml": CARGO_TOML, "src/lib.rs": CARGO_LIB, "tests/integration.rs": CARGO_IT}
    rec.plain("cargo-failures", crate, argv, "cargo test --no-fail-fast", version)
    rec.plain("cargo-ok", {**crate, "src/lib.rs": CARGO_LIB.replace("a - b", "a + b")}, argv,
              "cargo test --no-fail-fast", version)
    rec.plain("cargo-compile-error", {**crate, "src/lib.rs": CARGO_LIB.replace("a - b", "a - c")}, argv,
              "cargo test --no-fail-fast", version)


CASES: tuple[Callable[[Recorder], None], ...] = (_pytest_cases, _unittest_cases, _cargo_cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-docker", action="store_true", help="skip the sandbox image's pytest")
    parser.add_argument("--only", help="regenerate only the cases whose name contains this")
    args = parser.parse_args()
    rec = Recorder(docker=not args.no_docker, only=args.only)
    for make in CASES:
        make(rec)
    rec.save()


if __name__ == "__main__":
    main()
