"""LiteLLMChat against the LLM double: real litellm calls over HTTP, our retry policy, our prices."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.errors import ModelError
from runner.llm import BackgroundImport, LiteLLMChat, RetryPolicy, is_transient, retrying
from runner.prices import Price
from tests.doubles.forward_proxy import ForwardProxy
from tests.doubles.llm.replies import Reply
from tests.doubles.llm.server import LLMDouble

MESSAGES = [{"role": "user", "content": "hello"}]


def _chat(llm: LLMDouble, waits: list[float], tries: int = 4) -> LiteLLMChat:
    return LiteLLMChat(api_base=llm.api_base, timeout_s=5, policy=RetryPolicy(tries=tries, base_delay_s=0.01),
                       sleep=waits.append)


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


def test_tokens_and_cost_are_reported(llm_double: LLMDouble) -> None:
    llm_double.script("hi there", model="openai/gpt-4o")
    done = _chat(llm_double, []).complete("openai/gpt-4o", MESSAGES)
    assert done.text == "hi there" and done.prompt_tokens > 0 and done.completion_tokens > 0
    assert done.cost_usd > 0 and done.retries == 0


def test_429_honours_retry_after_then_succeeds(llm_double: LLMDouble) -> None:
    llm_double.script(Reply.rate_limited(retry_after=7), "ok", model="anthropic/claude-sonnet-4-5")
    waits: list[float] = []
    done = _chat(llm_double, waits).complete("anthropic/claude-sonnet-4-5", MESSAGES)
    assert done.text == "ok" and done.retries == 1 and waits == [7.0]
    assert len(llm_double.requests) == 2


def test_5xx_backs_off_exponentially_then_gives_up(llm_double: LLMDouble) -> None:
    llm_double.script(*[Reply.error(503)] * 3, model="openai/gpt-4o")
    waits: list[float] = []
    with pytest.raises(ModelError, match=r"kept failing \(ServiceUnavailableError, after 3 call\(s\)\)"):
        _chat(llm_double, waits, tries=3).complete("openai/gpt-4o", MESSAGES)
    assert len(waits) == 2 and waits[0] < waits[1] * 1.01 + 0.01
    assert len(llm_double.requests) == 3  # no hidden retries inside litellm or the OpenAI client


def test_a_bad_request_is_not_retried(llm_double: LLMDouble) -> None:
    llm_double.script(Reply.error(400, "bad request"), model="openai/gpt-4o")
    with pytest.raises(ModelError, match="refused the request"):
        _chat(llm_double, []).complete("openai/gpt-4o", MESSAGES)
    assert len(llm_double.requests) == 1


def test_a_very_long_retry_after_means_fall_back_now(llm_double: LLMDouble) -> None:
    llm_double.script(Reply.rate_limited(retry_after=3600), model="openai/gpt-4o")
    waits: list[float] = []
    with pytest.raises(ModelError):
        _chat(llm_double, waits).complete("openai/gpt-4o", MESSAGES)
    assert waits == []


@pytest.fixture
def remote_base(llm_double: LLMDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A remote provider's address (a reserved `.example` name) that reaches the double through a forward proxy.

    The name is new for each test: litellm caches its HTTP clients by base, and a client keeps the proxy
    it was built with.
    """
    with ForwardProxy(llm_double.url) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        base = f"http://provider-{uuid.uuid4().hex[:8]}.example"
        yield base
        assert proxy.targets and all(t.startswith(base + "/") for t in proxy.targets)


def test_a_model_without_a_known_price_on_a_remote_address_gets_a_high_estimate_not_zero(
        llm_double: LLMDouble, remote_base: str) -> None:
    llm_double.script("ok", model="openai/my-hosted-model")
    chat = LiteLLMChat(api_base=remote_base, timeout_s=5, policy=RetryPolicy(tries=1))
    done = chat.complete("openai/my-hosted-model", MESSAGES)
    assert done.text == "ok" and done.prompt_tokens > 0 and done.completion_tokens > 0
    assert done.cost_estimated and done.cost_usd == pytest.approx(
        done.prompt_tokens * 15e-6 + done.completion_tokens * 75e-6)


