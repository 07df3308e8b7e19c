"""Request plumbing shared by the JSON API and the pages: the loaded services, the dependencies
that hand them to a request (index, deadline, write key, query filters), and the templates.

Kept apart from `web.app`, which only assembles the application, so that the routers import
their dependencies without importing the app that mounts them.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates

from qa.config import Settings
from qa.embedding import Embedder
from qa.feedback import Feedback, FeedbackStore, validate
from qa.following import Follower
from qa.index import NewsIndex
from qa.ingestion.adding import add_article, finish_interrupted_adds
from qa.ingestion.common import shown_title
from qa.live import LiveIndex
from qa.pipeline import Assistant
from qa.reader import ExtractiveReader
from qa.stores import backend_from_settings
from qa.validation import MAX_FILTER_VALUES
from web.errors import NoIndexError
from web.middleware import ARRIVED
from web.schemas import Day, FiltersIn, FilterValue

WEB_DIR = Path(__file__).resolve().parent  # templates/ and static/ ship inside the package


@dataclass
class Services:
    """Everything loaded once per process and shared by all requests."""

    settings: Settings
    embedder: Embedder
    live_index: LiveIndex
    reader: ExtractiveReader
    assistant: Assistant
    # Defaulted so that code building Services by hand keeps working: the store is then the
    # one `settings.feedback_path()` names, as `load_services` puts it; its file is opened on first use.
    feedback: FeedbackStore | None = field(default=None)
    # Following the article folders and feeds (`serve --watch --feeds`); started and stopped with the app.
    following: Follower | None = field(default=None)

    def __post_init__(self) -> None:
        if self.feedback is None:
            self.feedback = FeedbackStore(self.settings.feedback_path())

    def add_article(self, index: NewsIndex, name: str, data: bytes) -> dict:
        """Save, index and load an article file (the API and the page form); AddArticleError or
        BuildInProgressError say why not."""
        added = add_article(name, data, self.settings.articles, index)
        self.live_index.load()
        served = self.live_index.get()
        return {"document_ids": added.document_ids, "index_version": served.version if served else None,
                "embedded_chunks": added.embedded_chunks, "seconds": added.seconds}

    def record_feedback(self, index: NewsIndex, feedback: Feedback) -> Feedback:
        """Validate `feedback` against the served article and store it, stamped with the index and
        reader versions (the API and the page forms); FeedbackError says why not."""
        checked = validate(feedback, index.document(feedback.document_id))
        stamped = replace(checked, index_version=index.version, model_version=self.reader.weights_sha256)
        return self.feedback.add(stamped)


def load_services(settings: Settings) -> Services:
    embedder = Embedder.from_settings(settings)
    live_index = LiveIndex(backend_from_settings(settings), embedder)
    live_index.load()
    finish_interrupted_adds(settings.articles, live_index.get())  # a server killed mid-upload
    reader = ExtractiveReader(settings.reader_model, backend=settings.reader_backend, threads=settings.threads)
    assistant = Assistant.from_settings(live_index, reader, settings)
    return Services(settings, embedder, live_index, reader, assistant, FeedbackStore(settings.feedback_path()),
                    Follower.from_settings(live_index, settings))


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_index(services: ServicesDep) -> NewsIndex:
    index = services.live_index.get()
    if index is None:
        raise NoIndexError(services)
    return index


IndexDep = Annotated[NewsIndex, Depends(require_index)]


async def request_deadline(request: Request) -> float:
    """`time.monotonic()` by which the answer must be ready (NEWSQA_REQUEST_TIMEOUT_S).

    The clock starts when the question arrived (`web.middleware.ARRIVED`, set before it waited
    its turn in the queue), so the wait for a slot and for a worker thread count against the
    limit too. Async so that it runs on the event loop as the request is routed.
    """
    arrived = getattr(request.state, ARRIVED, None)
    started = arrived if arrived is not None else time.monotonic()
    return started + request.app.state.services.settings.request_timeout_s


DeadlineDep = Annotated[float, Depends(request_deadline)]


# Declared as security schemes, so that /openapi.json says how a write presents the key (either
# header); `web.openapi` marks them optional on a server without a key.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="The API key (NEWSQA_API_KEY) as `Authorization: Bearer <key>`")
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                              description="The API key (NEWSQA_API_KEY) as `X-API-Key: <key>`")


def require_write_key(services: ServicesDep,
                      bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
                      api_key: Annotated[str | None, Security(API_KEY_HEADER)]) -> None:
    """Endpoints that change state need the API key when one is configured (NEWSQA_API_KEY).

    Without a key the writes are open, which `python -m qa serve` allows on a loopback
    address only. The comparison takes the same time whatever the key sent.
    """
    expected = services.settings.api_key
    if expected is None:
        return
    presented = bearer.credentials.strip() if bearer is not None and bearer.credentials.strip() else api_key
    if presented is None:
        raise HTTPException(401, detail="this endpoint changes state and needs the API key: "
                            "send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not key_matches(services, presented):
        raise HTTPException(401, detail="wrong API key", headers={"WWW-Authenticate": "Bearer"})


WriteKeyDep = Annotated[None, Depends(require_write_key)]


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


def query_filters(date_from: Annotated[Day | None, Query(description="Earliest publication date, inclusive")] = None,
                  date_to: Annotated[Day | None, Query(description="Latest publication date, inclusive")] = None,
                  source: Annotated[list[FilterValue], Query(max_length=MAX_FILTER_VALUES)] = (),
                  section: Annotated[list[FilterValue], Query(max_length=MAX_FILTER_VALUES)] = (),
                  document_id: Annotated[list[FilterValue], Query(max_length=MAX_FILTER_VALUES)] = ()) -> FiltersIn:
    """Filters from a query string: `?date_from=2005-01-01&section=politics&section=business`; the
    values follow the rules of `FiltersIn`, declared once in `web.schemas`."""
    return FiltersIn.model_construct(date_from=date_from, date_to=date_to, sources=list(source),
                                     sections=list(section), document_ids=list(document_id))


QueryFiltersDep = Annotated[FiltersIn, Depends(query_filters)]


def feedback_key_required(request: Request) -> bool:
    """Whether the page forms need the API key field (NEWSQA_API_KEY is set). A page form cannot
    send headers, so the key is posted in the body (never in a URL) and checked like the API's header."""
    return request.app.state.services.settings.api_key is not None


templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
templates.env.globals["feedback_key_required"] = feedback_key_required
templates.env.filters["shown_title"] = shown_title
