"""bot.github against the GitHub double: the calls the App makes, as githubkit makes them."""

import subprocess
from pathlib import Path

from bot.github import GitHubApp
from tests.doubles.github.server import GitHubDouble


def test_a_repository_without_drafts_gets_a_regular_pull_request(github_double: GitHubDouble, tmp_path: Path) -> None:
    github_double.add_repo("acme/plain", {"a.py": "x = 1\n"}, drafts=False)
    install = github_double.install("acme", ["acme/plain"])
    token = github_double.mint_token(install.id)
    work = tmp_path / "clone"
    env = {**GitHubDouble.git_auth_env(token), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(["git", "clone", "-q", github_double.git_url("acme/plain"), str(work)], env=env, check=True)
    (work / "a.py").write_text("x = 2\n")
    for args in (["checkout", "-q", "-b", "ai-fix/issue-1"], ["commit", "-qam", "change"],
                 ["push", "-q", "origin", "ai-fix/issue-1"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=work, env=env, check=True)
    app = GitHubApp(github_double.url, github_double.app_id, github_double.private_key_pem)
    with app.installation(install.id, "plain") as gh:
        pull = gh.create_pull("acme", "plain", title="[draft] Fix #1", head="ai-fix/issue-1", base="main",
                              body="Fixes #1", draft=True)
    assert not pull.draft and pull.head_ref == "ai-fix/issue-1"
    statuses = [r.status for r in github_double.requests if r.path == "/repos/acme/plain/pulls"]
    assert statuses == [422, 201]
