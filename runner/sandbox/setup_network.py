"""How setup commands reach package indexes: the host's CA bundle, index URLs and proxies, never its credentials.

Why a module of its own: this is the one place where settings of the App's host flow into
code a repository controls. :meth:`SetupNetwork.from_host` reads what pip on the host uses
(environment and pip's config files) and drops every value carrying credentials; the result
is handed to each setup command's environment only (never the container's config), and the
CA file is copied to :data:`CA_PATH`, which the setup phase deletes before the commit.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.sandbox.container import SETUP_DIR, VENV

log = logging.getLogger(__name__)

#: Where the CA bundle is copied in the setup container; deleted before the commit.
CA_PATH = f"{SETUP_DIR}/.setup-ca.crt"

_PASSED_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES",
               "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "NPM_CONFIG_REGISTRY",
               "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
_CA_ENV = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
_CA_TARGETS = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
               "GIT_SSL_CAINFO")
_PIP_CONFIGS = ("/etc/pip.conf", "/etc/xdg/pip/pip.conf", "~/.config/pip/pip.conf", "~/.pip/pip.conf")
_CREDENTIALS = re.compile(r"://[^/@\s]+@")


@dataclass(frozen=True)
class SetupNetwork:
    """How the setup container reaches package indexes.

    ``ca_bundle`` is a PEM file copied in (certificates are public; needed
    behind a TLS-intercepting proxy); ``env`` holds index and proxy settings,
    never credentials. ``dropped`` names host settings left out because they
    carried credentials. Build it with :meth:`from_host` or by hand.
    """

    network: str = "bridge"
    ca_bundle: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()

    @classmethod
    def from_host(cls, environ: Mapping[str, str] | None = None, network: str = "bridge") -> SetupNetwork:
        """What pip on this host uses: its CA bundle, index URLs and proxies, minus any credentials."""
        environ = os.environ if environ is None else environ
        pip_conf = _pip_config(environ)
        ca = next((Path(environ[name]) for name in _CA_ENV if Path(environ.get(name, "") or "/-").is_file()), None)
        if ca is None and pip_conf.get("cert") and Path(pip_conf["cert"]).is_file():
            ca = Path(pip_conf["cert"])
        if ca is None and Path("/etc/ssl/certs/ca-certificates.crt").is_file():
            ca = Path("/etc/ssl/certs/ca-certificates.crt")
        wanted = {name: environ[name] for name in _PASSED_ENV if environ.get(name)}
        for key, name in (("index-url", "PIP_INDEX_URL"), ("extra-index-url", "PIP_EXTRA_INDEX_URL"),
                          ("trusted-host", "PIP_TRUSTED_HOST")):
            if pip_conf.get(key) and name not in wanted:
                wanted[name] = " ".join(pip_conf[key].split())
        env = {k: v for k, v in wanted.items() if not _CREDENTIALS.search(v)}
        dropped = tuple(sorted(set(wanted) - set(env)))
        if dropped:
            log.warning("setup phase: not passing %s to setup commands: the values carry credentials",
                        ", ".join(dropped))
        return cls(network=network, ca_bundle=ca, env=env, dropped=dropped)

    def command_env(self) -> dict[str, str]:
        """The variables each setup command gets on top of the sandbox's base environment."""
        env = {**self.env, "VIRTUAL_ENV": VENV, "PIP_NO_CACHE_DIR": "1"}
        if self.ca_bundle is not None:
            env.update({name: CA_PATH for name in _CA_TARGETS})
        return env


def _pip_config(environ: Mapping[str, str]) -> dict[str, str]:
    """``cert``, ``index-url``, ``extra-index-url``, ``trusted-host`` from pip's config files."""
    files = [Path(p).expanduser() for p in _PIP_CONFIGS]
    if environ.get("PIP_CONFIG_FILE"):
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    found: dict[str, str] = {}
    for path in files:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path)
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                found.update({k: v for k, v in parser.items(section)
                              if k in ("cert", "index-url", "extra-index-url", "trusted-host")})
    return found
