"""Maintainer commands in comments: `/retry`, `/retry with MODEL`, `/cancel`, `/ai-fix help`.

Only the first line counts and case does not matter. Other slash words (`/lgtm`, `/assign`) belong
to other bots and are not ours to answer; only `/ai-fix ...` and `/retry ...` typos get a reply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Retry:
    model: str | None = None


@dataclass(frozen=True)
class Cancel:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Unknown:
    text: str


Command = Retry | Cancel | Help | Unknown


def parse(body: str | None) -> Command | None:
    if not body:
        return None
    first = body.strip().splitlines()[0].strip() if body.strip() else ""
    words = first.split()
    if not words:
        return None
    head = words[0].lower()
    rest = words[1:]
    if head == "/retry":
        if not rest:
            return Retry()
        if len(rest) == 2 and rest[0].lower() == "with":
            return Retry(model=rest[1])
        return Unknown(first)
    if head == "/cancel":
        return Cancel() if not rest else Unknown(first)
    if head == "/ai-fix":
        if not rest or (len(rest) == 1 and rest[0].lower() == "help"):
            return Help()
        return Unknown(first)
    return None
