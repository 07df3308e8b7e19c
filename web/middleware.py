"""ASGI middleware that protects the models: bounded request bodies (413) and a bounded
number of questions in flight (503 + Retry-After)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse


def _is_question(scope) -> bool:
    """The requests that run the models: `/ask` and the question page (`/?q=...`)."""
    path = scope.get("path", "")
    if path == "/ask":
        return True
    return path == "/" and "q" in {name for name, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                               keep_blank_values=True)}


async def _send_json(send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    response = JSONResponse({"detail": detail}, status_code=status, headers=headers)
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
                await _send_json(send, 400, "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _send_json(send, 413, too_large)
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
                await _send_json(send, 413, too_large)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class InFlightLimit:
    """At most `limit` questions in flight; past it, 503 with Retry-After at once.

    Queueing instead would lengthen every queued request's wait with no bound and build a
    backlog that outlives the burst; a client told to retry can back off or go elsewhere.
    Counted on the event loop, so a plain integer is exact. Health and pages without a
    question are never refused.
    """

    def __init__(self, app, limit: int, retry_after_s: int = 1) -> None:
        self.app, self.limit, self.retry_after_s = app, limit, retry_after_s
        self.in_flight = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not _is_question(scope):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await _send_json(send, 503, f"the server is busy ({self.limit} questions in flight, "
                             "NEWSQA_MAX_IN_FLIGHT); retry shortly", {"Retry-After": str(self.retry_after_s)})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
