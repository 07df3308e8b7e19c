"""The question queue (web.middleware.QuestionQueue) on a fake slow app: waiting, fairness,
refusal after the wait and when full, the deadline counting the wait, a waiter that leaves."""

from __future__ import annotations

import asyncio
import json
import time

from web.middleware import ARRIVED, QuestionQueue


class SlowApp:
    """An ASGI app that takes `seconds` per question and records who ran when."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.running, self.most, self.entered = seconds, 0, 0, []

    async def __call__(self, scope, receive, send) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        self.entered.append((scope["client_name"], time.monotonic(), scope["state"][ARRIVED]))
        await asyncio.sleep(self.seconds)
        self.running -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def ask(queue: QuestionQueue, name: str) -> tuple[int, dict, float]:
    """One /ask through the queue: (status, headers and detail, seconds taken)."""
    messages = []

    async def send(message):
        messages.append(message)

    scope = {"type": "http", "path": "/ask", "query_string": b"", "headers": [], "client_name": name}
    started = time.monotonic()
    await queue(scope, None, send)
    status = messages[0]["status"]
    headers = {k.decode(): v.decode() for k, v in messages[0]["headers"]}
    if status != 200:
        headers["detail"] = json.loads(messages[1]["body"])["detail"]
    return status, headers, time.monotonic() - started


async def burst(queue: QuestionQueue, names: list[str], gap: float = 0.005):
    """Questions arriving `gap` seconds apart, in the order of `names`."""
    tasks = []
    for name in names:
        tasks.append(asyncio.create_task(ask(queue, name)))
        await asyncio.sleep(gap)
    return await asyncio.gather(*tasks)


def test_questions_wait_their_turn_first_come_first_served():
    app = SlowApp(0.03)
    queue = QuestionQueue(app, limit=2, max_waiting=10, wait_s=5)
    results = asyncio.run(burst(queue, list("abcdefg")))
    assert [status for status, _, _ in results] == [200] * 7
    assert app.most == 2  # never more than the limit in flight
    assert [name for name, _, _ in app.entered] == list("abcdefg")  # in arrival order
    assert queue.in_flight == 0 and not queue.waiting


def test_a_question_is_refused_when_the_wait_runs_out():
    queue = QuestionQueue(SlowApp(0.5), limit=1, max_waiting=10, wait_s=0.05)
    (first, _, _), (second, headers, took) = asyncio.run(burst(queue, ["a", "b"]))
    assert (first, second) == (200, 503)
    assert headers["retry-after"] == "1" and "did not free up within 0.05 s" in headers["detail"]
    assert 0.04 <= took < 0.4  # refused after its wait, not after the first question finished
    assert queue.in_flight == 0 and not queue.waiting


def test_a_full_queue_refuses_at_once():
    queue = QuestionQueue(SlowApp(0.3), limit=1, max_waiting=1, wait_s=5)
    results = asyncio.run(burst(queue, ["a", "b", "c"]))
    assert [status for status, _, _ in results] == [200, 200, 503]
    _, headers, took = results[2]
    assert "queue is full" in headers["detail"] and took < 0.05


def test_the_deadline_counts_the_wait():
    app = SlowApp(0.1)
    queue = QuestionQueue(app, limit=1, max_waiting=5, wait_s=5)
    asyncio.run(burst(queue, ["a", "b"]))
    (_, entered_a, arrived_a), (_, entered_b, arrived_b) = app.entered
    assert entered_a - arrived_a < 0.02  # no wait for the first
    assert entered_b - arrived_b >= 0.08  # the second's clock started before it waited


def test_a_waiter_that_leaves_gives_up_its_place():
    app = SlowApp(0.1)
    queue = QuestionQueue(app, limit=1, max_waiting=5, wait_s=5)

    async def scenario():
        first = asyncio.create_task(ask(queue, "a"))
        await asyncio.sleep(0.01)
        leaving = asyncio.create_task(ask(queue, "b"))
        await asyncio.sleep(0.01)
        third = asyncio.create_task(ask(queue, "c"))
        await asyncio.sleep(0.01)
        leaving.cancel()  # the client hung up while waiting
        return await asyncio.gather(first, third, return_exceptions=True)

    results = asyncio.run(scenario())
    assert [r[0] for r in results] == [200, 200]
    assert [name for name, _, _ in app.entered] == ["a", "c"]
    assert queue.in_flight == 0 and not queue.waiting


def test_health_and_pages_without_a_question_are_never_queued():
    queue = QuestionQueue(SlowApp(0.0), limit=1, max_waiting=0, wait_s=0)
    queue.in_flight = 1  # every slot busy

    async def health():
        messages = []

        async def send(message):
            messages.append(message)

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": []})

        queue.app = app
        await queue({"type": "http", "path": "/healthz", "query_string": b"", "headers": []}, None, send)
        return messages[0]["status"]

    assert asyncio.run(health()) == 200
