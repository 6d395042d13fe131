"""Run the LLM double standalone: `python -m tests.doubles.llm [--port 8090] [--reply-file FILE | --echo]`.

For benchmarks and manual runs of the App against a fake provider. Prints the api_base to use and
serves until interrupted.

Reply file formats
- `*.jsonl`: one reply per line, either a JSON string (the content) or an object with `Reply` fields
  plus an optional `"for_model"` (per-model queue), e.g.
  `{"content": "partial", "finish_reason": "length", "for_model": "anthropic/claude-sonnet-4-5"}`
  or `{"status": 429, "headers": {"retry-after": "1"}}`.
- any other file: plain text, replies separated by a line that is exactly `---8<---`
  (a scissors line: `---` alone would collide with diffs and Markdown).
Without a reply file, or with `--echo`, every request is answered with its last user message
(after the file's replies run out, with `--echo`).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .replies import RecordedRequest, Reply
from .server import LLMDouble

SEPARATOR = "---8<---"


def parse_reply_file(path: Path) -> list[tuple[Reply, str | None]]:
    """Replies (with their optional model) in file order; see the module docstring for the format."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        replies: list[tuple[Reply, str | None]] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            item: Any = json.loads(line)
            if isinstance(item, str):
                replies.append((Reply(content=item), None))
            elif isinstance(item, dict):
                model = item.pop("for_model", None)
                replies.append((Reply(**item), model))
            else:
                raise ValueError(f"{path}:{number}: expected a JSON string or object")
        return replies
    parts: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if line.rstrip("\r\n") == SEPARATOR:
            parts.append([])
        else:
            parts[-1].append(line)
    return [(Reply(content="".join(p).strip("\n")), None) for p in parts]


def echo(request: RecordedRequest) -> Reply:
    return Reply(content=request.last_user or "(no user message)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.doubles.llm", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port")
    parser.add_argument("--reply-file", type=Path, help="scripted replies, see module docstring")
    parser.add_argument("--echo", action="store_true", help="answer unscripted requests with the last user message")
    args = parser.parse_args(argv)

    double = LLMDouble(host=args.host, port=args.port)
    if args.reply_file:
        for reply, model in parse_reply_file(args.reply_file):
            double.script(reply, model=model)
    if args.echo or not args.reply_file:
        double.respond_with(echo)
    double.start()
    # SIGTERM (CI, `docker stop`, subprocess.terminate) stops as cleanly as Ctrl-C, printing the summary.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"api_base={double.api_base}", flush=True)
    print(
        f"  litellm: api_base={double.api_base!r} for openai/<model> and anthropic/<model>\n"
        f"  env: OPENAI_API_BASE={double.openai_api_base} ANTHROPIC_BASE_URL={double.api_base}",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        double.stop()
        print(f"served {len(double.requests)} request(s); problems: {double.problems() or 'none'}", flush=True)


if __name__ == "__main__":
    main()
