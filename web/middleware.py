"""ASGI middleware that protects the models: bounded request bodies (413) and a bounded
number of questions in flight, the next ones waiting their turn in a bounded queue (503 +
Retry-After past it). Refusals are `web.schemas.Problem` bodies, as every error of the API."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from urllib.parse import parse_qsl

from web.schemas import ProblemResponse


ARRIVED = "newsqa_arrived"  # request state: `time.monotonic()` when the question arrived, before any wait


def _is_question(scope) -> bool:
    """The requests that run the models: `/ask` and the question page (`/?q=...`)."""
    path = scope.get("path", "")
    if path == "/ask":
        return True
    return path == "/" and "q" in {name for name, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                               keep_blank_values=True)}


async def _send_problem(send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    response = ProblemResponse(status, detail, headers=headers)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class BodySizeLimit:
    """Answers 413 to a request body over `max_bytes`, whether announced by Content-Length
    or streamed (chunked): the body is read here, never past the limit, before a route
    sees it, so no handler can be made to buffer an unbounded body."""

    UPLOADS = frozenset({"/documents", "/documents/upload", "/add"})  # POSTs that carry an article

    def __init__(self, app, max_bytes: int, upload_bytes: int | None = None) -> None:
        self.app, self.max_bytes, self.upload_bytes = app, max_bytes, upload_bytes or max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("method") == "POST" and scope.get("path") in self.UPLOADS
        limit = self.upload_bytes if upload else self.max_bytes
        too_large = (f"the request body is larger than {limit} bytes "
                     f"({'NEWSQA_MAX_UPLOAD_BYTES' if upload else 'NEWSQA_MAX_BODY_BYTES'})")
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _send_problem(send, 400, "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _send_problem(send, 413, too_large)
                return
        body = await self._read(receive, send, limit, too_large)
        if body is None:
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()  # a later receive waits for the disconnect, as usual
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _read(receive, send, limit: int, too_large: str) -> bytes | None:
        """The whole body, or None once answered 413 (or when the client is gone)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None  # the client is gone; nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_problem(send, 413, too_large)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class QuestionQueue:
    """At most `limit` questions in flight; the next ones wait their turn in a bounded queue.

    A question that finds every slot busy waits, first come first served, up to `wait_s`
    for one; it is refused with 503 and Retry-After when that time runs out, or at once when
    `max_waiting` questions already wait (a burst far past capacity is turned away in
    milliseconds instead of building a backlog that outlives it). A freed slot passes
    straight to the first waiter, so a newcomer never overtakes the queue. The arrival time is
    put in the request's state (`ARRIVED`), so the request deadline counts the wait.
    Everything runs on the event loop, so plain integers and a deque are exact. Health and
    pages without a question are never queued.
    """

    def __init__(self, app, limit: int, max_waiting: int, wait_s: float, retry_after_s: int = 1) -> None:
        self.app, self.limit, self.max_waiting, self.wait_s = app, limit, max_waiting, wait_s
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.waiting: deque[asyncio.Future] = deque()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not _is_question(scope):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[ARRIVED] = time.monotonic()
        if not await self._acquire():
            busy = "is full" if len(self.waiting) >= self.max_waiting else f"did not free up within {self.wait_s:g} s"
            await _send_problem(send, 503, f"the server is busy: {self.limit} questions in flight and the queue {busy} "
                             "(NEWSQA_MAX_IN_FLIGHT, NEWSQA_QUEUE_WAIT_S); retry shortly",
                             {"Retry-After": str(self.retry_after_s)})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._release()

    async def _acquire(self) -> bool:
        """Take a slot now, or wait in line for one; False when refused."""
        if self.in_flight < self.limit and not self.waiting:
            self.in_flight += 1
            return True
        if len(self.waiting) >= self.max_waiting or self.wait_s <= 0:
            return False
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        try:
            await asyncio.wait_for(asyncio.shield(turn), self.wait_s)
            return True  # the slot was handed over: `in_flight` already counts it
        except BaseException as err:  # the wait ran out, or the client went away while waiting
            if turn.done():  # handed a slot at the very moment: pass it on
                self._release()
            else:
                turn.cancel()
                self.waiting.remove(turn)
            if isinstance(err, asyncio.TimeoutError):
                return False
            raise

    def _release(self) -> None:
        """Hand the slot to the first waiter still waiting, or free it."""
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.in_flight -= 1
