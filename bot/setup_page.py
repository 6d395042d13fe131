"""What `ai-fix serve` shows before the App is configured: how to configure it, not a traceback.

Webhooks are refused with 503 until a secret exists, because an unverifiable delivery must never
become a job.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>ai-fix: not configured</title></head>
<body style="font-family: sans-serif; max-width: 46em; margin: 3em auto; line-height: 1.5">
<h1>ai-fix is running, but not configured yet</h1>
<p>{problem}</p>
<ol>
<li>Create a GitHub App (Settings &rarr; Developer settings &rarr; GitHub Apps &rarr; New GitHub App) with the
permissions and events listed in <code>app.yml</code>, and the webhook URL <code>https://YOUR-HOST/webhook</code>.</li>
<li>Put its settings in the environment or in <code>.env</code> next to where you run ai-fix:
<pre>GITHUB_APP_ID=123456
GITHUB_PRIVATE_KEY_PATH=/path/to/app.private-key.pem
GITHUB_WEBHOOK_SECRET=the-secret-you-chose
ANTHROPIC_API_KEY=...   # or OPENAI_API_KEY, or AI_FIX_LLM_API_BASE for a local server</pre></li>
<li>Restart <code>./run serve</code>, install the App on a repository, and label an issue <code>ai-fix</code>.</li>
</ol></body></html>"""


def create_setup_app(problem: str) -> FastAPI:
    app = FastAPI(title="ai-fix (not configured)", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return _PAGE.format(problem=problem.replace("<", "&lt;"))

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "unconfigured", "problem": problem}, status_code=200)

    @app.post("/webhook")
    def webhook() -> JSONResponse:
        return JSONResponse({"error": f"ai-fix is not configured: {problem}"}, status_code=503)

    return app
