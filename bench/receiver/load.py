"""An open-loop load generator for `POST /webhook`: signed deliveries at a fixed total rate from N clients.

Each client holds one keep-alive HTTP/1.1 connection on loopback and sends at its own fixed rate, with a random
phase, so the total arrival rate is the target whatever the server does. Latency is measured from the moment a
delivery was due, not from when it was sent: a slow answer delays the client's next delivery, and that wait is
counted (no coordinated omission). The requests are plain bytes prepared before the step starts (the HMAC of each
body variant computed once; only the GUID changes per delivery), so the generator's own cost stays small.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field

from tests.doubles.webhooks import encode, headers

_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Template:
    """One signed delivery body; `request(guid)` gives the bytes of a POST carrying it under that GUID."""

    prefix: bytes
    suffix: bytes

    @classmethod
    def build(cls, host: str, event: str, payload: dict[str, object], secret: str) -> Template:
        body = encode(payload)
        lines = ["POST /webhook HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers(event, body, secret, _PLACEHOLDER).items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        prefix, suffix = raw.split(_PLACEHOLDER.encode())
        return cls(prefix, suffix)

    def request(self, guid: str) -> bytes:
        return self.prefix + guid.encode() + self.suffix


@dataclass
class Answer:
    guid: str
    status: int  # 0: no answer (connection error or timeout); -1: not sent, the step's time was up
    due: float
    latency_s: float  # from the moment it was due to the end of the answer
    service_s: float  # from the moment it was sent


@dataclass
class Plan:
    """Who sends what when: per client, a list of (due offset in s, template index, GUID)."""

    clients: list[list[tuple[float, int, str]]] = field(default_factory=list)

    @property
    def deliveries(self) -> int:
        return sum(len(c) for c in self.clients)


def plan(rate: float, clients: int, seconds: float, templates: int, repeat_share: float, seed: int) -> Plan:
    """`rate` deliveries/s in total for `seconds`, spread over `clients`; a share of them are redeliveries
    (the GUID of an earlier delivery of the same client, sent again as GitHub does when asked to)."""
    rng = random.Random(seed)
    per_client = rate / clients
    count = max(1, round(per_client * seconds))
    result = Plan()
    for _ in range(clients):
        phase = rng.random() / per_client
        sends: list[tuple[float, int, str]] = []
        for i in range(count):
            if sends and rng.random() < repeat_share:
                _, template, guid = rng.choice(sends)
            else:
                template, guid = rng.randrange(templates), str(uuid.UUID(int=rng.getrandbits(128), version=4))
            sends.append((phase + i / per_client, template, guid))
        result.clients.append(sends)
    return result


async def _read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _client(host: str, port: int, sends: list[tuple[float, int, str]], templates: list[Template],
                  start: float, deadline: float, timeout_s: float, answers: list[Answer]) -> None:
    loop = asyncio.get_running_loop()
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        for offset, template, guid in sends:
            due = start + offset
            if loop.time() > deadline:
                answers.append(Answer(guid, -1, due, float("nan"), float("nan")))
                continue
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            sent = loop.time()
            try:
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
                reader, writer = conn
                writer.write(templates[template].request(guid))
                status = await asyncio.wait_for(_read_answer(reader), timeout_s)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
                status = 0
                if conn is not None:
                    conn[1].close()
                conn = None
            done = loop.time()
            answers.append(Answer(guid, status, due, done - due, done - sent))
    finally:
        if conn is not None:
            conn[1].close()


async def _run(host: str, port: int, the_plan: Plan, templates: list[Template], max_seconds: float,
               timeout_s: float) -> tuple[list[Answer], float, float]:
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2  # let every client be scheduled before the first delivery is due
    answers: list[Answer] = []
    await asyncio.gather(*(_client(host, port, sends, templates, start, start + max_seconds, timeout_s, answers)
                           for sends in the_plan.clients))
    return answers, start, loop.time()


def drive(host: str, port: int, the_plan: Plan, templates: list[Template], *, max_seconds: float,
          timeout_s: float = 10.0) -> tuple[list[Answer], float]:
    """Send the plan; returns every delivery's answer and the wall time from the first due to the last answer.

    Stops by itself: deliveries still due after `max_seconds` are not sent (counted as errors)."""
    answers, start, end = asyncio.run(_run(host, port, the_plan, templates, max_seconds, timeout_s))
    return answers, end - start
