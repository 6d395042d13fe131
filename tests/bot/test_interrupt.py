"""bot.interrupt: a cancel abandons a model call at once; otherwise the call's answer or error comes through."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from bot.interrupt import InterruptibleChat
from runner import Cancelled, Completion, Message, ModelError


class _SlowChat:
    def __init__(self, seconds: float, error: Exception | None = None) -> None:
        self.seconds = seconds
        self.error = error
        self.release = threading.Event()

    def complete(self, model: str, messages: Sequence[Message]) -> Completion:
        self.release.wait(self.seconds)
        if self.error is not None:
            raise self.error
        return Completion(text=f"{model}: {messages[-1]['content']}", model=model, prompt_tokens=1,
                          completion_tokens=1, cost_usd=0.0, duration_s=self.seconds)


def test_a_cancel_abandons_a_slow_call_within_the_poll_interval() -> None:
    slow = _SlowChat(30)
    cancelled_at = time.monotonic() + 0.3
    chat = InterruptibleChat(slow, lambda: time.monotonic() >= cancelled_at, poll_s=0.05)
    with pytest.raises(Cancelled):
        chat.complete("m", [{"role": "user", "content": "hi"}])
    assert time.monotonic() - cancelled_at < 1.0
    slow.release.set()


def test_without_a_cancel_the_answer_and_the_errors_come_through() -> None:
    chat = InterruptibleChat(_SlowChat(0.1), lambda: False, poll_s=0.02)
    assert chat.complete("m", [{"role": "user", "content": "hi"}]).text == "m: hi"
    failing = InterruptibleChat(_SlowChat(0.0, ModelError("provider down")), lambda: False, poll_s=0.02)
    with pytest.raises(ModelError, match="provider down"):
        failing.complete("m", [{"role": "user", "content": "hi"}])
