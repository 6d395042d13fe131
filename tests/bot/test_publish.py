"""bot.publish against the GitHub double: every write finds before it creates, so a step that runs twice
(a crash after the write, before the checkpoint) leaves one pull request, one progress comment, one check run."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot import publish
from bot.github import GitHubApp
from bot.routing import JobSpec
from runner import Attempt, Outcome, Verdict
from tests.doubles.github.server import GitHubDouble


def _push_branch(github: GitHubDouble, install_id: int, tmp_path: Path, branch: str) -> str:
    env = {**GitHubDouble.git_auth_env(github.mint_token(install_id)), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    work = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", github.git_url("acme/calc"), str(work)], env=env, check=True)
    (work / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    for args in (["checkout", "-q", "-b", branch], ["commit", "-qam", "fix"], ["push", "-q", "origin", branch]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=work, env=env, check=True)
    sha = github.branch_sha("acme/calc", branch)
    assert sha
    return sha


def test_publishing_twice_duplicates_nothing(github_double: GitHubDouble, tmp_path: Path) -> None:
    github_double.add_repo("acme/calc", {"calc.py": "def add(a, b):\n    return a - b\n"})
    install = github_double.install("acme", ["acme/calc"])
    number = github_double.add_issue("acme/calc", "add() subtracts", "", user="maint").number
    spec = JobSpec(kind="run", owner="acme", repo="calc", installation_id=install.id, issue_number=number,
                   sender="maint", trigger="label")
    branch = publish.branch_for(number)
    head = _push_branch(github_double, install.id, tmp_path, branch)
    attempt = Attempt(number=1, senior="openai/gpt-4o", junior="openai/gpt-4o-mini", edits_proposed=1,
                      edits_applied=1, changed_files=["calc.py"])
    outcome = Outcome(verdict=Verdict.PLAUSIBLE, issue_number=number, branch=branch, base_branch="main", head_sha=head,
                      attempts=[attempt], chosen=1, changed_files=["calc.py"])
    app = GitHubApp(github_double.url, github_double.app_id, github_double.private_key_pem)

    results = []
    for _ in range(2):
        with app.installation(install.id, "calc") as gh:
            publish.progress(gh, spec, "working", job_id="j1", models="a + b")
            results.append(publish.publish(gh, spec, outcome, "add() subtracts", ["sonnet"]))

    [pull] = github_double.pulls("acme/calc")
    assert [r.created for r in results] == [True, False] and {r.pull_number for r in results} == {pull["number"]}
    [comment] = github_double.comments("acme/calc", number)
    assert comment["body"].startswith(publish.progress_marker(number)) and pull["html_url"] in comment["body"]
    [check] = github_double.check_runs("acme/calc")
    assert (check["name"], check["head_sha"], check["conclusion"]) == ("ai-fix", head, "success")


def test_a_reply_to_one_delivery_is_posted_once(github_double: GitHubDouble) -> None:
    github_double.add_repo("acme/calc", {"calc.py": "x = 1\n"})
    install = github_double.install("acme", ["acme/calc"])
    number = github_double.add_issue("acme/calc", "help", "", user="maint").number
    spec = JobSpec(kind="reply", owner="acme", repo="calc", installation_id=install.id, issue_number=number,
                   sender="maint", trigger="comment", reply="help")
    app = GitHubApp(github_double.url, github_double.app_id, github_double.private_key_pem)
    with app.installation(install.id, "calc") as gh:
        first = publish.comment_once(gh, spec, "guid-1", "the help text")
        assert publish.comment_once(gh, spec, "guid-1", "the help text") == first
        assert publish.comment_once(gh, spec, "guid-2", "the help text") != first
    assert len(github_double.comments("acme/calc", number)) == 2
