"""`ai-fix`: the command line. `serve` runs the webhook receiver with the embedded worker; `worker` only the
worker; `jobs` reads and steers the jobs in the engine's database."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.settings import Settings, SettingsError

if TYPE_CHECKING:
    from bot.wiring import Components

log = logging.getLogger("ai_fix")


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        raise SystemExit(f"ai-fix: invalid settings: {exc}") from exc


def _reap(settings: Settings) -> None:
    try:
        from runner import reap_sandboxes

        removed = reap_sandboxes()
        if removed:
            log.info("removed %d sandbox container(s) left by an earlier crash", removed)
    except Exception as exc:  # the receiver must start even when Docker is briefly unavailable
        log.warning("could not reap leftover sandbox containers: %s", exc)


def _start_worker(parts: Components) -> None:
    """Recover this executor's unfinished jobs and start consuming the queues, in this process."""
    from bot import engine, workflow

    _reap(parts.settings)
    workflow.install(parts.runtime())
    engine.launch(parts.settings)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot import engine
    from bot.receiver import create_app
    from bot.setup_page import create_setup_app
    from bot.wiring import build

    settings = _settings()
    try:
        parts = build(settings)
        app = create_app(settings, parts.jobs)
    except SettingsError as exc:
        log.warning("not configured: %s; serving set-up instructions at http://%s:%s/", exc, args.host, args.port)
        uvicorn.run(create_setup_app(str(exc)), host=args.host, port=args.port, log_level="warning")
        return 0
    if not args.no_worker:
        _start_worker(parts)
    log.info("ai-fix listening on http://%s:%s (webhook: POST /webhook)", args.host, args.port)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        if not args.no_worker:
            engine.shutdown()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from bot import engine
    from bot.wiring import build

    settings = _settings()
    try:
        parts = build(settings)
    except SettingsError as exc:
        print(f"ai-fix: {exc}", file=sys.stderr)
        return 2
    _start_worker(parts)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    engine.shutdown()
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ai-fix", description="Resolve labelled GitHub issues into pull requests.")
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the webhook receiver with the embedded worker")
    serve.add_argument("--host", default=os.environ.get("AI_FIX_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("AI_FIX_PORT", "3000")))
    serve.add_argument("--no-worker", action="store_true", help="receive only; run `ai-fix worker` elsewhere")
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run queued jobs (no webhook receiver); resumes its own unfinished jobs")
    worker.set_defaults(func=cmd_worker)
    from bot import jobs_cmd, solve_cmd
    from runner import add_cli_commands

    solve_cmd.add_parser(sub)
    jobs_cmd.add_parser(sub)
    add_cli_commands(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("AI_FIX_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
