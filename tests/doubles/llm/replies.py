"""What a test scripts: one `Reply` per provider call, plus the records of what was asked.

Replies are written in OpenAI vocabulary (`finish_reason="length"`); the wire layer translates them
for Anthropic (`stop_reason="max_tokens"`), so one script serves both kinds of model alias.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

ProviderKind = Literal["openai", "anthropic"]

# Headers whose values are credentials. They are replaced before a request is stored, so a failing
# assertion that prints `double.requests` can never leak a key into CI logs.
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie"})
REDACTED = "<redacted>"

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Deterministic stand-in for a tokenizer: words and punctuation marks count one each.

    Real token counts depend on the model's tokenizer; tests only need counts that are stable,
    non-zero for non-empty text, and grow with the text, so cost and budget code has something to add up.
    """
    return len(_TOKEN.findall(text))


@dataclass(frozen=True, repr=False)
class Reply:
    """One scripted answer to one provider call.

    Fields
    - content: assistant text (streamed in `chunk_chars`-sized deltas when the call streams).
    - finish_reason: OpenAI vocabulary: "stop", "length" (truncation), "tool_calls", "content_filter".
      Anthropic calls get the matching stop_reason ("end_turn", "max_tokens", "tool_use", "refusal");
      an Anthropic-native value ("end_turn", "stop_sequence", ...) is also accepted and passed through.
    - status/headers/error_message/error_type: status >= 400 answers with an error body in the
      provider's own format (OpenAI `{"error": {...}}`, Anthropic `{"type": "error", "error": {...}}`).
      `headers` are added to any response (e.g. `retry-after`).
    - delay: seconds to wait before sending anything (to exercise client timeouts).
    - malformed: answer 200 with a body that is not JSON (or, streaming, an SSE event that is not JSON).
    - drop_after_chunks: close the TCP connection after this many content deltas (streaming), or
      halfway through the JSON body (non-streaming): a provider that dies mid-response.
    - prompt_tokens/completion_tokens: override the deterministic usage counts.
    - model: override the model name echoed back (default: the requested model).
    """

    content: str = ""
    finish_reason: str = "stop"
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    error_message: str | None = None
    error_type: str | None = None
    delay: float = 0.0
    malformed: bool = False
    drop_after_chunks: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    chunk_chars: int = 24

    def __repr__(self) -> str:
        """Only the fields that differ from the defaults: keeps teardown failure messages readable."""
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            default = {} if f.default is MISSING else f.default  # only `headers` has a factory (dict)
            if value != default:
                shown.append(f"{f.name}={value!r}")
        return f"Reply({', '.join(shown)})"

    @property
    def is_error(self) -> bool:
        return self.status >= 400

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """An HTTP error in the provider's format, e.g. `Reply.error(500)` or `Reply.error(503)`."""
        return cls(
            status=status,
            error_message=message or f"LLM double: scripted HTTP {status}",
            error_type=error_type,
            headers=dict(headers or {}),
            delay=delay,
        )

    @classmethod
    def rate_limited(cls, retry_after: float = 1, message: str | None = None) -> Reply:
        """A 429 with `retry-after` (seconds), the shape both providers use for rate limits."""
        value = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
        return cls.error(
            429,
            message or "LLM double: scripted rate limit, please retry later",
            headers={"retry-after": value},
        )


def as_reply(value: Reply | str) -> Reply:
    """Let tests write plain strings where a successful text reply is meant."""
    return value if isinstance(value, Reply) else Reply(content=value)


@dataclass(frozen=True)
class Message:
    """A chat message reduced to what assertions need: role and plain text.

    Both wire formats are folded into this: OpenAI content-part lists and Anthropic content blocks
    are joined as text, and Anthropic's top-level `system` becomes a leading "system" message.
    """

    role: str
    content: str


@dataclass
class RecordedRequest:
    """What the double was asked, one per HTTP call, in arrival order.

    `body` is the parsed JSON as sent (it never holds credentials: those travel in headers, which are
    redacted). `reply` is what was answered; `unscripted` marks calls nothing was scripted for.
    """

    index: int
    path: str
    kind: ProviderKind
    model: str
    messages: list[Message]
    stream: bool
    headers: dict[str, str]
    body: dict[str, Any]
    reply: Reply | None = None
    unscripted: bool = False

    @property
    def system(self) -> str:
        """The system prompt text (all system messages joined), '' when there is none."""
        return "\n".join(m.content for m in self.messages if m.role == "system")

    @property
    def last_user(self) -> str:
        """Text of the last user message: what most assertions and echo responders want."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""

    @property
    def prompt_tokens(self) -> int:
        return sum(count_tokens(m.content) for m in self.messages)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased copy of the request headers with credential values replaced."""
    return {k.lower(): (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