def test_a_model_without_a_known_price_on_a_local_server_costs_nothing(llm_double: LLMDouble) -> None:
    llm_double.script("ok", model="openai/my-local-model")
    done = _chat(llm_double, []).complete("openai/my-local-model", MESSAGES)  # the double is on 127.0.0.1
    assert done.text == "ok" and done.prompt_tokens > 0
    assert done.cost_usd == 0.0 and not done.cost_estimated


def test_a_known_model_keeps_its_list_price_even_through_a_local_gateway(llm_double: LLMDouble) -> None:
    llm_double.script("hi", model="openai/gpt-4o")
    done = _chat(llm_double, []).complete("openai/gpt-4o", MESSAGES)  # a proxy on localhost, a paid provider behind
    assert not done.cost_estimated and done.cost_usd == pytest.approx(
        done.prompt_tokens * 2.5e-6 + done.completion_tokens * 10e-6)


def test_the_operators_table_comes_first(llm_double: LLMDouble, remote_base: str) -> None:
    table = {"openai/gpt-4o": Price(1, 2), "openai/team-*": Price(0.5, 4)}
    llm_double.script("a", model="openai/gpt-4o").script("b", model="openai/team-coder")
    chat = LiteLLMChat(api_base=remote_base, timeout_s=5, policy=RetryPolicy(tries=1), prices=table)
    listed = chat.complete("openai/gpt-4o", MESSAGES)  # overrides litellm's $2.5/$10
    assert listed.cost_usd == pytest.approx((listed.prompt_tokens * 1 + listed.completion_tokens * 2) / 1e6)
    globbed = chat.complete("openai/team-coder", MESSAGES)  # unknown to litellm, remote, but priced
    assert not globbed.cost_estimated and globbed.cost_usd == pytest.approx(
        (globbed.prompt_tokens * 0.5 + globbed.completion_tokens * 4) / 1e6)


def test_the_first_call_says_how_long_it_waited_for_litellm(llm_double: LLMDouble,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    llm_double.script("one", "two", model="openai/gpt-4o")
    chat = _chat(llm_double, [])
    chat.warm_up()
    with caplog.at_level(logging.INFO, logger="runner.llm"):
        chat.complete("openai/gpt-4o", MESSAGES)
        chat.complete("openai/gpt-4o", MESSAGES)
    firsts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("first model call")]
    assert len(firsts) == 1 and re.fullmatch(r"first model call: waited \d+\.\d\d s for litellm "
                                             r"\(after its background import\)", firsts[0])
    assert "calls to openai/gpt-4o are priced by litellm's price list" in caplog.messages


def test_a_background_import_runs_while_the_caller_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"slow_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("import time\ntime.sleep(0.5)\nVALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    library = BackgroundImport(name)
    library.start()
    time.sleep(1.0)  # the caller's own work (fetching, checking out...)
    module, waited = library.get()
    assert module.VALUE == 42 and waited < 0.3


