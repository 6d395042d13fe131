"""Build every long-lived part once, at start-up, from the settings; nothing at import time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.github import GitHubApp
from bot.settings import Settings
from bot.store import Store
from bot.worker import Worker
from runner import LiteLLMChat, SolveDeps, Workspace, docker_sandbox_factory, structured_map

if TYPE_CHECKING:
    from runner import DockerFactory


@dataclass
class Components:
    settings: Settings
    store: Store
    worker: Worker
    wake: threading.Event


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
        return SolveDeps(workspace=workspace, chat=chat, sandbox=sandbox, setup=sandbox.prepare, aliases=aliases,
                         should_stop=should_stop, repo_map=repo_map)

    return make


def build(settings: Settings) -> Components:
    store = Store(settings.sqlite_path)
    store.migrate()
    github = GitHubApp(settings.github_api_url, settings.app_id(), settings.private_key())
    wake = threading.Event()
    workspace = Workspace(settings.data_dir / "git")
    worker = Worker(settings, store, github, deps_factory(settings, workspace), wake,
                    evict_mirrors=lambda budget: len(workspace.evict_mirrors(budget).removed))
    return Components(settings, store, worker, wake)
