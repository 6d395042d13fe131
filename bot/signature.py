"""Webhook signature check: githubkit's HMAC over the raw body, behind a guard on the header.

githubkit (`githubkit.webhooks.verify`) signs the raw bytes and compares in constant time, but on its
own it is not safe to call with what arrives in `X-Hub-Signature-256` (measured on githubkit 0.16.1):
- a missing header (`None`) raises AttributeError, and a non-ASCII one (Starlette decodes header bytes
  as latin-1) raises TypeError from `hmac.compare_digest`: either would be a 500 where we owe a 401;
- any header not starting with `sha256=` is checked as HMAC-SHA1, so a valid `sha1=` signature passes.
The guard below turns all three into a plain "no", so only a SHA-256 signature is ever accepted.
"""

from __future__ import annotations

from githubkit import webhooks

_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256` for `body`, as GitHub computes it (the secret keys the HMAC as UTF-8)."""
    return webhooks.sign(secret, body, "sha256")


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True only for a well-formed `sha256=` header matching these exact bytes; never raises."""
    if not header or not header.isascii() or not header.startswith(_PREFIX):
        return False
    return webhooks.verify(secret, body, header.strip())
