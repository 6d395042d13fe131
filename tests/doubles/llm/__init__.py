"""LLM provider double: a local OpenAI- and Anthropic-compatible endpoint scripted by tests.

Use `api_base=double.api_base` (the root URL, `http://127.0.0.1:PORT`) for both `openai/<model>` and
`anthropic/<model>` in litellm. The pytest fixture lives in `tests.doubles.llm.fixtures` so that
importing this package (benchmarks, the CLI) does not import pytest.
"""

from .replies import Message, ProviderKind, RecordedRequest, Reply, count_tokens
from .server import LLMDouble, Responder

__all__ = [
    "LLMDouble",
    "Message",
    "ProviderKind",
    "RecordedRequest",
    "Reply",
    "Responder",
    "count_tokens",
]
