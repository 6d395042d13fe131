"""Sandbox overhead, measured in one run: `python -m bench.sandbox [--repeat N]`.

* added time per command: the same commands run N times in one warm container
  (``DockerSession.run``, including the host-side ownership walk, the cgroup
  reads and the check for leftover processes) and as a plain ``subprocess``
  of ``sh -c`` on the host; the median difference is what the sandbox adds;
* container start: ``DockerSandbox.start`` until the first command can run;
* setup cache hit: ``prepare_image`` on an unchanged repository whose image exists;
* lay-over: what a setup image whose setup generated 200 files in the source tree adds to a
  session's start and first command (``runner.sandbox.layover``), against one that generated none.

Prints a table and writes ``bench/results/sandbox.json``. Targets (2-core machine):
<= 0.15 s added per command, <= 1.5 s to start, <= 2 s for a cache hit.
Uses its own setup-image repository name and removes what it made.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker

from runner.sandbox.container import DEFAULT_IMAGE, SandboxLimits
from runner.sandbox.engine import docker_client_from_env
from runner.sandbox.session import DockerSandbox
from runner.sandbox.setup import prepare_image
from runner.sandbox.setup_cache import SetupCache

RESULTS = Path(__file__).resolve().parents[1] / "results" / "sandbox.json"
COMMANDS = ("true", "python3 -c pass", "ls -R . > /dev/null")
TARGETS = {"added_per_command_s": 0.15, "container_start_s": 1.5, "setup_cache_hit_s": 2.0}


def _median(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def _worktree(root: Path) -> Path:
    """A small Python project: 200 files, so the ownership walk has something to walk."""
    wt = root / "worktree"
    (wt / "pkg").mkdir(parents=True)
    (wt / "pyproject.toml").write_text('[project]\nname = "benchpkg"\nversion = "0"\n')
    for i in range(200):
        (wt / "pkg" / f"m{i}.py").write_text(f"X = {i}\n")
    return wt


def measure(client: docker.DockerClient, image: str, repeat: int) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="ai-fix-bench-"))
    cache = SetupCache(repository=f"ai-fix-setup-bench-{uuid.uuid4().hex[:8]}", lock_dir=root / "locks")
    sandbox = DockerSandbox(client, image=image, limits=SandboxLimits())
    try:
        wt = _worktree(root)
        per_command = {}
        with sandbox.start(wt, job_id="bench") as session:
            session.run("true", 30)  # warm
            for command in COMMANDS:
                def in_sandbox(command: str = command) -> None:
                    assert session.run(command, 60).passed
                def on_host(command: str = command) -> None:
                    subprocess.run(["sh", "-c", command], cwd=wt, check=True)
                sandboxed, _ = _median(in_sandbox, repeat)
                plain, _ = _median(on_host, repeat)
                per_command[command] = {"sandbox_s": sandboxed, "subprocess_s": plain, "added_s": sandboxed - plain}

        def start() -> None:
            with sandbox.start(wt, job_id="bench-start") as s:
                s.run("true", 30)
        start_s, _ = _median(start, max(3, repeat // 4))

        setup = ["echo installed > /opt/ai-fix/marker"]
        built = prepare_image(client, image, wt, setup, "bench://sandbox", cache=cache)
        def hit() -> None:
            assert prepare_image(client, image, wt, setup, "bench://sandbox", cache=cache).cache_hit
        hit_s, _ = _median(hit, max(3, repeat // 4))
        def hit_then_start() -> None:
            hit()
            start()
        hit_and_start_s, _ = _median(hit_then_start, max(3, repeat // 4))

        generate = ["python3 -c \"[open(f'pkg/g{i}.py', 'w').write('X = 1') for i in range(200)]\""]
        generated = prepare_image(client, image, wt, generate, "bench://sandbox-generated", cache=cache)
        assert len(generated.generated) == 200, generated.warnings
        def start_on(setup_image: str) -> Callable[[], None]:
            sandbox_on = DockerSandbox(client, image=setup_image, limits=SandboxLimits())
            def run() -> None:
                job = root / "job"
                shutil.rmtree(job, ignore_errors=True)
                shutil.copytree(wt, job)
                with sandbox_on.start(job, job_id="bench-layover") as s:
                    assert s.run("test -f pkg/g199.py || ! test -f pkg/g0.py", 30).passed
            return run
        plain_start_s, _ = _median(start_on(built.image), max(3, repeat // 4))
        layover_start_s, _ = _median(start_on(generated.image), max(3, repeat // 4))
    finally:
        for found in client.images.list(name=cache.repository):
            for tag in found.tags:
                client.images.remove(tag)
        shutil.rmtree(root, ignore_errors=True)
    added = statistics.median(v["added_s"] for v in per_command.values())
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "docker": client.version()["Version"]},
        "image": image,
        "repeat": repeat,
        "per_command": per_command,
        "added_per_command_s": added,
        "container_start_s": start_s,
        "setup_miss_s": built.duration_s,
        "setup_cache_hit_s": hit_s,
        "setup_cache_hit_plus_start_s": hit_and_start_s,
        "setup_miss_generating_200_files_s": generated.duration_s,
        "start_and_first_command_s": plain_start_s,
        "start_and_first_command_with_200_generated_s": layover_start_s,
        "layover_added_s": layover_start_s - plain_start_s,
        "targets": TARGETS,
    }


def render(result: dict[str, object]) -> str:
    per_command = result["per_command"]
    assert isinstance(per_command, dict)
    rows = [f"{'command':<24} {'sandbox':>9} {'subprocess':>11} {'added':>9}"]
    for command, v in per_command.items():
        rows.append(f"{command:<24} {v['sandbox_s']:>8.3f}s {v['subprocess_s']:>10.3f}s {v['added_s']:>8.3f}s")
    rows.append("")
    rows.append(f"{'measure':<34} {'median':>9} {'target':>8}  ok")
    for key, label in (("added_per_command_s", "added time per command"),
                       ("container_start_s", "container start (to first command)"),
                       ("setup_cache_hit_s", "setup cache hit")):
        value, target = float(result[key]), TARGETS[key]  # type: ignore[arg-type]
        rows.append(f"{label:<34} {value:>8.3f}s {target:>7.2f}s  {'yes' if value <= target else 'NO'}")
    rows.append(f"{'setup cache hit + container start':<34} {float(result['setup_cache_hit_plus_start_s']):>8.3f}s")  # type: ignore[arg-type]
    rows.append(f"{'setup miss (for reference)':<34} {float(result['setup_miss_s']):>8.3f}s")  # type: ignore[arg-type]
    rows.append(f"{'setup miss, 200 files generated':<34} "
                f"{float(result['setup_miss_generating_200_files_s']):>8.3f}s")  # type: ignore[arg-type]
    rows.append(f"{'lay-over of 200 generated files':<34} {float(result['layover_added_s']):>8.3f}s"  # type: ignore[arg-type]
                "  (added to a session's start and first command)")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="runs per measurement (default 20)")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"sandbox image (default {DEFAULT_IMAGE})")
    args = parser.parse_args()
    result = measure(docker_client_from_env(), args.image, args.repeat)
    print(render(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
