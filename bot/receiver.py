"""The webhook endpoint: verify, parse, decide, enqueue, answer. Nothing slow on this path.

The only I/O is one insert into the engine's database (the delivery's workflow, its id the delivery
GUID, off the event loop), so the delivery is durable before the answer and a redelivery finds it and
does nothing. API calls (permission checks, comments) and the job itself happen in a worker. An
ignored delivery, or an unsigned or wrongly signed request, leaves no trace at all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.jobs import Jobs
from bot.routing import Ignore, decide
from bot.settings import Settings
from bot.signature import verify
from runner import ModelPair

log = logging.getLogger("ai_fix.receiver")
MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub never delivers larger payloads


def create_app(settings: Settings, jobs: Jobs, aliases: Mapping[str, ModelPair] | None = None) -> FastAPI:
    secret = settings.webhook_secret().decode()  # githubkit keys the HMAC with the text secret
    app_id = settings.github_app_id
    model_aliases = dict(aliases or settings.model_aliases())
    app = FastAPI(title="ai-fix", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        if not verify(secret, body, request.headers.get("x-hub-signature-256")):
            log.warning("rejected delivery with a missing or bad signature")
            return JSONResponse({"error": "bad signature"}, status_code=401)
        event = request.headers.get("x-github-event", "")
        guid = request.headers.get("x-github-delivery", "")
        if not event or not guid or len(guid) > 100:
            return JSONResponse({"error": "missing X-GitHub-Event or X-GitHub-Delivery"}, status_code=400)
        try:
            payload: Any = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"error": "body is not a JSON object"}, status_code=400)
        decision = decide(event, payload, label=settings.trigger_label, app_id=app_id, aliases=model_aliases)
        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        if isinstance(decision, Ignore):
            log.info("delivery %s (%s.%s) ignored: %s", guid, event, action, decision.reason)
            return JSONResponse({"status": "ignored", "reason": decision.reason}, status_code=200)
        if not await run_in_threadpool(jobs.enqueue, guid, decision):
            log.info("delivery %s already seen: nothing to do", guid)
            return JSONResponse({"status": "duplicate"}, status_code=200)
        log.info("delivery %s (%s.%s) queued job %s", guid, event, action, guid)
        return JSONResponse({"status": "queued", "job": guid}, status_code=202)

    return app
