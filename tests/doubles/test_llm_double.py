"""The LLM double, exercised through real litellm calls (no mocks between litellm and the socket).

These double as executable documentation of the api_base values and the litellm behaviours the App
relies on: exception types, usage, offline cost, stream shapes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the cost map (no internet)

import litellm  # noqa: E402
from litellm.exceptions import (  # noqa: E402
    APIConnectionError,
    InternalServerError,
    MidStreamFallbackError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
)

from tests.doubles.llm import LLMDouble, RecordedRequest, Reply, count_tokens, fixtures  # noqa: E402
from tests.doubles.llm.__main__ import parse_reply_file  # noqa: E402
from tests.doubles.llm.replies import REDACTED  # noqa: E402

llm_double = fixtures.llm_double  # the fixture, made visible to this module's tests

OPENAI = "openai/gpt-4o"
ANTHROPIC = "anthropic/claude-sonnet-4-5"
KEY = "sk-double-secret-key"
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Fix issue #1, please."},
]
REPO_ROOT = Path(__file__).resolve().parents[2]

# litellm 1.106.2 builds a pydantic schema lazily on the first ModelResponse, and pydantic warns about a
# `ReadOnly` TypedDict item in litellm's own types. Harmless, and not ours to fix: ignored by exact text.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Item 'summary' on TypedDict class 'ChatCompletionReasoningItem' is using the `ReadOnly`:UserWarning"
)


@pytest.fixture(autouse=True)
def _quiet_litellm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """litellm prints a 'Give Feedback' banner on every exception unless told not to."""
    monkeypatch.setattr(litellm, "suppress_debug_info", True)
    yield


def call(double: LLMDouble, model: str, **kwargs: Any) -> Any:
    params: dict[str, Any] = {"messages": MESSAGES, "api_base": double.api_base, "api_key": KEY, "num_retries": 0}
    return litellm.completion(model=model, **{**params, **kwargs})


def stream_text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def finish_reasons(chunks: list[Any]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


# ----- success paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "wire_model", "path", "key_header"),
    [
        (OPENAI, "gpt-4o", "/chat/completions", "authorization"),
        (ANTHROPIC, "claude-sonnet-4-5", "/v1/messages", "x-api-key"),
    ],
)
def test_completion_round_trip(llm_double: LLMDouble, model: str, wire_model: str, path: str, key_header: str) -> None:
    llm_double.script("Here is the fix: change `a` to `b`.")

    response = call(llm_double, model)

    assert response.choices[0].message.content == "Here is the fix: change `a` to `b`."
    assert response.choices[0].finish_reason == "stop"
    assert response.model == wire_model
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    assert litellm.completion_cost(completion_response=response) > 0

    (request,) = llm_double.requests
    assert (request.path, request.model, request.stream) == (path, wire_model, False)
    assert request.kind == model.split("/")[0]
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "You are terse."),
        ("user", "Fix issue #1, please."),
    ]
    assert request.system == "You are terse."
    assert request.headers[key_header] == REDACTED
    assert KEY not in repr(request)


@pytest.mark.parametrize("model", [OPENAI, ANTHROPIC])
def test_stream_round_trip_with_truncation_and_usage(llm_double: LLMDouble, model: str) -> None:
    text = "A long answer that the provider cut off because max_tokens was reached"
    llm_double.script(Reply(text, finish_reason="length", chunk_chars=10))

    chunks = list(call(llm_double, model, stream=True, stream_options={"include_usage": True}))

    assert stream_text(chunks) == text
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 7
    assert finish_reasons(chunks) == ["length"]
    built = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    usage: Any = getattr(built, "usage", None)  # litellm declares it on the response dynamically
    assert usage.completion_tokens == count_tokens(text) and usage.prompt_tokens > 0
    assert llm_double.requests[0].stream is True


def test_acompletion_stream(llm_double: LLMDouble) -> None:
    llm_double.script("async answer", model=ANTHROPIC)

    async def run() -> list[Any]:
        response = await litellm.acompletion(
            model=ANTHROPIC, messages=MESSAGES, api_base=llm_double.api_base, api_key=KEY, stream=True
        )
        return [chunk async for chunk in response]

    chunks = asyncio.run(run())
    assert stream_text(chunks) == "async answer"
    assert finish_reasons(chunks) == ["stop"]


def test_per_model_queues_script_senior_and_junior_separately(llm_double: LLMDouble) -> None:
    llm_double.script("plan from senior", "review from senior", model=ANTHROPIC)
    llm_double.script("patch from junior", model="gpt-4o-mini")

    junior = call(llm_double, "openai/gpt-4o-mini")
    senior_1 = call(llm_double, ANTHROPIC)
    senior_2 = call(llm_double, ANTHROPIC)

    assert junior.choices[0].message.content == "patch from junior"
    assert senior_1.choices[0].message.content == "plan from senior"
    assert senior_2.choices[0].message.content == "review from senior"
    assert [r.model for r in llm_double.requests] == ["gpt-4o-mini", "claude-sonnet-4-5", "claude-sonnet-4-5"]


def test_responder_sees_the_parsed_request(llm_double: LLMDouble) -> None:
    seen: list[RecordedRequest] = []

    def responder(request: RecordedRequest) -> str:
        seen.append(request)
        return f"{request.kind}:{request.model}:{request.stream}:{request.last_user}"

    llm_double.respond_with(responder)
    response = call(llm_double, ANTHROPIC)

    assert response.choices[0].message.content == "anthropic:claude-sonnet-4-5:False:Fix issue #1, please."
    assert seen[0].system == "You are terse."


@pytest.mark.parametrize(
    ("env_name", "model", "base_attr"),
    [
        ("OPENAI_API_BASE", OPENAI, "openai_api_base"),
        ("OPENAI_BASE_URL", OPENAI, "api_base"),
        ("ANTHROPIC_API_BASE", ANTHROPIC, "api_base"),
        ("ANTHROPIC_BASE_URL", ANTHROPIC, "api_base"),
    ],
)
def test_env_var_base_urls_reach_the_double(
    llm_double: LLMDouble, monkeypatch: pytest.MonkeyPatch, env_name: str, model: str, base_attr: str
) -> None:
    monkeypatch.setenv(env_name, getattr(llm_double, base_attr))
    llm_double.script("via env")

    response = litellm.completion(model=model, messages=MESSAGES, api_key=KEY, num_retries=0)

    assert response.choices[0].message.content == "via env"


# ----- failure paths --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [OPENAI, ANTHROPIC])
def test_429_surfaces_as_rate_limit_error_with_retry_after(llm_double: LLMDouble, model: str) -> None:
    llm_double.script(Reply.rate_limited(retry_after=7))

    with pytest.raises(RateLimitError) as caught:
        call(llm_double, model)

    # litellm quirk: `.response` is a placeholder httpx.Response with no headers; the provider's headers
    # are on `.litellm_response_headers`.
    assert getattr(caught.value, "litellm_response_headers", {})["retry-after"] == "7"
    assert len(llm_double.requests) == 1  # num_retries=0 means no hidden SDK retries


@pytest.mark.parametrize(
    ("model", "status", "error"),
    [
        (OPENAI, 500, InternalServerError),
        (OPENAI, 503, ServiceUnavailableError),
        (ANTHROPIC, 500, InternalServerError),
        (ANTHROPIC, 503, ServiceUnavailableError),
        # Anthropic's "overloaded_error" (HTTP 529) is mapped by litellm to InternalServerError.
        (ANTHROPIC, 529, InternalServerError),
    ],
)
def test_server_errors_surface(llm_double: LLMDouble, model: str, status: int, error: type[Exception]) -> None:
    llm_double.script(Reply.error(status, "upstream exploded"))

    with pytest.raises(error, match="upstream exploded"):
        call(llm_double, model)


@pytest.mark.parametrize("model", [OPENAI, ANTHROPIC])
def test_stream_dropped_mid_way_raises(llm_double: LLMDouble, model: str) -> None:
    llm_double.script(Reply("x" * 200, chunk_chars=10, drop_after_chunks=3))

    with pytest.raises(MidStreamFallbackError, match="peer closed connection"):
        list(call(llm_double, model, stream=True))


@pytest.mark.parametrize("model", [OPENAI, ANTHROPIC])
def test_malformed_body_raises(llm_double: LLMDouble, model: str) -> None:
    llm_double.script(Reply("never seen", malformed=True))

    with pytest.raises((InternalServerError, APIConnectionError)):
        call(llm_double, model)


def test_malformed_openai_stream_raises(llm_double: LLMDouble) -> None:
    llm_double.script(Reply("never seen", malformed=True))

    with pytest.raises(MidStreamFallbackError):
        list(call(llm_double, OPENAI, stream=True))


def test_malformed_anthropic_stream_is_swallowed_by_litellm(llm_double: LLMDouble) -> None:
    """litellm buffers undecodable Anthropic SSE data as 'partial JSON' and drops it at the end, so the
    call "succeeds" with empty text and finish_reason "stop". The App must treat empty output as a
    failure; this test pins the behaviour so a litellm upgrade that changes it is noticed."""
    llm_double.script(Reply("never seen", malformed=True))

    chunks = list(call(llm_double, ANTHROPIC, stream=True))

    assert stream_text(chunks) == ""


def test_delay_triggers_client_timeout(llm_double: LLMDouble) -> None:
    llm_double.script(Reply("too late", delay=3))

    with pytest.raises(Timeout):
        call(llm_double, OPENAI, timeout=0.3)


# ----- bookkeeping ----------------------------------------------------------------------------------


def test_unscripted_request_answers_500_and_is_reported() -> None:
    with LLMDouble() as double:
        with pytest.raises(InternalServerError, match="no scripted reply"):
            call(double, OPENAI)
        assert double.requests[0].unscripted
        assert any("unscripted openai request #0" in p for p in double.problems())
        double.allow_unscripted = True
        assert double.problems() == []


def test_unconsumed_replies_are_reported() -> None:
    with LLMDouble() as double:
        double.script("used", "left over")
        call(double, OPENAI)
        assert double.problems() == ["scripted reply never requested: " + repr(Reply("left over"))]
        with pytest.raises(AssertionError, match="left over"):
            double.assert_clean()


def test_anthropic_with_v1_base_is_a_reported_misroute() -> None:
    """litellm appends `/v1/messages` to an Anthropic api_base, so `.../v1` posts `/v1/v1/messages`,
    which real Anthropic would 404 too. The double refuses it loudly instead of hiding the misconfig."""
    with LLMDouble() as double:
        double.allow_leftovers = True
        double.script("unreachable")
        with pytest.raises(NotFoundError):
            call(double, ANTHROPIC, api_base=double.openai_api_base)
        assert "/v1/v1/messages" in double.problems()[0]


# ----- wire format, without litellm in between -------------------------------------------------------


def test_openai_sse_wire_format(llm_double: LLMDouble) -> None:
    llm_double.script(Reply("hi", chunk_chars=1))
    body = {"model": "gpt-4o", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}

    raw = httpx.post(f"{llm_double.url}/v1/chat/completions", json=body).text

    events = [line.removeprefix("data: ") for line in raw.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    assert len(events) == 1 + 2 + 1 + 1 + 1  # role, 2 deltas, finish, usage, DONE
    assert '"finish_reason": "stop"' in events[3] and '"choices": []' in events[4]


def test_anthropic_sse_wire_format(llm_double: LLMDouble) -> None:
    llm_double.script(Reply("hi", chunk_chars=1))
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": MESSAGES[1:], "stream": True}

    raw = httpx.post(f"{llm_double.url}/v1/messages", json=body).text

    names = [block.split("\n")[0].removeprefix("event: ") for block in raw.split("\n\n") if block]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


# ----- standalone mode -------------------------------------------------------------------------------


def test_reply_file_formats(tmp_path: Path) -> None:
    text_file = tmp_path / "replies.txt"
    text_file.write_text("first\n--- a/diff header stays\n---8<---\nsecond\n")
    jsonl_file = tmp_path / "replies.jsonl"
    jsonl_file.write_text('"plain"\n{"content": "cut", "finish_reason": "length", "for_model": "gpt-4o"}\n')

    assert [r.content for r, _ in parse_reply_file(text_file)] == ["first\n--- a/diff header stays", "second"]
    assert parse_reply_file(jsonl_file) == [
        (Reply("plain"), None),
        (Reply("cut", finish_reason="length"), "gpt-4o"),
    ]


def test_cli_prints_api_base_and_serves_the_reply_file(tmp_path: Path) -> None:
    reply_file = tmp_path / "replies.txt"
    reply_file.write_text("from the file")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.doubles.llm", "--port", "0", "--reply-file", str(reply_file)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline().strip()
        assert first_line.startswith("api_base=http://127.0.0.1:")
        api_base = first_line.removeprefix("api_base=")
        body = {"model": "gpt-4o", "messages": MESSAGES}
        answer = httpx.post(f"{api_base}/chat/completions", json=body, timeout=10).json()
        assert answer["choices"][0]["message"]["content"] == "from the file"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
