"""`ai-fix map`: the repo map for an issue text, for people and for tools.

    ai-fix map --repo PATH (--issue-file FILE | --issue TEXT) [--tokens N] [--json] [--explain]

`--json` prints exactly {"files": [ranked paths, best first], "map": "<rendered text>"} and
nothing else on stdout: other tools rely on that shape.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_TOKENS = 2048
EXPLAIN_FILES = 30


def cache_path() -> Path:
    """Where tags are cached: $AI_FIX_CACHE_DIR, else $XDG_CACHE_HOME/ai-fix, else ~/.cache/ai-fix."""
    base = os.environ.get("AI_FIX_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "ai-fix")
    return Path(base) / "repomap.sqlite3"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "map", help="print the repo map (or, with --json, the ranked files) for an issue text",
        description="Rank a repository's files and symbols for an issue text and print a map within a token "
                    "budget. Tokens are counted as len(text)/4, the same estimate the engine uses. Tags are cached "
                    "by git blob id in " + str(cache_path()) + ".")
    p.add_argument("--repo", type=Path, required=True, help="the work tree to map")
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--issue-file", type=Path, help="a file holding the issue text (title on the first line)")
    text.add_argument("--issue", help="the issue text itself")
    p.add_argument("--tokens", type=int, default=DEFAULT_TOKENS,
                   help=f"map budget in tokens, counted as len/4 (default {DEFAULT_TOKENS})")
    p.add_argument("--json", action="store_true",
                   help='print {"files": [ranked paths, best first], "map": "..."} and nothing else on stdout')
    p.add_argument("--explain", action="store_true",
                   help="say why each file ranked where it did (on stderr with --json)")
    p.set_defaults(func=cmd_map)


def _explain(ranking: Any) -> str:
    lines = ["", "Why these files (score = weighted sum of each source, scaled by kind):"]
    for n, f in enumerate(ranking.files[:EXPLAIN_FILES], 1):
        parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(f.evidence.items(), key=lambda kv: -kv[1]))
        lines.append(f"{n:3}. {f.path}  [{f.kind.value}] score {f.score:.3f}: {parts or 'no evidence'}")
        for reason in f.reasons[:4]:
            lines.append(f"       - {reason}")
    if ranking.unranked:
        lines.append(f"Not ranked ({len(ranking.unranked)} files): "
                     + ", ".join(f"{p} ({k.value})" for p, k in ranking.unranked[:20])
                     + (" ..." if len(ranking.unranked) > 20 else ""))
    return "\n".join(lines)


def cmd_map(args: argparse.Namespace) -> int:
    from runner.repomap import RepoMap, TagCache

    if not args.repo.is_dir():
        print(f"ai-fix map: {args.repo} is not a directory", file=sys.stderr)
        return 2
    if args.tokens <= 0:
        print("ai-fix map: --tokens must be positive", file=sys.stderr)
        return 2
    if args.issue_file is not None:
        try:
            issue = args.issue_file.read_text(errors="replace")
        except OSError as exc:
            print(f"ai-fix map: cannot read {args.issue_file}: {exc}", file=sys.stderr)
            return 2
    else:
        issue = args.issue
    cache = TagCache(cache_path())  # an unusable cache file falls back to memory, with a warning
    repo_map = RepoMap(args.repo, cache)
    ranking = repo_map.rank(issue)
    text = repo_map.render(ranking, args.tokens)
    cache.close()
    if args.json:
        sys.stdout.write(json.dumps({"files": ranking.paths, "map": text}) + "\n")
        if args.explain:
            print(_explain(ranking), file=sys.stderr)
    else:
        sys.stdout.write(text)
        if args.explain:
            print(_explain(ranking))
    return 0
