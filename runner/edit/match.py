"""Find where a SEARCH text sits in a file, climbing a ladder of tolerances, and build its replacement.

Rungs, in order: `exact` lines; `whitespace` (trailing whitespace and CR ignored); `indent` (one uniform
indentation offset, counted in columns so tabs and spaces compare; the REPLACE is shifted by the same offset
and written in the file's style); `blank-lines` (the same three after dropping blank lines the model added at
the ends of SEARCH); `elision` (SEARCH and REPLACE hold the same number of `...` lines, each standing for
unchanged lines, and every quoted piece is found, in order). The first rung that finds the text decides: more
than one place there is refused, never guessed. There is no similarity-based rung: "closest lines" are only a
hint in the refusal.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from runner.edit.feedback import say

_ELISION = re.compile(r"^\s*(?:(?:#|//|/\*|<!--|--|;)\s*)?(?:\.\.\.|…)(?:\s.*)?$")
_TAB_SIZES = (4, 8)
_MAX_COMBINATIONS = 1000


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    shift: int | None = None
    """Columns to add to every REPLACE line, whose indentation is then rewritten (rung `indent` only)."""
    tab: int = 8
    """Tab size the columns were counted with."""
    file_tabs: bool = False
    """Whether the matched lines are indented with tabs (so the REPLACE is written with tabs)."""


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    lines: list[str]
    """Replacement lines without endings."""
    rung: str


@dataclass(frozen=True)
class Miss:
    kind: str
    """`ambiguous`, `not_found`, `already_applied`, `malformed`."""
    message: str


def is_elision(line: str) -> bool:
    return bool(_ELISION.match(line))


def locate(body: Sequence[str], search: str, replace: str) -> Found | Miss:
    """Where `search` sits in `body` (the file's lines without endings) and what replaces it."""
    want, rep = search.splitlines(), replace.splitlines()
    if not any(line.strip() for line in want):
        return Miss("malformed", say("search_empty"))
    found = _ladder(body, want, rep)
    if found is not None:
        if isinstance(found, Found) and _already_there(body, found, want, rep):
            return Miss("already_applied", say("already_applied_around"))
        return found
    if any(is_elision(line) for line in want):
        return _elided(body, want, rep)
    return _not_found(body, want, rep)


def _ladder(body: Sequence[str], want: list[str], rep: list[str]) -> Found | Miss | None:
    rung, hits = candidates(body, want)
    if not hits:
        trimmed = _trim_blank_ends(want, rep)
        if trimmed is None:
            return None
        (want, rep), (rung, hits) = trimmed, candidates(body, trimmed[0])
        if not hits:
            return None
        rung = "blank-lines"
    if len(hits) > 1:
        return _ambiguous(hits, rung)
    hit = hits[0]
    lines = shift_lines(rep, hit)
    if lines is None:
        return Miss("malformed", say("negative_indentation"))
    return Found(hit.start, hit.end, lines, rung)


def candidates(body: Sequence[str], want: list[str]) -> tuple[str, list[Hit]]:
    """The first rung finding `want` in `body`, with every place it finds it there."""
    n = len(want)
    spans = range(len(body) - n + 1)
    exact = [Hit(i, i + n) for i in spans if list(body[i:i + n]) == want]
    if exact:
        return "exact", exact
    stripped = [line.rstrip() for line in body]
    want_r = [line.rstrip() for line in want]
    loose = [Hit(i, i + n) for i in spans if stripped[i:i + n] == want_r]
    if loose:
        return "whitespace", loose
    return "indent", _indent_hits(stripped, want_r)


def _indent_hits(body: list[str], want: list[str]) -> list[Hit]:
    if not any(want):
        return []
    uses_tabs = any(line.startswith("\t") for line in [*body, *want])
    hits: dict[int, Hit] = {}
    for size in _TAB_SIZES if uses_tabs else (8,):
        for i in range(len(body) - len(want) + 1):
            if i not in hits:
                shift = _uniform_shift(body[i:i + len(want)], want, size)
                if shift is not None:
                    file_tabs = any(body[j].startswith("\t") for j in range(i, i + len(want)))
                    hits[i] = Hit(i, i + len(want), shift, size, file_tabs)
    return [hits[i] for i in sorted(hits)]


def _uniform_shift(have: Sequence[str], want: Sequence[str], tab: int) -> int | None:
    shift: int | None = None
    for line, wanted in zip(have, want, strict=True):
        if not line or not wanted:
            if line or wanted:
                return None
            continue
        if line.lstrip() != wanted.lstrip():
            return None
        delta = _columns(line, tab) - _columns(wanted, tab)
        if shift is None:
            shift = delta
        elif delta != shift:
            return None
    return shift


def _columns(line: str, tab: int) -> int:
    return len(line[:len(line) - len(line.lstrip())].expandtabs(tab))


def shift_lines(rep: Sequence[str], hit: Hit) -> list[str] | None:
    """REPLACE lines moved by the hit's shift, indentation written with tabs when the file uses them."""
    if hit.shift is None:
        return list(rep)
    out: list[str] = []
    for line in rep:
        if not line.strip():
            out.append("")
            continue
        col = _columns(line, hit.tab) + hit.shift
        if col < 0:
            return None
        indent = "\t" * (col // hit.tab) + " " * (col % hit.tab) if hit.file_tabs else " " * col
        out.append(indent + line.lstrip())
    return out


def _trim_blank_ends(want: list[str], rep: list[str]) -> tuple[list[str], list[str]] | None:
    lead, tail = _blank_run(want), _blank_run(want[::-1])
    if not lead and not tail:
        return None
    rep_lead, rep_tail = min(lead, _blank_run(rep)), min(tail, _blank_run(rep[::-1]))
    return want[lead:len(want) - tail], rep[rep_lead:max(rep_lead, len(rep) - rep_tail)]


def _blank_run(lines: Sequence[str]) -> int:
    return next((i for i, line in enumerate(lines) if line.strip()), len(lines))


def _ambiguous(hits: Sequence[Hit], rung: str) -> Miss:
    return Miss("ambiguous", say("search_ambiguous", rung=rung, lines=[h.start + 1 for h in hits]))


def _already_there(body: Sequence[str], found: Found, want: list[str], rep: list[str]) -> bool:
    """A REPLACE that contains the SEARCH (adds lines around it) and is already present around the match."""
    rep_r, want_r = [line.strip() for line in rep], [line.strip() for line in want]
    if len(rep_r) <= len(want_r) or not any(want_r):
        return False
    for k in range(len(rep_r) - len(want_r) + 1):
        if rep_r[k:k + len(want_r)] == want_r:
            top = found.start - k
            if top >= 0 and [line.strip() for line in body[top:top + len(rep_r)]] == rep_r:
                return True
    return False


def _elided(body: Sequence[str], want: list[str], rep: list[str]) -> Found | Miss:
    pieces, rep_pieces = _split(want), _split(rep)
    if len(pieces) != len(rep_pieces):
        return Miss("malformed", say("elisions_differ", search_elisions=len(pieces) - 1,
                                     replace_elisions=len(rep_pieces) - 1))
    if not pieces[0] or not pieces[-1] or not all(any(line.strip() for line in p) for p in pieces):
        return Miss("malformed", say("elision_at_an_end"))
    per_piece: list[tuple[str, list[Hit]]] = [candidates(body, piece) for piece in pieces]
    for number, (_, hits) in enumerate(per_piece, start=1):
        if not hits:
            miss = _not_found(body, pieces[number - 1], [])
            return Miss("not_found", say("elided_part_not_found", part=number, reason=miss.message))
    chains = _chains([hits for _, hits in per_piece])
    if not chains:
        return Miss("not_found", say("elided_parts_out_of_order"))
    if len(chains) > 1:
        spans = sorted({(chain[0].start + 1, chain[-1].end) for chain in chains})
        return Miss("ambiguous", say("elided_search_ambiguous", ways=len(chains), spans=spans))
    chain = chains[0]
    lines: list[str] = []
    for number, hit in enumerate(chain):
        moved = shift_lines(rep_pieces[number], hit)
        if moved is None:
            return Miss("malformed", say("elided_negative_indentation"))
        if number:
            lines.extend(body[chain[number - 1].end:hit.start])
        lines.extend(moved)
    return Found(chain[0].start, chain[-1].end, lines, "elision")


def _split(lines: list[str]) -> list[list[str]]:
    pieces: list[list[str]] = [[]]
    for line in lines:
        if is_elision(line):
            pieces.append([])
        else:
            pieces[-1].append(line)
    return pieces


def _chains(options: list[list[Hit]]) -> list[list[Hit]]:
    chains: list[list[Hit]] = [[hit] for hit in options[0]]
    for hits in options[1:]:
        chains = [[*chain, hit] for chain in chains for hit in hits if hit.start >= chain[-1].end]
        chains = chains[:_MAX_COMBINATIONS]
    return chains


def _not_found(body: Sequence[str], want: list[str], rep: list[str]) -> Miss:
    if any(line.strip() for line in rep) and rep != want:
        _, there = candidates(body, rep)
        if there:
            return Miss("already_applied", say("already_applied_at", line=there[0].start + 1))
    bare = [line.strip() for line in want]
    for i in range(len(body) - len(want) + 1):
        if [line.strip() for line in body[i:i + len(want)]] == bare:
            return Miss("not_found", say("relative_indentation_differs", first=i + 1, last=i + len(want),
                                         quoted=quote(body[i:i + len(want)])))
    near = closest(body, want)
    if near is None:
        return Miss("not_found", say("nothing_close"))
    start, end = near
    return Miss("not_found", say("closest_lines", first=start + 1, last=end, quoted=quote(body[start:end])))


def closest(body: Sequence[str], want: list[str], floor: float = 0.5) -> tuple[int, int] | None:
    """The window of `body` most similar to `want` (only ever a hint shown to the model)."""
    target = "\n".join(line.strip() for line in want)
    width = max(1, len(want))
    best, at = floor, -1
    matcher = difflib.SequenceMatcher(None, b=target, autojunk=False)
    for i in range(max(1, len(body) - width + 1)):
        matcher.set_seq1("\n".join(line.strip() for line in body[i:i + width]))
        if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best:
            ratio = matcher.ratio()
            if ratio > best:
                best, at = ratio, i
    return None if at < 0 else (at, min(len(body), at + width))


def quote(lines: Sequence[str]) -> str:
    """Lines in a code fence longer than any backtick run they start with."""
    fence = "```"
    while any(line.lstrip().startswith(fence) for line in lines):
        fence += "`"
    return "\n".join([fence, *lines, fence])

