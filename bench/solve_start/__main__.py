"""How fast `ai-fix solve` gets going on a local checkout, and whether its first model call waits for litellm.

Each run launches `ai-fix solve` as a subprocess (as a person runs it) on a clean local checkout, with
the LLM double (tests/doubles/llm, on loopback) answering every call, and timestamps, from the launch:
- `setup`: the progress line of the setup phase ("Installing dependencies..." or, without setup
  commands, "Running the checks on the untouched code"): target, within 5 s on the reference machine;
- `imported`: litellm's background import finished (the log line of `runner.llm.BackgroundImport`);
- `first call`: the first model call, as the double received it, and how long that call waited for
  litellm (the log line `first model call: waited X s`), then what litellm still did inside the call before
  the request left (`call to request`: lazy imports, client set-up; a later call takes ~0.01 s);
- `total`: the process's exit.

Profiles: `sympy` (the default on a sympy checkout) commits a `.github/ai-fix.yml` that installs sympy's test
dependencies (setup, cached after the first run) and runs one test module, as a real job on sympy does;
`quick` runs `true` as the test command and no setup, so the first model call comes as early as it can (the
worst case for the background import). `--code DIR` runs another ai-fix source tree (e.g. an older worktree)
for a before/after comparison; lines it does not print are reported as "-".

    .venv/bin/python -m bench.solve_start [--repo CHECKOUT] [--profile sympy|quick] [--runs 3] [--code DIR]

Default checkout: a `git clone` of /work/.mirror/sympy+sympy/repo, else of the largest /work/.mirror/*/repo.
Prints a table and writes JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.doubles.llm.replies import RecordedRequest
from tests.doubles.llm.server import LLMDouble

ROOT = Path(__file__).resolve().parents[2]
MIRRORS = Path("/work/.mirror")
MODEL = "openai/gpt-4o"
SETUP_LINES = ("… Installing dependencies", "… Running the checks on the untouched code")
SYMPY_CONFIG = ("setup:\n  - pip install mpmath==1.3.0 hypothesis\n"
                "test: python -m pytest -q -p no:cacheprovider sympy/matrices/tests/test_determinant.py\n"
                "attempts: 1\n")
SYMPY_FILE = "sympy/matrices/determinant.py"


@dataclass
class Run:
    number: int
    exit_code: int
    load: float
    """The 1-minute load average at launch: the reference machine is shared, and its load moves the numbers."""
    fetch_s: float | None = None
    """The "Fetching the repository" line."""
    setup_s: float | None = None
    imported_s: float | None = None
    first_call_s: float | None = None
    """The first request the LLM double received."""
    waited_s: float | None = None
    """How long the first call waited for litellm, as logged by the call itself."""
    call_to_request_s: float | None = None
    """From that log line to the double receiving the request: what litellm still imports and builds in the call."""
    total_s: float = 0.0
    lines: list[tuple[float, str]] = field(default_factory=list)


def default_checkout(scratch: Path) -> tuple[Path, str]:
    """A fresh clone of the sympy mirror (or of the largest mirror there is), and its name."""
    sympy = MIRRORS / "sympy+sympy" / "repo"
    if sympy.is_dir():
        source = sympy
    else:
        mirrors = [m for m in MIRRORS.glob("*/repo") if m.is_dir()]
        if not mirrors:
            raise SystemExit(f"no repository under {MIRRORS}: pass --repo CHECKOUT")
        source = max(mirrors, key=lambda m: sum(f.stat().st_size for f in (m / "objects").rglob("*") if f.is_file()))
    name = source.parent.name
    checkout = scratch / name.split("+")[-1]
    subprocess.run(["git", "clone", "-q", str(source), str(checkout)], check=True)
    return checkout, name


def commit_config(checkout: Path, config: str) -> None:
    """The profile's `.github/ai-fix.yml`, committed, so the checkout stays clean as `ai-fix solve` requires."""
    (checkout / ".github").mkdir(exist_ok=True)
    (checkout / ".github" / "ai-fix.yml").write_text(config)
    git = ["git", "-C", str(checkout), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "add", ".github/ai-fix.yml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench: ai-fix config"], check=True)


def answer(first: list[float]) -> Callable[[RecordedRequest], str]:
    """The double's answers: a plan to the first call (the Senior's), then replies without edits (the Junior's,
    until its reflections run out and the attempt ends). `first` gets the first call's arrival time."""

    def respond(request: RecordedRequest) -> str:
        if not first:
            first.append(time.monotonic())
            return "Make the determinant faster."
        return "No change is needed."

    return respond


