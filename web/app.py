"""The FastAPI application, assembled: start-up (models loaded once), limits, routers, errors.

`create_app(settings)` loads the embedder, reader and index at start-up (or takes ready
`Services`, as the tests do) and mounts the routers of `web.routes` and the static files.
Middleware bounds request bodies (413) and questions in flight (503 + Retry-After); the
handlers of `web.errors` answer every error, with the body `web.openapi` documents. When the
settings ask for it (`--watch`, `--feeds`), the lifespan starts the `qa.following.Follower` that
keeps the served archive following its folders and feeds, and stops it at shutdown.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from qa import __version__
from qa.config import Settings, get_settings
from web import errors, openapi
from web.deps import WEB_DIR, Services, load_services
from web.middleware import BodySizeLimit, QuestionQueue
from web.routes import admin, ask, documents, feedback, pages


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or (services.settings if services else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if getattr(app.state, "services", None) is None:
            app.state.services = load_services(settings)
        following = app.state.services.following  # the folders and feeds followed, if asked for
        try:
            if following is not None:
                following.start()  # inside the try: a start that fails half-way is stopped too
            yield
        finally:
            if following is not None:
                following.stop()

    app = FastAPI(title="News QA", version=__version__, lifespan=lifespan,
                  description="Ask questions about a folder of news articles; answers are cited spans.",
                  generate_unique_id_function=openapi.operation_id)
    app.state.services = services
    routers = (ask.router, documents.router, admin.health_router, admin.router, feedback.router, pages.router)
    for router in routers:
        app.include_router(router)
    errors.register(app, [route for router in routers for route in router.routes])
    openapi.install(app, settings)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    # The last added runs first: a busy server refuses before reading any body.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, upload_bytes=settings.max_upload_bytes)
    app.add_middleware(QuestionQueue, limit=settings.max_in_flight, max_waiting=settings.max_queued,
                       wait_s=settings.queue_wait_s)
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
