"""The FastAPI application: start-up (models loaded once), dependencies, errors.

`create_app(settings)` loads the embedder, reader and index at start-up (or takes
ready `Services`, as the tests do) and mounts the JSON API (`qa.api`), the web
pages (`qa.pages`) and the static files. Every bad request is answered with a 4xx
and a reason; an unexpected failure is logged and answered without a traceback.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import __version__
from qa.config import PROJECT_ROOT, Settings, get_settings
from qa.index import Embedder, NewsIndex
from qa.pipeline import Assistant, LiveIndex
from qa.reader import ExtractiveReader

LOG = logging.getLogger(__name__)
WEB_DIR = PROJECT_ROOT / "web"


@dataclass
class Services:
    """Everything loaded once per process and shared by all requests."""

    settings: Settings
    embedder: Embedder
    live_index: LiveIndex
    reader: ExtractiveReader
    assistant: Assistant


def load_services(settings: Settings) -> Services:
    embedder = Embedder(settings.embedding_model_path(), settings.embedding_model_name)
    live_index = LiveIndex(settings.index_dir, embedder)
    live_index.load()
    reader = ExtractiveReader(settings.reader_model, backend=settings.reader_backend, threads=settings.threads)
    assistant = Assistant(live_index, reader, settings.passages_to_read, settings.no_answer_threshold)
    return Services(settings, embedder, live_index, reader, assistant)


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


class NoIndexError(Exception):
    """No usable index is loaded; answered with 503 and the command that builds one."""

    def __init__(self, services: Services) -> None:
        index_dir = services.settings.index_dir
        reason = services.live_index.error or f"no index in {index_dir}"
        super().__init__(f"{reason}. Build one with: python scripts/build_index.py --index-dir {index_dir}")


def require_index(services: ServicesDep) -> NewsIndex:
    index = services.live_index.get()
    if index is None:
        raise NoIndexError(services)
    return index


IndexDep = Annotated[NewsIndex, Depends(require_index)]
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))


def _validation_message(errors: list[dict]) -> str:
    parts = []
    for error in errors:
        if error.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        message = str(error.get("msg")).removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid request"


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

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        LOG.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)

    from qa import api, pages

    app.include_router(api.ask_router)
    app.include_router(api.documents_router)
    app.include_router(api.health_router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
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
