"""The sandbox: every command a job runs against a repository (setup, lint, tests) runs here.

Rooms: `session` (the Docker container a job's commands run in, its limits and errors), `host`
(host-side helpers: output capture, ownership, owner tokens, cgroup counters), `reap` (containers a
crashed process left behind), `setup` (the repository's setup phase, cached as an image),
`factory` (the `SandboxFactory` jobs and `ai-fix solve` use) and `cli` (`ai-fix sandbox`).
"""
