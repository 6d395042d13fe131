"""What setup commands get from the host to reach package indexes: settings yes, credentials never. No Docker."""

from __future__ import annotations

from pathlib import Path

from runner.sandbox.container import VENV
from runner.sandbox.setup_network import SetupNetwork


def test_network_settings_come_from_the_host_without_credentials(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/simple\ntrusted-host = mirror.example\n")
    net = SetupNetwork.from_host({
        "PIP_CERT": str(ca),
        "PIP_CONFIG_FILE": str(conf),
        "HTTPS_PROXY": "http://user:hunter2@proxy.example:3128",
        "NO_PROXY": "localhost",
        "PIP_EXTRA_INDEX_URL": "https://__token__:pypi-XYZ@private.example/simple",
        "GITHUB_TOKEN": "ghs_secret",
    })
    assert net.ca_bundle == ca
    assert net.env == {"PIP_INDEX_URL": "https://mirror.example/simple", "PIP_TRUSTED_HOST": "mirror.example",
                       "NO_PROXY": "localhost"}
    assert net.dropped == ("HTTPS_PROXY", "PIP_EXTRA_INDEX_URL")
    env = net.command_env()
    assert env["PIP_CERT"] == env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == "/opt/ai-fix/.setup-ca.crt"
    assert "hunter2" not in repr(env) and "ghs_secret" not in repr(env) and env["VIRTUAL_ENV"] == VENV
