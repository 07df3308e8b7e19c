"""Request plumbing shared by the JSON API and the pages: the loaded services and the
dependencies that hand them to a request (index, deadline, write key), the templates.

Kept apart from `qa.app`, which only assembles the application, so that the routers
(`qa.api`, `qa.pages`) import their dependencies without importing the app that
mounts them.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates

from qa.config import PROJECT_ROOT, Settings
from qa.feedback import FeedbackStore
from qa.index import Embedder, NewsIndex
from qa.pipeline import NO_INDEX, Assistant, LiveIndex
from qa.reader import ExtractiveReader
from qa.stores import backend_from_settings

WEB_DIR = PROJECT_ROOT / "web"


@dataclass
class Services:
    """Everything loaded once per process and shared by all requests."""

    settings: Settings
    embedder: Embedder
    live_index: LiveIndex
    reader: ExtractiveReader
    assistant: Assistant
    # Defaulted so that code building Services by hand keeps working: the store then sits
    # next to `settings.index_dir`, as `load_services` puts it; its file is opened on first use.
    feedback: FeedbackStore | None = field(default=None)

    def __post_init__(self) -> None:
        if self.feedback is None:
            self.feedback = FeedbackStore.for_index(self.settings.index_dir)


def load_services(settings: Settings) -> Services:
    embedder = Embedder.from_settings(settings)
    live_index = LiveIndex(backend_from_settings(settings), embedder)
    live_index.load()
    reader = ExtractiveReader(settings.reader_model, backend=settings.reader_backend, threads=settings.threads)
    assistant = Assistant.from_settings(live_index, reader, settings)
    return Services(settings, embedder, live_index, reader, assistant, FeedbackStore.for_index(settings.index_dir))


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


class NoIndexError(Exception):
    """No usable index is loaded; answered with 503 and the command that builds one."""

    def __init__(self, services: Services) -> None:
        # No server paths in what clients see: `LiveIndex.error` names versions only.
        reason = services.live_index.error or NO_INDEX
        super().__init__(f"{reason}. Build one with `python scripts/build_index.py`")


def require_index(services: ServicesDep) -> NewsIndex:
    index = services.live_index.get()
    if index is None:
        raise NoIndexError(services)
    return index


IndexDep = Annotated[NewsIndex, Depends(require_index)]


async def request_deadline(request: Request) -> float:
    """`time.monotonic()` by which the answer must be ready (NEWSQA_REQUEST_TIMEOUT_S).

    Async so that it runs on the event loop as the request is routed: the clock starts
    before the wait for a worker thread, which then counts against the limit too.
    """
    return time.monotonic() + request.app.state.services.settings.request_timeout_s


DeadlineDep = Annotated[float, Depends(request_deadline)]


def _presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key")


def require_write_key(request: Request, services: ServicesDep) -> None:
    """Endpoints that change state need the API key when one is configured (NEWSQA_API_KEY).

    Without a key the writes are open, which `python -m qa serve` allows on a loopback
    address only. The comparison takes the same time whatever the key sent.
    """
    expected = services.settings.api_key
    if expected is None:
        return
    presented = _presented_key(request)
    if presented is None:
        raise HTTPException(401, detail="this endpoint changes state and needs the API key: "
                            "send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not key_matches(services, presented):
        raise HTTPException(401, detail="wrong API key", headers={"WWW-Authenticate": "Bearer"})


def from_another_site(request: Request) -> bool:
    """Whether a browser says this request comes from another site (`Sec-Fetch-Site`). Writes
    that a plain form or a multipart post can make need no CORS preflight, so another site
    could otherwise make them in the name of whoever has this server open. Clients that are
    not browsers send no such header and pass."""
    return request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")


def key_matches(services: Services, presented: str | None) -> bool:
    """True when no API key is configured or `presented` is it; the comparison takes the same
    time whatever was sent. Shared by `require_write_key` (headers) and the page forms, which
    cannot send headers and post the key as a form field instead."""
    expected = services.settings.api_key
    if expected is None:
        return True
    return presented is not None and hmac.compare_digest(
        presented.encode("utf-8", "surrogateescape"), expected.get_secret_value().encode("utf-8", "surrogateescape"))


WriteKeyDep = Annotated[None, Depends(require_write_key)]
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
