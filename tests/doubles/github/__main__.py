"""Run the GitHub double by hand: ``python -m tests.doubles.github --port 8080 [--repo owner/name=PATH ...]``.

Why: to point a locally running App (or curl, or git) at a GitHub that needs no network and no real App.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from .server import GitHubDouble


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.doubles.github", description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="OWNER/NAME=PATH",
        help="serve a copy of the local git repository PATH as OWNER/NAME (repeatable)",
    )
    parser.add_argument("--public", action="store_true", help="make the repositories public")
    parser.add_argument("--slug", default="ai-fix-test", help="App slug")
    args = parser.parse_args(argv)
    # Stop cleanly on Ctrl-C and on SIGTERM (SIGINT is ignored for background jobs of non-interactive shells).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    double = GitHubDouble(app_slug=args.slug, port=args.port).start()
    try:
        repos = []
        for spec in args.repo or ["octo-org/demo="]:
            name, _, path = spec.partition("=")
            if path:
                double.add_repo(name, source=Path(path).expanduser(), private=not args.public)
            else:
                double.add_repo(name, {"README.md": "# demo\n"}, private=not args.public)
            repos.append(name)
        installs = {}
        for owner in sorted({r.split("/")[0] for r in repos}):
            installs[owner] = double.install(owner, [r for r in repos if r.split("/")[0] == owner]).id
        key = double.write_private_key(Path(tempfile.mkdtemp(prefix="github-double-key-")) / "app.pem")
        print(f"API URL:          {double.url}")
        print(f"App id:           {double.app_id} (slug {double.app_slug}, client id {double.client_id})")
        print(f"Bot:              {double.bot_login} (id {double.bot_id})")
        print(f"Private key file: {key}")
        for owner, inst in installs.items():
            print(f"Installation:     {inst} (account {owner})")
        for r in repos:
            print(f"Repository:       {r}  git: {double.git_url(r)}")
        print(
            f"Control:          {double.url}/_double/info, /_double/violations, /_double/requests, POST /_double/faults"
        )
        sys.stdout.flush()
        while True:
            signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        for v in double.violations:
            print(f"VIOLATION [{v.kind}] {v.method} {v.path}: {v.message}", file=sys.stderr)
        double.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
