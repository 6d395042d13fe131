"""Programmable failures: error statuses, rate limits and delays for the next N matching requests.

Why: retry/backoff code paths (githubkit's ``auto_retry``, the App's own handling of 5xx and rate limits) only run
when GitHub misbehaves; the tests need to make it misbehave on demand and deterministically.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

SECONDARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
PRIMARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"


@dataclass
class Fault:
    """Answer (or delay) the next ``count`` requests whose method and path match."""

    method: str  # "*" or an HTTP method
    path: str  # regular expression, searched in the request path (no query string)
    count: int = 1
    status: int | None = None  # None: only delay, then handle normally
    delay: float = 0.0
    message: str = "Server Error"
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method.upper() == method.upper()) and re.search(self.path, path) is not None

    def body(self, docs: str) -> dict[str, Any]:
        return {"message": self.message, "documentation_url": docs, "status": str(self.status)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fault:
        """Build from the ``/_double/faults`` JSON: either explicit fields or ``kind`` (see ``make``)."""
        if "kind" in d:
            return make(d.pop("kind"), **d)
        return cls(**d)


def make(
    kind: str,
    method: str = "*",
    path: str = ".*",
    count: int = 1,
    retry_after: int = 1,
    reset_in: int = 1,
    delay: float = 0.0,
    status: int | None = None,
) -> Fault:
    """Named faults as GitHub produces them.

    kinds: ``error`` (500 or ``status``), ``bad_gateway`` (502), ``secondary`` (403 + retry-after),
    ``too_many`` (429 + retry-after), ``primary`` (403, x-ratelimit-remaining 0, x-ratelimit-reset), ``delay``.
    """
    if kind == "error":
        return Fault(method, path, count, status or 500, delay, "Server Error")
    if kind == "bad_gateway":
        return Fault(method, path, count, 502, delay, "Server Error")
    if kind == "secondary":
        return Fault(
            method,
            path,
            count,
            403,
            delay,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            {"retry-after": str(retry_after)},
        )
    if kind == "too_many":
        return Fault(
            method,
            path,
            count,
            429,
            delay,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            {"retry-after": str(retry_after)},
        )
    if kind == "primary":
        reset = int(time.time()) + reset_in
        return Fault(
            method,
            path,
            count,
            403,
            delay,
            "API rate limit exceeded for installation.",
            {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": "5000",
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-resource": "core",
            },
        )
    if kind == "delay":
        return Fault(method, path, count, None, delay)
    raise ValueError(f"unknown fault kind {kind!r}")


class Faults:
    """Thread-safe list of pending faults; the first matching one with hits left applies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.hits < f.count and f.matches(method, path):
                    f.hits += 1
                    return f
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.hits < f.count]

    @staticmethod
    def docs_for(fault: Fault) -> str:
        if fault.status in (403, 429):
            return PRIMARY_DOCS if "x-ratelimit-remaining" in fault.headers else SECONDARY_DOCS
        return "https://docs.github.com/rest"
