"""A real PostgreSQL for the tests and benchmarks: Debian's server, started here, gone afterwards.

`running_postgres()` runs `initdb` into a fresh temporary directory as an unprivileged user (the
suite runs as root and PostgreSQL refuses root: the `postgres` system user Debian's package
creates), starts the server on a free loopback port with its Unix socket in that directory (fsync
off: the data is thrown away), creates a database and yields its URL,
`postgresql://ai_fix@127.0.0.1:PORT/ai_fix` (trust authentication, loopback and the socket only).
On exit the server is stopped (`pg_ctl stop -m fast`) and the directory removed, whatever happened
inside. `postgres_url` is the same as a session-scoped pytest fixture; `postgres_database` gives
each test its own empty database on that server.

Nothing is skipped: without PostgreSQL this fails, saying that `./run setup` installs it.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROLE = "ai_fix"
DATABASE = "ai_fix"
_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 32MB
logging_collector = off
"""
# Trust on the socket and on loopback only; the server listens nowhere else.
_HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"


class PostgresMissing(RuntimeError):
    """PostgreSQL's server programs are not installed."""


def server_bin_dir(search: Path = Path("/usr/lib/postgresql")) -> Path:
    """Where `initdb` and `pg_ctl` live: on PATH, else Debian's /usr/lib/postgresql/<newest>/bin."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    found = sorted(search.glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise PostgresMissing(f"PostgreSQL is not installed (no initdb on PATH or under {search}/*/bin): "
                              "`./run setup` installs Debian's postgresql package")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root, then `postgres`."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresMissing("running as root and there is no `postgres` (or `nobody`) user to run PostgreSQL as: "
                          "`./run setup` installs Debian's postgresql package, which creates it")


def _temp_parent() -> str | None:
    """/tmp when we are root: a TMPDIR under /root would not let the `postgres` user reach its own directory."""
    return "/tmp" if os.geteuid() == 0 and os.path.isdir("/tmp") else None


@dataclass
class PostgresServer:
    """One throwaway cluster. `start()` then `stop()`; `url` and `startup_s` are set by `start()`."""

    _bin: Path = field(default_factory=server_bin_dir)  # first: fail before making any directory
    _user: pwd.struct_passwd | None = field(default_factory=_server_user)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ai-fix-pg-", dir=_temp_parent())))
    port: int = 0
    url: str = ""
    startup_s: float = 0.0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def _run(self, *args: str, timeout: float = 120) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        extra: dict[str, Any] = {}
        if self._user is not None:
            env.update(HOME=str(self.root), USER=self._user.pw_name, LOGNAME=self._user.pw_name)
            extra = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        done = subprocess.run([str(self._bin / args[0]), *args[1:]], cwd=self.root, env=env, capture_output=True,
                              text=True, timeout=timeout, check=False, **extra)
        if done.returncode != 0:
            log = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n{log}")

    def start(self) -> PostgresServer:
        started = time.perf_counter()
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        os.chmod(self.root, 0o700)
        self._run("initdb", "--no-sync", "--auth=trust", f"--username={ROLE}", "--encoding=UTF8", "--locale=C",
                  "-D", str(self.data_dir))
        (self.data_dir / "pg_hba.conf").write_text(_HBA)
        for attempt in range(3):  # the free port may be taken between choosing and binding it
            self.port = _free_port()
            with (self.data_dir / "postgresql.conf").open("a") as conf:
                conf.write(_CONF.format(port=self.port, socket_dir=self.root))
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", "60", "start")
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        self._run("createdb", "-h", str(self.root), "-p", str(self.port), "-U", ROLE, DATABASE)
        self.url = f"postgresql://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"
        self.startup_s = time.perf_counter() - started
        return self

    def create_database(self, name: str) -> str:
        """Another empty database on this server; returns its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._run("createdb", "-h", str(self.root), "-p", str(self.port), "-U", ROLE, name)
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server (fast shutdown; killed if that fails) and remove its directory."""
        try:
            if (self.data_dir / "postmaster.pid").exists():
                try:
                    self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop", timeout=60)
                except (RuntimeError, subprocess.TimeoutExpired):
                    self._kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill(self) -> None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


@contextmanager
def running_postgres() -> Iterator[str]:
    """A fresh PostgreSQL server for the duration of the block; yields its database URL."""
    server = PostgresServer()
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """`postgresql://ai_fix@127.0.0.1:PORT/ai_fix`: one server for the whole session."""
    return postgres_server.url


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> str:
    """A new empty database on the session's server, for one test (isolated from the others)."""
    return postgres_server.create_database("t_" + uuid.uuid4().hex[:16])
