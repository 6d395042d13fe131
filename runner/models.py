"""Model aliases: the short names maintainers type in `/retry with MODEL`.

Each alias names a Senior (describes the change) and the Junior that pairs well with it (writes
the edits). Any full litellm model string is accepted too: it becomes the Senior and, unless told
otherwise, its own Junior.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelPair:
    senior: str
    junior: str


DEFAULT_ALIASES: Mapping[str, ModelPair] = {
    "sonnet": ModelPair("anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),
    "opus": ModelPair("anthropic/claude-opus-4-5", "anthropic/claude-sonnet-4-5"),
    "haiku": ModelPair("anthropic/claude-haiku-4-5", "anthropic/claude-haiku-4-5"),
    "gpt-4o": ModelPair("openai/gpt-4o", "openai/gpt-4o"),
    "gpt-4.1": ModelPair("openai/gpt-4.1", "openai/gpt-4.1"),
    "gpt-5": ModelPair("openai/gpt-5", "openai/gpt-4.1"),
    "o3": ModelPair("openai/o3", "openai/gpt-4.1"),
    "deepseek": ModelPair("deepseek/deepseek-reasoner", "deepseek/deepseek-chat"),
    "gemini": ModelPair("gemini/gemini-2.5-pro", "gemini/gemini-2.5-flash"),
}


class UnknownModel(ValueError):
    """The name is neither an alias nor something that looks like a litellm model string."""


def resolve(name: str, aliases: Mapping[str, ModelPair] = DEFAULT_ALIASES) -> ModelPair:
    """Turn an alias or a full `provider/model` string into a Senior/Junior pair.

    A bare word that is not an alias is refused rather than guessed: a typo such as `sonet`
    should get a reply listing the aliases, not a provider error minutes later.
    """
    key = name.strip()
    if key.lower() in aliases:
        return aliases[key.lower()]
    if "/" in key and all(part and not part.isspace() for part in key.split("/", 1)):
        return ModelPair(key, key)
    raise UnknownModel(key)
