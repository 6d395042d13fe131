"""What a model call costs, and how we know: the operator's table, litellm's price list, a local server, or a guess.

The cost cap (`max_cost_usd`) holds only if every call is charged, so a call is priced, first match wins:
1. the operator's table (`AI_FIX_MODEL_PRICES`): a model string or glob, USD per million input and
   output tokens; it overrides everything below (a negotiated price, a free local model litellm lists);
2. litellm's price list, for the model litellm knows (even through a gateway: a proxy on localhost
   forwarding to a paid provider still costs what the provider charges);
3. zero, for a model litellm does not know, served on a local address (`is_local`): the operator's own
   hardware, which no provider bills;
4. a deliberately high estimate (`FALLBACK`, the top of today's list prices), marked `estimated`, for an
   unknown model on a remote address: the cap still holds, and a stop says the spending was a guess.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Price:
    """USD per million tokens, as providers list them."""

    input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


FALLBACK = Price(15.0, 75.0)
"""For an unknown model on a remote address: the top of today's list prices, so the cap errs towards stopping."""

_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")
"""Names that never lead to the public internet: RFC 6761 (localhost), mDNS (`.local`, also Kubernetes'
`cluster.local`), ICANN's private-use `.internal` (Docker's `host.docker.internal`), RFC 8375 (`home.arpa`),
and `.lan`, the usual router default (not delegated, so no public host can have it)."""

_PROVIDER_DEFAULT_BASES: Mapping[str, tuple[str, str | None]] = {
    "ollama": ("OLLAMA_API_BASE", "http://localhost:11434"),
    "ollama_chat": ("OLLAMA_API_BASE", "http://localhost:11434"),
    "llamafile": ("LLAMAFILE_API_BASE", "http://127.0.0.1:8080/v1"),
    "lm_studio": ("LM_STUDIO_API_BASE", None),
    "hosted_vllm": ("HOSTED_VLLM_API_BASE", None),
}
"""Where litellm sends a local provider's calls when no `api_base` is given: its variable, else its default
(read from litellm 1.80's providers), so `ollama/qwen2.5-coder` with no `--api-base` is known to be local."""


def is_local(api_base: str | None) -> bool:
    """Whether calls to this base reach a server on this machine or a private network, not a paid provider.

    Decided from the address as written, never by resolving it: a price must not change with DNS, and
    a name the operator gave a private host, which we cannot tell from a public one, can be priced in
    the table. Local: `localhost` and `*.localhost`; an IP address that is not globally routable
    (loopback, RFC 1918, CGNAT/Tailscale 100.64/10, link-local, IPv6 ULA); a single-label name (a
    Docker Compose service or Kubernetes short name such as `ollama`, which no public host has); the
    reserved private suffixes in `_LOCAL_SUFFIXES`. Anything else, an unparsable base included, is remote.
    """
    if not api_base:
        return False
    try:
        host = urlsplit(api_base if "//" in api_base else f"//{api_base}").hostname
    except ValueError:
        return False
    if not host:
        return False
    host = host.rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(_LOCAL_SUFFIXES)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global


def effective_base(model: str, api_base: str | None) -> str | None:
    """The base a call to `model` really goes to: the App's `api_base`, else a local provider's own default."""
    if api_base:
        return api_base
    variable, default = _PROVIDER_DEFAULT_BASES.get(model.split("/", 1)[0], ("", None))
    return (os.environ.get(variable) if variable else None) or default


def from_table(table: Mapping[str, Price], model: str) -> Price | None:
    """The operator's price for `model`: an exact key first, then the first glob (`*`, `?`, `[...]`) that
    matches, in the order the table lists them; case-sensitive, as litellm's model strings are."""
    if model in table:
        return table[model]
    return next((price for pattern, price in table.items() if fnmatch.fnmatchcase(model, pattern)), None)


def describe(price: Price) -> str:
    """`$15/$75 per million input/output tokens`: for messages."""
    return f"${price.input:g}/${price.output:g} per million input/output tokens"
