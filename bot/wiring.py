"""Build every long-lived part once, at start-up, from the settings; nothing at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot import engine
from bot.github import GitHubApp
from bot.interrupt import InterruptibleChat
from bot.jobs import Jobs
from bot.settings import Settings
from runner import LiteLLMChat, SolveDeps, Workspace, docker_sandbox_factory, structured_map

if TYPE_CHECKING:
    from bot.workflow import Runtime
    from runner import DockerFactory


@dataclass
class Components:
    settings: Settings
    jobs: Jobs
    github: GitHubApp
    workspace: Workspace

    def runtime(self) -> Runtime:
        """What the workflows need; only a process that runs them builds it."""
        from bot.workflow import Runtime

        return Runtime(self.settings, self.github, deps_factory(self.settings, self.workspace), self.jobs,
                       evict_mirrors=lambda budget: len(self.workspace.evict_mirrors(budget).removed))


def sandbox_factory(settings: Settings) -> DockerFactory:
    allowed = [p.strip() for p in settings.allowed_images.split(",") if p.strip()]
    return docker_sandbox_factory(settings.sandbox_image, allowed)


def deps_factory(settings: Settings, workspace: Workspace) -> Callable[[Callable[[], bool]], SolveDeps]:
    chat = LiteLLMChat(api_base=settings.llm_api_base, timeout_s=settings.llm_timeout_s,
                       prices=settings.model_prices())
    sandbox = sandbox_factory(settings)
    aliases = settings.model_aliases()
    repo_map = structured_map(settings.data_dir / "repomap.sqlite3")

    def make(should_stop: Callable[[], bool]) -> SolveDeps:
        return SolveDeps(workspace=workspace, chat=InterruptibleChat(chat, should_stop), sandbox=sandbox,
                         setup=sandbox.prepare, aliases=aliases, should_stop=should_stop, repo_map=repo_map)

    return make


def jobs(settings: Settings) -> Jobs:
    """The engine's tables, created or upgraded, and a client on them (no workflow runs through it)."""
    engine.migrate(settings)
    return Jobs(engine.client(settings))


def build(settings: Settings) -> Components:
    github = GitHubApp(settings.github_api_url, settings.app_id(), settings.private_key())
    return Components(settings, jobs(settings), github, Workspace(settings.data_dir / "git"))