def test_what_the_first_use_imports_lazily_is_imported_too_if_it_can_be(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    tag = uuid.uuid4().hex[:8]
    (tmp_path / f"main_{tag}.py").write_text("VALUE = 1\n")
    (tmp_path / f"lazy_{tag}.py").write_text("VALUE = 2\n")
    (tmp_path / f"gone_{tag}.py").write_text("raise ImportError('renamed in this version')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    library = BackgroundImport(f"main_{tag}", then=(f"gone_{tag}", f"missing_{tag}", f"lazy_{tag}"))
    library.start()
    module, _ = library.get()
    assert module.VALUE == 1 and sys.modules[f"lazy_{tag}"].VALUE == 2  # the failures before it did not stop it


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
def test_the_background_import_takes_only_idle_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"nice_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "import os, threading\nNICE = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    library = BackgroundImport(name)
    library.start()
    module, _ = library.get()
    assert module.NICE == 19 and os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) != 19


def test_a_process_ending_during_the_background_import_lets_it_finish_first(tmp_path: Path) -> None:
    # Cut short at exit, an import can leave a lock held that finalisation then waits on forever.
    (tmp_path / "slow_to_import.py").write_text(
        "import pathlib, time\ntime.sleep(1)\npathlib.Path(__file__).with_name('imported').write_text('yes')\n")
    script = "from runner.llm import BackgroundImport\nBackgroundImport('slow_to_import').start()\n"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    assert (tmp_path / "imported").read_text() == "yes"


def test_a_failed_background_import_is_raised_by_get_in_the_callers_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest turns an exception escaping a thread into a warning, and warnings into errors: a thread
    # traceback would fail this test even if `get` raised.
    name = f"broken_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("raise ImportError('needs libfoo.so.3')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    library = BackgroundImport(name)
    library.start()
    for _ in range(2):  # every call, not only the first
        with pytest.raises(ImportError, match="needs libfoo.so.3"):
            library.get()


def test_a_broken_litellm_surfaces_at_the_first_call_as_a_model_error(tmp_path: Path) -> None:
    fake = tmp_path / "site" / "litellm"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('libfoo.so.3: cannot open shared object file')\n")
    script = (
        "import time\n"
        "from runner.errors import ModelError\n"
        "from runner.llm import LiteLLMChat\n"
        "chat = LiteLLMChat(api_base='http://127.0.0.1:9')\n"
        "chat.warm_up()\n"
        "time.sleep(0.5)\n"
        "try:\n"
        "    chat.complete('openai/gpt-4o', [{'role': 'user', 'content': 'hi'}])\n"
        "except ModelError as exc:\n"
        "    print('raised:', exc)\n")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), str(root)])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("raised: the LLM library litellm could not be imported (ImportError: libfoo.so.3: cannot "
                           "open shared object file) (reinstall ai-fix's dependencies (requirements.lock))\n")
    assert "Exception in thread" not in done.stderr and "Traceback" not in done.stderr


class _ProviderError(Exception):
    """What litellm raises, as far as the retry policy looks: a status code and the response headers."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.litellm_response_headers = headers


def _failing(*failures: Exception) -> tuple[Callable[[], str], list[int]]:
    """A call that raises each failure in turn, then answers "ok"; and the count of calls made."""
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return "ok"

    return call, calls


def test_backoff_doubles_with_equal_jitter_up_to_the_cap() -> None:
    waits: list[float] = []
    call, calls = _failing(*[_ProviderError(503)] * 5)
    assert retrying(RetryPolicy(tries=6, base_delay_s=1, max_delay_s=4), waits.append)(call) == "ok"
    assert len(calls) == 6 and len(waits) == 5
    for wait, full in zip(waits, [1, 2, 4, 4, 4], strict=True):
        assert full / 2 <= wait <= full  # half fixed, half random


def test_retry_after_ms_is_honoured_and_wins_over_the_backoff() -> None:
    waits: list[float] = []
    call, _ = _failing(_ProviderError(429, {"retry-after-ms": "1500"}), _ProviderError(429, {"retry-after": "2"}))
    assert retrying(RetryPolicy(base_delay_s=100), waits.append)(call) == "ok"
    assert waits == [1.5, 2.0] and all(type(w) is float for w in waits)


def test_giving_up_reraises_the_providers_own_error() -> None:
    waits: list[float] = []
    failure = _ProviderError(500)
    call, calls = _failing(*[failure] * 3)
    controller = retrying(RetryPolicy(tries=3, base_delay_s=0.01), waits.append)
    with pytest.raises(_ProviderError) as raised:
        controller(call)
    assert raised.value is failure and len(calls) == 3 and len(waits) == 2
    assert controller.statistics["attempt_number"] == 3


@pytest.mark.parametrize("failure", [_ProviderError(400), _ProviderError(401),
                                     _ProviderError(429, {"retry-after": "121"})])
def test_no_retry_for_a_refusal_or_a_provider_down_for_long(failure: Exception) -> None:
    waits: list[float] = []
    call, calls = _failing(failure)
    with pytest.raises(_ProviderError):
        retrying(RetryPolicy(max_retry_after_s=120), waits.append)(call)
    assert len(calls) == 1 and waits == []


def test_transient_by_name_when_there_is_no_status() -> None:
    class APIConnectionError(Exception):
        pass

    assert is_transient(APIConnectionError("reset")) and not is_transient(ValueError("bad"))
    assert is_transient(_ProviderError(529)) and not is_transient(_ProviderError(404))
