"""The two wire formats litellm speaks to the double: OpenAI chat completions and Anthropic messages.

Pure functions from parsed JSON to normalised records, and from a `Reply` to response bodies or SSE
events. Kept free of any server code so the shapes can be read (and fixed) in one place.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .replies import Message, ProviderKind, Reply, count_tokens

# Paths each provider kind is served on. litellm posts `<api_base>/chat/completions` for `openai/...`
# and `<api_base>/v1/messages` for `anthropic/...` (it appends `/v1/messages` unless the base already
# ends with it). With the root URL as api_base both land on the first two paths; the `/v1` OpenAI
# variant is served too because OPENAI_API_BASE is conventionally written with `/v1`.
OPENAI_PATHS = frozenset({"/chat/completions", "/v1/chat/completions"})
ANTHROPIC_PATHS = frozenset({"/v1/messages"})

_TO_ANTHROPIC_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_TO_OPENAI_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}

_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
}
_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",  # undocumented by Anthropic; a gateway 503. (overloaded_error makes litellm say 500)
    529: "overloaded_error",
}


def kind_for_path(path: str) -> ProviderKind | None:
    if path in OPENAI_PATHS:
        return "openai"
    if path in ANTHROPIC_PATHS:
        return "anthropic"
    return None


def _text_of(content: Any) -> str:
    """Plain text of a message's content in either format (string, OpenAI parts, Anthropic blocks)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                if part.get("type") == "text" or "text" in part:
                    parts.append(str(part.get("text", "")))
                elif part.get("type") == "tool_result":
                    parts.append(_text_of(part.get("content")))
        return "\n".join(parts)
    return str(content)


def parse_messages(kind: ProviderKind, body: dict[str, Any]) -> list[Message]:
    """Normalise the conversation of either format to role/text, system prompt first."""
    messages: list[Message] = []
    if kind == "anthropic" and body.get("system"):
        messages.append(Message("system", _text_of(body["system"])))
    for raw in body.get("messages") or []:
        if isinstance(raw, dict):
            messages.append(Message(str(raw.get("role", "")), _text_of(raw.get("content"))))
    return messages


def finish_reason_for(kind: ProviderKind, reply: Reply) -> str:
    if kind == "anthropic":
        return _TO_ANTHROPIC_STOP.get(reply.finish_reason, reply.finish_reason)
    return _TO_OPENAI_FINISH.get(reply.finish_reason, reply.finish_reason)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


def usage_for(reply: Reply, messages: list[Message]) -> Usage:
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = sum(count_tokens(m.content) for m in messages)
    completion = reply.completion_tokens
    if completion is None:
        completion = count_tokens(reply.content)
    return Usage(prompt, completion)


def new_id(kind: ProviderKind) -> str:
    """Ids shaped like the providers' (`chatcmpl-...`, `msg_01...`) so log and trace code sees the real thing."""
    if kind == "anthropic":
        return "msg_01" + secrets.token_hex(12)
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def request_id_header(kind: ProviderKind) -> dict[str, str]:
    if kind == "anthropic":
        return {"request-id": "req_01" + secrets.token_hex(12)}
    return {"x-request-id": "req_" + uuid.uuid4().hex}


def error_body(kind: ProviderKind, status: int, message: str, error_type: str | None = None) -> dict[str, Any]:
    """An error body exactly as the provider shapes it, so litellm maps it to the right exception."""
    if kind == "anthropic":
        return {
            "type": "error",
            "error": {"type": error_type or _ANTHROPIC_ERRORS.get(status, "api_error"), "message": message},
        }
    default_type, code = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {"error": {"message": message, "type": error_type or default_type, "param": None, "code": code}}


