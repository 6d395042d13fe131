"""Which SWE-bench instances the benchmark runs, how each installs, and the regression control of each.

Setup is the App's own setup phase (`.github/ai-fix.yml` `setup:`), run in the sandbox image (Debian
bookworm, Python 3.11, no compiler): so every dependency must come from PyPI as a wheel for CPython 3.11.
The pins are this benchmark's own choice per repository version: the oldest releases of that time with
3.11 wheels, so the code at `base_commit` meets the library versions it was written against, or close.

A regression control breaks tests whose ids contain spaces (the ids today's console reading cut at the
first space). Where the instance's test files have such tests, the control breaks the code they cover;
`breaks` lists the exact ids expected as new failures.
"""

from __future__ import annotations

from dataclasses import dataclass

_FLASK_23 = ("pip install Werkzeug==2.3.7 Jinja2==3.1.2 MarkupSafe==2.1.3 itsdangerous==2.1.2 click==8.1.3 "
             "blinker==1.6.2",
             "pip install --no-deps -e .")
_PYLINT_215 = ("pip install astroid==2.12.13 dill==0.3.6 platformdirs==2.6.2 isort==5.11.4 mccabe==0.7.0 "
               "tomlkit==0.11.6",
               "pip install --no-deps -e .")
_SEABORN_012 = ("pip install numpy==1.23.5 pandas==1.5.3 matplotlib==3.6.3 scipy==1.10.1",
                "pip install --no-deps -e .")
_PYTEST_70 = ("pip install attrs==21.4.0 iniconfig==1.1.1 packaging==21.3 pluggy==0.13.1 py==1.11.0 tomli==2.0.1",
              "SETUPTOOLS_SCM_PRETEND_VERSION=7.0.0 pip install --no-deps -e .")
"""pytest writes `src/_pytest/_version.py` at install time (setuptools-scm) and imports it unguarded."""
_XARRAY = ("pip install numpy==1.23.5 pandas==1.5.3",)


def _xarray(version: str) -> tuple[str, ...]:
    """xarray takes its version from git (setuptools-scm); the App's setup copy has no .git, so it is given."""
    return (*_XARRAY, f"SETUPTOOLS_SCM_PRETEND_VERSION={version} pip install --no-deps -e .")


@dataclass(frozen=True)
class Edit:
    """One SEARCH/REPLACE block the Junior sends."""

    path: str
    search: str
    replace: str


@dataclass(frozen=True)
class Regression:
    edits: tuple[Edit, ...]
    breaks: tuple[str, ...]
    """Exact test ids (with their spaces) the edit makes fail."""
    note: str = ""


@dataclass(frozen=True)
class Spec:
    instance_id: str
    setup: tuple[str, ...]
    regression: Regression | None = None


def _plain(path: str, search: str, replace: str, *breaks: str) -> Regression:
    """A regression of an instance whose test files have no test with a space in its id: it breaks others."""
    return Regression((Edit(path, search, replace),), breaks, "no test id with a space in these test files")


SPECS: dict[str, Spec] = {
    spec.instance_id: spec for spec in (
        Spec("pallets__flask-5063", _FLASK_23, Regression(
            (Edit("src/flask/cli.py", "            args = [ast.literal_eval(arg) for arg in expr.args]\n",
                  "            args = [ast.literal_eval(arg) for arg in expr.args][:1]\n"),),
            ('tests/test_cli.py::test_locate_app[cliapp.factory-create_app2("foo", "bar")-app2_foo_bar]',
             'tests/test_cli.py::test_locate_app[cliapp.factory-create_app2("foo", "bar", )-app2_foo_bar]'),
            "an app factory gets only its first positional argument")),
        Spec("pallets__flask-4992", _FLASK_23, _plain(
            "src/flask/config.py", "                key = key.lower()\n", "                key = key.upper()\n",
            "tests/test_config.py::test_get_namespace")),
        Spec("pylint-dev__pylint-7993", _PYLINT_215, _plain(
            "pylint/reporters/text.py", '                self.writeln(f"************* Module {msg.module}")\n',
            '                self.writeln(f"*** Module {msg.module}")\n',
            "tests/reporters/unittest_reporting.py::test_multi_format_output",
            "tests/reporters/unittest_reporting.py::test_parseable_output_regression",
            "tests/reporters/unittest_reporting.py::test_template_option")),
        Spec("pylint-dev__pylint-7228", _PYLINT_215, _plain(
            "pylint/config/argument.py", "    if not value:\n        return interfaces.CONFIDENCE_LEVEL_NAMES\n",
            "    if not value:\n        return []\n", "tests/config/test_config.py::test_empty_confidence")),
        Spec("mwaskom__seaborn-3010", _SEABORN_012, _plain(
            "seaborn/_stats/regression.py", "            xx = np.linspace(x.min(), x.max(), self.gridsize)\n",
            "            xx = np.linspace(x.min(), x.max() + 1, self.gridsize)\n",
            "tests/_stats/test_regression.py::TestPolyFit::test_no_grouper")),
        Spec("mwaskom__seaborn-3190", _SEABORN_012, _plain(
            "seaborn/_core/scales.py", '                sep = " "\n', '                sep = "_"\n',
            "tests/_core/test_scales.py::TestContinuous::test_label_unit")),
        Spec("pydata__xarray-4248", _xarray("0.16.0"), _plain(
            "xarray/core/formatting.py", '            return f"{date_str}T{time_str}"\n',
            '            return f"{date_str} {time_str}"\n',
            "xarray/tests/test_formatting.py::TestFormatting::test_format_item")),
        Spec("pydata__xarray-5131", _xarray("0.17.0"), _plain(
            "xarray/core/groupby.py", "            and last_slice.stop == slice_.start\n",
            "            and last_slice.stop == slice_.stop\n",
            "xarray/tests/test_groupby.py::test_consolidate_slices")),
        Spec("pytest-dev__pytest-8906", _PYTEST_70, Regression(
            (Edit("src/_pytest/skipping.py",
                  "            if raises is not None and not isinstance(call.excinfo.value, raises):\n",
                  "            if raises is not None and isinstance(call.excinfo.value, raises):\n"),),
            tuple(f"testing/test_skipping.py::TestXFail::test_xfail_raises[{case}]" for case in (
                "TypeError-TypeError-*1 xfailed*", "(AttributeError, TypeError)-TypeError-*1 xfailed*",
                "TypeError-IndexError-*1 failed*", "(AttributeError, TypeError)-IndexError-*1 failed*")),
            "xfail(raises=...) inverted: the expected exception fails, any other is xfailed")),
    )
}
DEFAULT = tuple(SPECS)