def run_once(number: int, args: argparse.Namespace, checkout: Path, issue: Path, files: str,
             test_cmd: str | None, llm: LLMDouble, data_dir: Path) -> Run:
    first: list[float] = []
    llm.reset()
    llm.respond_with(answer(first))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AI_FIX_", "OPENAI_"))}
    env.update({"PYTHONPATH": str(args.code), "OPENAI_API_KEY": "sk-bench", "AI_FIX_DATA_DIR": str(data_dir),
                "LITELLM_LOCAL_MODEL_COST_MAP": "True", "AI_FIX_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"})
    command = [sys.executable, "-m", "bot.cli", "solve", "--repo", str(checkout), "--issue-file", str(issue),
               "--api-base", llm.api_base, "--senior", MODEL, "--files", files]
    if test_cmd is not None:
        command += ["--test-cmd", test_cmd]
    lines: list[tuple[float, str]] = []
    load = os.getloadavg()[0]
    launched = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=checkout.parent)
    assert proc.stderr is not None
    stream = proc.stderr

    def read() -> None:
        for line in stream:
            lines.append((time.monotonic() - launched, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    reader.join(timeout=10)
    run = Run(number, code, load, total_s=time.monotonic() - launched, lines=lines)
    run.fetch_s = _first(lines, lambda text: "… Fetching the repository" in text)
    run.setup_s = _first(lines, lambda text: text.startswith(SETUP_LINES))
    run.imported_s = _first(lines, lambda text: "litellm imported in the background" in text)
    run.first_call_s = first[0] - launched if first else None
    waited = next(((at, m) for at, text in lines if (m := re.search(r"first model call: waited (\d+\.\d+) s", text))),
                  None)
    if waited is not None:
        run.waited_s = float(waited[1].group(1))
        run.call_to_request_s = run.first_call_s - waited[0] if run.first_call_s is not None else None
    return run


def _first(lines: list[tuple[float, str]], wanted: Callable[[str], bool]) -> float | None:
    return next((at for at, text in lines if wanted(text)), None)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


_COLUMNS = ("fetch_s", "setup_s", "imported_s", "first_call_s", "waited_s", "call_to_request_s", "total_s")


def table(runs: list[Run]) -> str:
    head = ("| run | load | exit | fetch line s | setup phase s | litellm imported s | first call s | it waited s | "
            "call to request s | total s |")
    rows = [head, "|" + "---|" * 10]
    for r in runs:
        cells = " | ".join(_s(getattr(r, name)) for name in _COLUMNS)
        rows.append(f"| {r.number} | {r.load:.1f} | {r.exit_code} | {cells} |")
    medians = []
    for name in _COLUMNS:
        known = [value for r in runs if (value := getattr(r, name)) is not None]
        medians.append(_s(statistics.median(known)) if known else "-")
    rows.append(f"| median | {statistics.median(r.load for r in runs):.1f} | | {' | '.join(medians)} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.solve_start", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repo", type=Path, help="a clean local checkout (default: a clone of a mirror)")
    parser.add_argument("--profile", choices=["sympy", "quick"],
                        help="sympy: setup + one test module (default on sympy); quick: `true` as the tests")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--code", type=Path, default=ROOT, help="the ai-fix source tree to launch (default: this)")
    parser.add_argument("--files", help=f"the file the Senior reads (default: {SYMPY_FILE} or the first .py)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-solve-start-") as tmp:
        scratch = Path(tmp)
        if args.repo:
            checkout, name = args.repo.resolve(), args.repo.resolve().name
        else:
            checkout, name = default_checkout(scratch)
        profile = args.profile or ("sympy" if (checkout / SYMPY_FILE).exists() else "quick")
        test_cmd: str | None = "true"
        if profile == "sympy":
            if args.repo:
                raise SystemExit("--profile sympy commits a config: it needs the bench's own clone (no --repo)")
            commit_config(checkout, SYMPY_CONFIG)
            test_cmd = None  # the committed config's
        tracked = subprocess.run(["git", "-C", str(checkout), "ls-files", "*.py"], capture_output=True, text=True,
                                 check=True).stdout.split()
        files = args.files or (SYMPY_FILE if SYMPY_FILE in tracked else tracked[0])
        issue = scratch / "issue.md"
        issue.write_text("Matrix.det is slow\n\nIt takes seconds on a 10x10 matrix of symbols.\n")
        code_rev = subprocess.run(["git", "-C", str(args.code), "rev-parse", "--short", "HEAD"], capture_output=True,
                                  text=True).stdout.strip()
        print(f"{name} checkout {checkout} ({len(tracked)} .py files), profile {profile}, code {args.code} "
              f"@ {code_rev}, load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
        runs: list[Run] = []
        with LLMDouble() as llm:
            for number in range(1, args.runs + 1):
                run = run_once(number, args, checkout, issue, files, test_cmd, llm, scratch / "data")
                runs.append(run)
                if run.setup_s is None:
                    print("\n".join(text for _, text in run.lines[-30:]), file=sys.stderr)
    print(table(runs))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"solve_start-{profile}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"repository": name, "profile": profile, "code": str(args.code), "revision": code_rev,
                               "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                               "runs": [asdict(r) for r in runs]}, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
