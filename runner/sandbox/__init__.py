"""The sandbox: every command a job runs against a repository (setup, lint, tests) runs here.

Rooms: `container` (what every container is: image, user, labels, environment, limits, and the
settings Docker creates it with), `session` (the container a job's commands run in), `results`
(where each command's pytest writes its JUnit XML report, outside the worktree, and how it is read
back without following what a test planted), `errors`
(typed errors, one missing-image hint), `engine` (the Docker client; an unreachable engine as a
typed error), `host` (host-side helpers: output capture, ownership, owner tokens, cgroup
counters), `reap` (containers a crashed process left behind, dangling setup images), the setup
phase, cached as an image: `setup` (the build), `setup_key` (the cache key and the dependency-file
walk), `setup_cache` (lookup, per-key lock, LRU eviction), `setup_network` (the host's index, proxy
and CA settings, without credentials), `setup_output` (what setup generated in the source tree, kept
in the image) and `layover` (laid over each run-phase worktree, inside the sandbox); `factory` (the
`SandboxFactory` jobs and `ai-fix solve` use) and `cli` (`ai-fix sandbox`).
"""
