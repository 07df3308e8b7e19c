"""The one mapping from domain errors to HTTP statuses, and the handlers that answer them.

Routes and the code they call raise domain errors (`qa.validation.InvalidInput`,
`qa.feedback.FeedbackError`, `qa.ingestion.adding.AddArticleError`, ...), which know nothing
of HTTP; `STATUSES` says which status each one is answered with, for the JSON API (the
handlers below) and the pages (which show the reason on a page with the same status).
Every bad request is answered with a 4xx and a reason; an unexpected failure is logged and
answered 500 without a traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.feedback import FeedbackError, FeedbackUnavailable, UnknownDocumentError
from qa.ingestion.adding import AddArticleError, ArticleConflict
from qa.live import NO_INDEX
from qa.pipeline import DeadlineExceeded
from qa.stores.base import BuildInProgressError, DiskFullError, IndexWriteError, StoreUnavailableError
from qa.validation import DocumentNotFound, InvalidInput

LOG = logging.getLogger(__name__)


class NoIndexError(Exception):
    """No usable index is loaded; answered with 503 and the command that builds one."""

    def __init__(self, services) -> None:
        # No server paths in what clients see: `LiveIndex.error` names versions only.
        reason = services.live_index.error or NO_INDEX
        super().__init__(f"{reason}. Build one with `newsqa build`")


# The most specific class of an error decides (a subclass listed before its base is not needed:
# the lookup walks the error's class hierarchy).
STATUSES: dict[type[Exception], int] = {
    InvalidInput: 422,
    DocumentNotFound: 404,
    FeedbackError: 422,
    UnknownDocumentError: 404,
    FeedbackUnavailable: 503,
    AddArticleError: 422,
    ArticleConflict: 409,
    BuildInProgressError: 409,
    NoIndexError: 503,
    StoreUnavailableError: 503,
    DeadlineExceeded: 503,
    IndexWriteError: 503,
    DiskFullError: 507,  # Insufficient Storage: not the client's fault, and not over until space is freed
}
RETRY_AFTER: dict[type[Exception], str] = {BuildInProgressError: "10", StoreUnavailableError: "5",
                                           DeadlineExceeded: "1", IndexWriteError: "30"}


def _lookup(table: dict, error: BaseException):
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return None


def status_of(error: BaseException, default: int = 500) -> int:
    """The HTTP status that answers `error` (`default` for one that is not a domain error)."""
    return _lookup(STATUSES, error) or default


def _printable(detail: str) -> str:
    """`detail` safe to encode as UTF-8: a lone surrogate echoed from the input is escaped."""
    return detail.encode("utf-8", "backslashreplace").decode("utf-8")


def detail_of(error: BaseException, request: Request) -> str:
    """What a client is told about `error` (no server paths, no traceback)."""
    if isinstance(error, BuildInProgressError):
        return "the index is being rebuilt right now; try again when it is done"
    if isinstance(error, StoreUnavailableError):
        return f"the archive's store cannot be reached: {error}"
    if isinstance(error, DeadlineExceeded):
        limit = request.app.state.services.settings.request_timeout_s
        return f"{error}: the limit is {limit:g} s (NEWSQA_REQUEST_TIMEOUT_S); retry later"
    return _printable(str(error))


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


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    status = 400 if any(e.get("type") == "json_invalid" for e in errors) else 422
    return JSONResponse({"detail": _validation_message(errors)}, status_code=status)


async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    retry_after = _lookup(RETRY_AFTER, exc)
    return JSONResponse({"detail": detail_of(exc, request)}, status_code=status_of(exc),
                        headers={"Retry-After": retry_after} if retry_after else None)


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = _printable(exc.detail) if isinstance(exc.detail, str) else exc.detail
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    LOG.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)


def register(app: FastAPI) -> None:
    """Install the handlers: validation, every domain error of `STATUSES`, HTTP errors, the rest."""
    app.add_exception_handler(RequestValidationError, on_validation_error)
    for error in STATUSES:
        app.add_exception_handler(error, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
