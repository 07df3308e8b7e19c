"""The FastAPI application, assembled: start-up (models loaded once), limits, errors.

`create_app(settings)` loads the embedder, reader and index at start-up (or takes
ready `Services`, as the tests do) and mounts the JSON API (`qa.api`), the web
pages (`qa.pages`) and the static files; their shared dependencies live in
`qa.services`. Middleware bounds request bodies (413) and questions in flight (503 +
Retry-After). Every bad request is answered with a 4xx and a reason; an unexpected
failure is logged and answered without a traceback.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import __version__
from qa.config import Settings, get_settings
from qa.pipeline import DeadlineExceeded
from qa.stores.base import StoreUnavailableError
# Re-exported: the request plumbing lives in qa.services since the routers need it too.
from qa.services import (  # noqa: F401
    WEB_DIR, IndexDep, NoIndexError, Services, ServicesDep, get_services, load_services, require_index, templates,
)

LOG = logging.getLogger(__name__)


def _printable(detail: str) -> str:
    """`detail` safe to encode as UTF-8: a lone surrogate echoed from the input is escaped."""
    return detail.encode("utf-8", "backslashreplace").decode("utf-8")


def _validation_message(errors: list[dict]) -> str:
    parts = []
    for error in errors:
        kind, loc = error.get("type"), tuple(error.get("loc", ()))
        if kind == "json_invalid":
            return "the request body is not valid JSON"
        if loc == ("body",) and kind == "missing":
            return "the request body is missing: send a JSON object such as {\"question\": \"...\"}"
        if loc == ("body",) and kind in ("model_attributes_type", "dict_type", "model_type"):
            return "the request body must be a JSON object such as {\"question\": \"...\"}"
        location = ".".join(str(p) for p in loc if p not in ("body", "query", "path"))
        if kind == "extra_forbidden":
            parts.append(f"unknown field {str(loc[-1])!r}")
            continue
        message = str(error.get("msg")).removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return _printable("; ".join(parts) or "invalid request")


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
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone; nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_json(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()  # a later receive waits for the disconnect, as usual
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


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


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or (services.settings if services else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if getattr(app.state, "services", None) is None:
            app.state.services = load_services(settings)
        yield

    app = FastAPI(title="News QA", version=__version__, lifespan=lifespan,
                  description="Ask questions about a folder of news articles; answers are cited spans.")
    app.state.services = services

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        status = 400 if any(e.get("type") == "json_invalid" for e in errors) else 422
        return JSONResponse({"detail": _validation_message(errors)}, status_code=status)

    @app.exception_handler(NoIndexError)
    async def on_no_index(request: Request, exc: NoIndexError):
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(StoreUnavailableError)
    async def on_store_down(request: Request, exc: StoreUnavailableError):
        return JSONResponse({"detail": f"the archive's store cannot be reached: {exc}"}, status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(DeadlineExceeded)
    async def on_deadline(request: Request, exc: DeadlineExceeded):
        limit = request.app.state.services.settings.request_timeout_s
        return JSONResponse({"detail": f"{exc}: the limit is {limit:g} s (NEWSQA_REQUEST_TIMEOUT_S); retry later"},
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        detail = _printable(exc.detail) if isinstance(exc.detail, str) else exc.detail
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        LOG.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)

    from qa import api, pages

    app.include_router(api.ask_router)
    app.include_router(api.documents_router)
    app.include_router(api.health_router)
    app.include_router(api.admin_router)
    app.include_router(api.feedback_router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    # The last added runs first: a busy server refuses before reading any body.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, upload_bytes=settings.max_upload_bytes)
    app.add_middleware(InFlightLimit, limit=settings.max_in_flight)
    return app


@contextmanager
def serve_in_background(app: FastAPI, host: str = "127.0.0.1"):
    """Serve `app` with uvicorn on a free port in a thread (browser tests, benchmarks); yields the base URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError(f"the server on {host}:{port} did not start")
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
