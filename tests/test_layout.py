"""The house rules DESIGN.md states, checked on the code's own imports (parsed, not run).

- bot/ uses the runner only through its face, `runner/__init__.py`: `from runner import X`.
- runner/ never imports bot/, nor anything that speaks GitHub or HTTP for the App.
- Every prompt the models read is a template in prompts/ that some code renders.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import runner

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> Iterator[tuple[str, int, str, tuple[str, ...]]]:
    """(file, line, module, names) for every import in a package, at any depth (lazy imports too)."""
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield rel, node.lineno, alias.name, ()
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield rel, node.lineno, node.module, tuple(alias.name for alias in node.names)


def test_bot_reaches_the_runner_only_through_its_face() -> None:
    offending = [f"{file}:{line}: {module}" for file, line, module, _ in _imports("bot")
                 if module.startswith("runner.")]
    assert offending == [], "bot/ must import from `runner` only (its __init__), not:\n" + "\n".join(offending)
    face = [(file, name) for file, _, module, names in _imports("bot") if module == "runner" for name in names]
    assert face, "the check above must have something to check"
    missing = [f"{file}: {name}" for file, name in face if name not in runner.__all__]
    assert missing == [], "bot/ imports names the face does not export:\n" + "\n".join(missing)


def test_the_faces_names_all_exist_and_load_lazily() -> None:
    functions = {"add_cli_commands", "docker_sandbox_factory", "reap_sandboxes"}
    assert set(runner.__all__) == set(runner._EXPORTS) | functions
    absent = [name for name in runner.__all__ if getattr(runner, name, None) is None]
    assert absent == []


def test_no_name_of_the_face_is_also_a_runner_module() -> None:
    """Importing `runner.x` binds `x` on the package, so an exported `x` that is also a module would turn into the
    module whenever something imported it first (a lazy face cannot win that race)."""
    modules = {p.stem for p in (ROOT / "runner").glob("*.py")} | {p.name for p in (ROOT / "runner").iterdir()
                                                                    if (p / "__init__.py").exists()}
    assert modules & set(runner.__all__) == set()


def test_importing_a_runner_module_does_not_import_the_whole_runner() -> None:
    """Every `import runner.x` runs the face first: the repo map's parse helpers must not pay for the engine."""
    code = "import sys, runner.repomap.index; print(sorted(m for m in sys.modules if m.startswith(('runner', 'pyd'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    for heavy in ("runner.job", "runner.engine", "runner.repo_config", "pydantic"):
        assert f"'{heavy}'" not in loaded, loaded


def test_the_runner_never_imports_the_bot_or_github() -> None:
    forbidden = ("bot", "githubkit", "fastapi", "uvicorn", "starlette")
    offending = [f"{file}:{line}: {module}" for file, line, module, _ in _imports("runner")
                 if module.split(".")[0] in forbidden]
    assert offending == [], "runner/ knows nothing of GitHub or HTTP:\n" + "\n".join(offending)


def test_every_prompt_template_is_used() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "runner").rglob("*.py"))
    unused = [p.name for p in sorted((ROOT / "prompts").iterdir()) if f'"{p.name}"' not in sources]
    assert unused == [], f"templates no code renders: {unused}"