def completion_body(
    kind: ProviderKind, reply: Reply, model: str, messages: list[Message], response_id: str
) -> dict[str, Any]:
    """The non-streaming success body."""
    usage = usage_for(reply, messages)
    if kind == "anthropic":
        return {
            "id": response_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": reply.content}],
            "stop_reason": finish_reason_for(kind, reply),
            "stop_sequence": None,
            "usage": _anthropic_usage(usage.prompt_tokens, usage.completion_tokens),
        }
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": finish_reason_for(kind, reply),
            }
        ],
        "usage": _openai_usage(usage),
        "service_tier": "default",
        "system_fingerprint": "fp_llmdouble",
    }


def _openai_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _anthropic_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


@dataclass(frozen=True)
class SSEEvent:
    """One server-sent event.

    `content` marks events carrying a text delta (what `drop_after_chunks` counts); `head` marks the
    opening events sent before any text (a dropped stream always gets those, as a real one would).
    """

    data: str
    event: str | None = None
    content: bool = False
    head: bool = False

    def encode(self) -> bytes:
        prefix = f"event: {self.event}\n" if self.event else ""
        return f"{prefix}data: {self.data}\n\n".encode()


def _chunks(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream_events(
    kind: ProviderKind,
    reply: Reply,
    model: str,
    messages: list[Message],
    response_id: str,
    include_usage: bool,
) -> list[SSEEvent]:
    """The full SSE conversation for a streamed reply, in the provider's event grammar."""
    if kind == "anthropic":
        return _anthropic_stream(reply, model, messages, response_id)
    return _openai_stream(reply, model, messages, response_id, include_usage)


def _openai_stream(
    reply: Reply, model: str, messages: list[Message], response_id: str, include_usage: bool
) -> list[SSEEvent]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_llmdouble",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            body["usage"] = None
        return body

    events = [SSEEvent(json.dumps(chunk({"role": "assistant", "content": "", "refusal": None}, None)), head=True)]
    events += [
        SSEEvent(json.dumps(chunk({"content": piece}, None)), content=True)
        for piece in _chunks(reply.content, reply.chunk_chars)
    ]
    events.append(SSEEvent(json.dumps(chunk({}, finish_reason_for("openai", reply)))))
    if include_usage:
        usage_chunk = chunk({}, None)
        usage_chunk["choices"] = []
        usage_chunk["usage"] = _openai_usage(usage_for(reply, messages))
        events.append(SSEEvent(json.dumps(usage_chunk)))
    events.append(SSEEvent("[DONE]"))
    return events


def _anthropic_stream(reply: Reply, model: str, messages: list[Message], response_id: str) -> list[SSEEvent]:
    usage = usage_for(reply, messages)

    def ev(name: str, data: dict[str, Any], content: bool = False, head: bool = False) -> SSEEvent:
        return SSEEvent(json.dumps({"type": name, **data}), event=name, content=content, head=head)

    events = [
        ev(
            "message_start",
            {
                "message": {
                    "id": response_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": _anthropic_usage(usage.prompt_tokens, 1),
                }
            },
            head=True,
        ),
        ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}, head=True),
        ev("ping", {}, head=True),
    ]
    events += [
        ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}}, content=True)
        for piece in _chunks(reply.content, reply.chunk_chars)
    ]
    events += [
        ev("content_block_stop", {"index": 0}),
        ev(
            "message_delta",
            {
                "delta": {"stop_reason": finish_reason_for("anthropic", reply), "stop_sequence": None},
                "usage": {"output_tokens": usage.completion_tokens},
            },
        ),
        ev("message_stop", {}),
    ]
    return events


def malformed_stream(kind: ProviderKind) -> list[SSEEvent]:
    """A stream whose first event is not JSON: what a broken proxy in front of a provider produces."""
    broken = '{"choices": [{"delta": {"content": "unterminated'
    if kind == "anthropic":
        return [SSEEvent(broken, event="content_block_delta")]
    return [SSEEvent(broken), SSEEvent("[DONE]")]


MALFORMED_BODY = b"<html><body>502 Bad Gateway</body></html> this is not JSON {"
