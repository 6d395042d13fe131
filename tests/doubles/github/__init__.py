"""A faithful local GitHub (REST API + git over HTTP) for ai-fix's tests.

Import is cheap: the OpenAPI description is only parsed when a double starts (once per process).
"""

from .faults import Fault
from .server import GitHubDouble, RequestRecord, Violation

__all__ = ["Fault", "GitHubDouble", "RequestRecord", "Violation"]
