"""`ai-fix solve`: the engine on a local checkout, no GitHub involved, nothing pushed.

The patch is left applied to the working tree, uncommitted, for the person to inspect; the
checkout must be clean so that nothing of theirs is overwritten or mixed into the patch.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bot.settings import Settings, SettingsError
from runner import (
    GitError,
    Issue,
    LiteLLMChat,
    ModelPair,
    Outcome,
    Overrides,
    RunnerError,
    SolveDeps,
    SolveRequest,
    UnknownModel,
    Workspace,
    docker_sandbox_factory,
    resolve,
    run_git,
    solve,
    structured_map,
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("solve", help="run the engine on a local checkout; leaves the patch uncommitted")
    parser.add_argument("--repo", type=Path, required=True, help="a git checkout with no uncommitted changes")
    parser.add_argument("--issue-file", type=Path, required=True, help="issue text: first line title, then body")
    parser.add_argument("--files", default="", help="comma-separated paths the Senior reads (skips its choice)")
    parser.add_argument("--senior", help="alias or litellm model string (default: AI_FIX_MODEL)")
    parser.add_argument("--junior", help="alias or litellm model string (default: the Senior's partner)")
    parser.add_argument("--pattern", choices=["plan", "review", "plan+review"])
    parser.add_argument("--test-cmd", help="test command run in the sandbox (default: the repository's config)")
    parser.add_argument("--lint-cmd", help="lint command run in the sandbox")
    parser.add_argument("--attempts", type=int)
    parser.add_argument("--api-base", help="send every model call to this endpoint")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON, last, on stdout")
    parser.set_defaults(func=run)


def _git(repo: Path, *args: str) -> str:
    return run_git(args, cwd=repo).strip()


def _pair(args: argparse.Namespace, settings: Settings) -> ModelPair:
    aliases = settings.model_aliases()
    base = resolve(args.senior or settings.default_model, aliases)
    junior = resolve(args.junior, aliases).senior if args.junior else base.junior
    return ModelPair(base.senior, junior)


def _summary(outcome: Outcome) -> str:
    lines = [f"verdict: {outcome.verdict.value}"]
    if outcome.changed_files:
        lines.append("changed: " + ", ".join(outcome.changed_files))
    for a in outcome.attempts:
        tests = "not run" if a.test is None else f"{len(a.new_failures)} new failure(s)"
        lines.append(f"attempt {a.number}: {a.senior} + {a.junior}, edits {a.edits_applied}/{a.edits_proposed}, "
                     f"lint {'ok' if a.lint_ok else 'errors'}, tests {tests}, ${a.cost_usd:.4f}")
    if outcome.error:
        lines.append(f"stopped: {outcome.error}" + (f" ({outcome.hint})" if outcome.hint else ""))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    repo = args.repo.resolve()
    try:
        settings = Settings()
        chat = LiteLLMChat(api_base=args.api_base or settings.llm_api_base, timeout_s=settings.llm_timeout_s,
                           prices=settings.model_prices())
        pair = _pair(args, settings)
        if _git(repo, "status", "--porcelain", "--untracked-files=no"):
            raise RunnerError(f"{repo} has uncommitted changes", hint="commit or stash them first")
        branch = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
        # litellm takes 5-15 s to import: import it while the repository is prepared and the checks run on the
        # untouched code, so that the first model call need not wait. A failed import is raised by that first
        # call, as a `ModelError` the outcome reports. (Started once the arguments are known usable.)
        text = args.issue_file.read_text(encoding="utf-8")
        chat.warm_up()
    except (SettingsError, UnknownModel, RunnerError, OSError) as exc:
        detail = "a checked-out branch is needed (detached HEAD?)" if isinstance(exc, GitError) else str(exc)
        print(f"ai-fix solve: {detail}", file=sys.stderr)
        return 2
    title, _, body = text.partition("\n")
    with tempfile.TemporaryDirectory(prefix="ai-fix-solve-") as scratch:
        sandbox = docker_sandbox_factory(settings.sandbox_image,
                                         [p.strip() for p in settings.allowed_images.split(",") if p.strip()])
        deps = SolveDeps(workspace=Workspace(Path(scratch), borrow_objects=True),
                         chat=chat,
                         sandbox=sandbox, setup=sandbox.prepare, aliases=settings.model_aliases(),
                         repo_map=structured_map(settings.data_dir / "repomap.sqlite3"),
                         progress=lambda message: print(f"… {message}", file=sys.stderr))
        files = tuple(f.strip() for f in args.files.split(",") if f.strip())
        request = SolveRequest(
            clone_url=str(repo), git_env={}, base_branch=branch, branch="ai-fix/local",
            issue=Issue(0, title.strip(), body.strip()), default_models=pair, push=False,
            overrides=Overrides(pattern=args.pattern, test_command=args.test_cmd, lint_command=args.lint_cmd,
                                attempts=args.attempts, files=files))
        outcome = solve(request, deps)
    if outcome.diff:
        try:
            run_git(["apply", "--whitespace=nowarn", "-"], cwd=repo, input_text=outcome.diff)
        except GitError as exc:  # e.g. an untracked file in the way of a file the patch creates
            saved = repo.parent / f"ai-fix-{repo.name}.patch"
            saved.write_text(outcome.diff)
            print(f"ai-fix solve: the patch does not apply to {repo} ({exc}); saved to {saved}", file=sys.stderr)
    print(_summary(outcome), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(outcome.to_dict()))
    return 0 if outcome.verdict.value == "plausible" else 1
