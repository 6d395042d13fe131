"""A model call a cancel can interrupt: `/cancel` must stop a job within seconds, not after the provider's
timeout (minutes).

The call runs in a daemon thread while this thread polls the job's `should_stop`; on a cancel the call is
abandoned (its thread ends by itself when the provider answers or times out, and its answer is dropped)
and `Cancelled` is raised where the runner expects its typed stops, so the attempt ends as a cancel does
at any other check: its sandbox is closed and nothing is pushed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from runner import Cancelled, ChatModel, Completion, Message


class InterruptibleChat:
    def __init__(self, chat: ChatModel, should_stop: Callable[[], bool], poll_s: float = 0.5) -> None:
        self.chat = chat
        self.should_stop = should_stop
        self.poll_s = poll_s

    def complete(self, model: str, messages: Sequence[Message]) -> Completion:
        done = threading.Event()
        result: list[Completion] = []
        failure: list[BaseException] = []

        def call() -> None:
            try:
                result.append(self.chat.complete(model, messages))
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=call, name="ai-fix-model-call", daemon=True).start()
        while not done.wait(self.poll_s):
            if self.should_stop():
                raise Cancelled("the job was cancelled during a model call")
        if failure:
            raise failure[0]
        return result[0]
