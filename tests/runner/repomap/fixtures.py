"""A small library with clear owners for each behaviour: the ranking tests ask for each by name,
by traceback, or only by describing what goes wrong."""

HTTPLIB = {
    "netlib/__init__.py": "from netlib.session import Session\nfrom netlib.download import fetch\n",
    "netlib/session.py": '''"""Sessions keep settings across requests."""

from netlib.util import merge_dicts


class Session:
    def __init__(self):
        self.headers = {}
        self.params = {}

    def merge_settings(self, request_settings, session_settings):
        """Combine per-request settings with the session's."""
        return merge_dicts(session_settings, request_settings)

    def send(self, request):
        return request
''',
    "netlib/download.py": '''"""Downloading with retries."""

import time

from netlib.util import backoff_delay


def fetch(url, attempts=3, timeout=None):
    for attempt in range(attempts):
        try:
            return _open(url, timeout)
        except OSError:
            time.sleep(backoff_delay(attempt))
    raise DownloadError(f"gave up on {url} after {attempts} attempts")


def _open(url, timeout):
    # The timeout is passed to the connection, and every retry waits again from zero.
    return url


class DownloadError(Exception):
    pass
''',
    "netlib/headers.py": '''"""Parsing of raw header blocks."""


def parse_header_line(line):
    name, _, value = line.partition(":")
    if not name:
        raise ValueError("header line without a name: %r" % line)
    return name.strip().lower(), value.strip()


def parse_headers(block):
    return dict(parse_header_line(line) for line in block.splitlines() if line)
''',
    "netlib/util.py": '''"""Helpers used everywhere."""


def merge_dicts(base, override):
    merged = dict(base)
    merged.update(override)
    return merged


def backoff_delay(attempt):
    return 0.1 * 2 ** attempt


def to_text(value):
    return str(value)
''',
    "netlib/cli.py": '''"""Command line."""

from netlib.download import fetch
from netlib.util import to_text


def main(argv):
    print(to_text(fetch(argv[0])))
''',
    "tests/test_session.py": '''from netlib.session import Session


def test_merge_settings():
    s = Session()
    assert s.merge_settings({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}
''',
    "tests/test_download.py": '''from netlib.download import fetch


def test_fetch_retries_timeout():
    assert fetch("x", attempts=1, timeout=1) == "x"
''',
    "docs/usage.md": "# Usage\n\nCreate a Session, then fetch URLs. Timeouts and retries are configurable.\n",
}
