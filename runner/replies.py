"""Text in and out of an attempt's conversation that is not a prompt: reading the models' replies (the
Senior's list of files, its review's verdict), the paths to suggest for a wrong one, the fence that
frames shown files, and the one-line feedback templates on a whole reply.

Pure functions of text, so the engine's conversation reads as the flow and these are tested alone.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from runner import prompts


def fence_for(texts: Sequence[str]) -> str:
    """A fence longer than any backtick run at line starts in the shown files."""
    fence = "```"
    while any(line.lstrip().startswith(fence) for text in texts for line in text.splitlines()):
        fence += "`"
    return fence


_FILES = re.compile(r"<files>(.*?)(?:</files>|$)", re.S)


def parse_file_list(reply: str) -> list[str]:
    """Paths between <files> tags (or, without tags, lines that look like paths)."""
    match = _FILES.search(reply)
    lines = match.group(1).splitlines() if match else reply.splitlines()
    paths = []
    for line in lines:
        path = line.strip().strip("-*`'\" ").removeprefix("./")
        if path and " " not in path and ("/" in path or "." in path):
            paths.append(path)
    return list(dict.fromkeys(paths))


def closest_paths(path: str, files: Sequence[str]) -> list[str]:
    name = path.rsplit("/", 1)[-1]
    same_name = [f for f in files if f.rsplit("/", 1)[-1] == name]
    return (same_name or difflib.get_close_matches(path, files, n=3, cutoff=0.6))[:3]


def feedback_line(template: str, **variables: object) -> str:
    """One line of feedback from its template, without the newline `prompts.render` ends every message with: an
    item of the errors the Junior is shown in `junior_fix.md.j2` (and the report lists)."""
    return prompts.render(template, **variables).rstrip("\n")


def review_approves(review: str) -> bool:
    first = next((line.strip().strip("*").upper() for line in review.splitlines() if line.strip()), "")
    return first.startswith(("LGTM", "NO DEFECTS"))
