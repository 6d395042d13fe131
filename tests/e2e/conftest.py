"""The App as users run it: `ai-fix serve` in its own process, talking HTTP to both doubles.

One App process, one GitHub double and one LLM double per module (start-up costs seconds); each
test uses its own issue so tests do not see each other's jobs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot import engine
from bot.jobs import Job, Jobs
from bot.settings import Settings
from tests.doubles.github.fixtures import assert_no_violations
from tests.doubles.github.server import GitHubDouble
from tests.doubles.llm.server import LLMDouble
from tests.doubles.webhooks import deliver

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-webhook-secret"
REPO = "acme/calc"
BROKEN = "acme/broken"
DEPS = "acme/deps"
DEPS_CONFIG = ("setup:\n  - python -c \"import pathlib, site; pathlib.Path(site.getsitepackages()[0], "
               "'installed_by_setup.py').write_text('VALUE = 5')\"\n"
               "test: python -m pytest -q -p no:cacheprovider\n")
DEPS_TESTS = "from calc import add\nfrom installed_by_setup import VALUE\n\n\ndef test_add():\n" \
             "    assert add(2, 3) == VALUE\n"
INSTALLATION_ID = 4242
TERMINAL = ("done", "failed", "rejected", "superseded", "cancelled")

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = '''import os
import socket

from calc import add, mul


def test_add():
    assert add(2, 3) == 5


def test_mul():
    assert mul(2, 3) == 6


def test_runs_in_the_sandbox_without_network():
    assert os.path.exists("/.dockerenv"), "not inside a container"
    assert sorted(os.listdir("/sys/class/net")) == ["lo"], "the container has a network interface"
    with socket.socket() as sock:
        sock.settimeout(2)
        assert sock.connect_ex(("1.1.1.1", 53)) != 0
'''
CONFIG = "test: python3 -m pytest -q -p no:cacheprovider\n"
WORKFLOW = "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pytest\n"
PRIVATE_KEY_MARKER = "-----BEGIN"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class JobsView:
    """The App's jobs, read from its engine database as an operator's `ai-fix jobs list` does."""

    db: Jobs

    def jobs(self) -> list[Job]:
        return self.db.all()


@dataclass
class App:
    url: str
    secrets: list[str]
    github: GitHubDouble
    llm: LLMDouble
    store: JobsView
    log_path: Path

    def deliver(self, event: str, payload: dict[str, object], *, secret: str = SECRET,
                delivery_id: str | None = None) -> httpx.Response:
        return deliver(self.url + "/webhook", event, payload, secret, delivery_id=delivery_id)

    def jobs_for(self, issue: int, repo: str = REPO) -> list[Job]:
        return [job for job in self.store.jobs()
                if job.spec.issue_number == issue and f"{job.spec.owner}/{job.spec.repo}" == repo]

    def wait_for_jobs(self, issue: int, count: int, timeout: float = 120, repo: str = REPO) -> list[Job]:
        """Wait until `count` jobs for the issue exist and all of them have finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.jobs_for(issue, repo)
            if len(jobs) >= count and all(job.state in TERMINAL for job in jobs):
                return jobs
            time.sleep(0.2)
        raise AssertionError(f"jobs for {repo}#{issue} did not finish: {self.jobs_for(issue, repo)}\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


def app_env(work: Path, github: GitHubDouble, llm: LLMDouble, **extra: str) -> dict[str, str]:
    """The environment an operator would give the App, pointed at the doubles."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AI_FIX_", "OPENAI_", "ANTHROPIC_"))}
    env.update({
        "GITHUB_APP_ID": str(github.app_id),
        "GITHUB_PRIVATE_KEY_PATH": str(github.write_private_key(work / "app.pem")),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": github.url,
        "AI_FIX_DATA_DIR": str(work / "data"),
        "AI_FIX_LLM_API_BASE": llm.api_base,
        "AI_FIX_MODEL": "gpt-4o",
        "AI_FIX_WORKER_POLL": "0.2",
        "OPENAI_API_KEY": "sk-e2e-not-a-real-key",
        "ANTHROPIC_API_KEY": "sk-ant-e2e-not-a-real-key",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    })
    env.update(extra)
    return env


def start_ai_fix(args: list[str], work: Path, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("a") as log:
        return subprocess.Popen([str(Path(sys.executable).parent / "ai-fix"), *args], cwd=work, env=env, stdout=log,
                                stderr=subprocess.STDOUT)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).json().get("status") == "ok":
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("ai-fix serve did not start:\n" + log_path.read_text())
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def jobs_of(work: Path, database_url: str | None = None) -> Jobs:
    """The jobs of the App whose data directory is `work`, read as an operator would (its own database URL)."""
    return Jobs(engine.client(Settings(database_url=database_url or f"sqlite:///{work / 'data' / 'ai-fix.db'}")))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    work = tmp_path_factory.mktemp("e2e")
    github = GitHubDouble().start()
    llm = LLMDouble().start()
    github.add_repo(REPO, {"calc.py": CALC, "test_calc.py": TESTS, ".github/ai-fix.yml": CONFIG,
                           ".github/workflows/ci.yml": WORKFLOW})
    github.add_repo(BROKEN, {"calc.py": CALC, ".github/ai-fix.yml": "tset: pytest\n"})
    github.set_role(BROKEN, "maint", "maintain")
    github.add_repo(DEPS, {"calc.py": CALC, "test_calc.py": DEPS_TESTS, ".github/ai-fix.yml": DEPS_CONFIG})
    github.set_role(DEPS, "maint", "admin")
    github.set_role(REPO, "maint", "write")
    github.set_role(REPO, "reader", "read")
    github.set_role(REPO, "triager", "triage")
    github.install("acme", [REPO, BROKEN, DEPS], id=INSTALLATION_ID)
    port = _free_port()
    env = app_env(work, github, llm)
    log_path = work / "serve.log"
    proc = start_ai_fix(["serve", "--host", "127.0.0.1", "--port", str(port)], work, env, log_path)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log_path)
    jobs = jobs_of(work)
    try:
        secrets = [SECRET, github.private_key_pem.splitlines()[1], env["OPENAI_API_KEY"], env["ANTHROPIC_API_KEY"]]
        yield App(url, secrets, github, llm, JobsView(jobs), log_path)
    finally:
        jobs.client.destroy()
        stop(proc)
        llm.stop()
        github.stop()
        _remove_setup_images(github.url)
    assert_no_violations(github)


def _remove_setup_images(github_url: str) -> None:
    """Setup images are cached across jobs by design; the ones this module's repositories made go."""
    import docker

    client = docker.from_env()
    for image in client.images.list(filters={"label": "ai-fix.role=setup"}):
        if str(image.labels.get("ai-fix.repo", "")).startswith(github_url + "/"):
            client.images.remove(image.id, force=True)


@pytest.fixture
def clean_llm(app: App) -> Iterator[LLMDouble]:
    """The module's LLM double, checked after each test: nothing unscripted, nothing left over."""
    app.llm.reset()
    yield app.llm
    problems = app.llm.problems()
    app.llm.reset()
    assert not problems, problems
