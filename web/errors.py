"""The one mapping from domain errors to HTTP statuses, and the handlers that answer them.

Routes and the code they call raise domain errors (`qa.validation.InvalidInput`,
`qa.feedback.FeedbackError`, `qa.ingestion.adding.AddArticleError`, ...), which know nothing
of HTTP; `STATUSES` says which status each one is answered with, for the JSON API (the
handlers below) and the pages (which show the reason on a page with the same status).
Every bad request is answered with a 4xx and a reason; an unexpected failure is logged and
answered 500 without a traceback. The JSON API answers every error with one body, a
`web.schemas.Problem` (RFC 9457, `application/problem+json`): FastAPI's validation errors, the
domain errors, HTTP errors and the middleware's refusals alike; `web.openapi` documents it.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from qa.feedback import FeedbackError, FeedbackUnavailable, UnknownDocumentError
from qa.ingestion.adding import AddArticleError, ArticleConflict
from qa.live import NO_INDEX
from qa.pipeline import DeadlineExceeded
from qa.stores.base import BuildInProgressError, DiskFullError, IndexWriteError, StoreUnavailableError
from qa.validation import DocumentNotFound, InvalidInput
from web.schemas import ProblemResponse

LOG = logging.getLogger(__name__)


class NoIndexError(Exception):
    """No usable index is loaded; answered with 503 and the command that builds one."""

    def __init__(self, services) -> None:
        # No server paths in what clients see: `LiveIndex.error` names versions only.
        reason = services.live_index.error or NO_INDEX
        super().__init__(f"{reason}. Build one with `newsqa build`")


class FeedbackConflict(FeedbackError):
    """Feedback whose offsets do not cite its answer in the article as the index holds it now (the
    article may have changed since it was answered): every rule of the request alone is checked by
    `web.schemas.FeedbackRequest` (its schema, and each span's start before its end: 422), so what
    `qa.feedback.validate` still refuses is a conflict with the article (409)."""


# The most specific class of an error decides (a subclass listed before its base is not needed:
# the lookup walks the error's class hierarchy).
STATUSES: dict[type[Exception], int] = {
    InvalidInput: 422,
    DocumentNotFound: 404,
    FeedbackError: 422,
    UnknownDocumentError: 404,
    FeedbackConflict: 409,
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


_WHOLE_BODY = {
    "json_invalid": "the request body is not valid JSON",
    "missing": "the request body is missing: send a JSON object such as {\"question\": \"...\"}",
    "model_attributes_type": "the request body must be a JSON object such as {\"question\": \"...\"}",
}
_WHOLE_BODY["dict_type"] = _WHOLE_BODY["model_type"] = _WHOLE_BODY["model_attributes_type"]
_LOCATIONS = ("body", "query", "path", "header")


def field_problems(errors: list[dict]) -> list[dict]:
    """FastAPI's validation errors as `FieldProblem`s: where, which field, and why in words."""
    problems = []
    for error in errors:
        kind, loc = error.get("type"), tuple(error.get("loc", ()))
        where = loc[0] if loc and loc[0] in _LOCATIONS else "body"
        path = loc[1:] if loc and loc[0] in _LOCATIONS else loc
        field = ".".join(str(part) for part in path)
        if kind == "json_invalid" or (not path and kind in _WHOLE_BODY):
            return [{"location": "body", "field": "", "message": _WHOLE_BODY[kind]}]
        if kind == "extra_forbidden":
            message = f"unknown field {str(path[-1])!r}"
        else:
            message = str(error.get("msg")).removeprefix("Value error, ")
        problems.append({"location": where, "field": _printable(field), "message": _printable(message)})
    return problems or [{"location": "body", "field": "", "message": "invalid request"}]


def _validation_detail(problems: list[dict]) -> str:
    return "; ".join(p["message"] if not p["field"] or p["message"].startswith("unknown field")
                     else f"{p['field']}: {p['message']}" for p in problems)


async def on_validation_error(request: Request, exc: RequestValidationError) -> ProblemResponse:
    errors = exc.errors()
    status = 400 if any(e.get("type") == "json_invalid" for e in errors) else 422
    problems = field_problems(errors)
    return ProblemResponse(status, _validation_detail(problems), errors=problems)


async def on_domain_error(request: Request, exc: Exception) -> ProblemResponse:
    retry_after = _lookup(RETRY_AFTER, exc)
    return ProblemResponse(status_of(exc), detail_of(exc, request),
                           headers={"Retry-After": retry_after} if retry_after else None)


def _allow(routes: list[Route], scope) -> str | None:
    """Every method of the resource the request's path names, as the API document has them (Starlette's
    own `Allow` lists the first route that matches the path only: "POST" for `/ask`, which answers GET too)."""
    matching = [r for r in routes if r.matches(scope)[0] != Match.NONE]
    if not matching:
        return None
    return ", ".join(sorted({m for r in matching if r.path == matching[0].path for m in r.methods or ()}))


async def on_http_error(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (allowed := _allow(request.app.state.api_routes, request.scope)):
        headers["Allow"] = allowed
    return ProblemResponse(exc.status_code, _printable(detail), headers=headers or None)


async def on_unexpected(request: Request, exc: Exception) -> ProblemResponse:
    LOG.exception("unexpected error on %s %s", request.method, request.url.path)
    return ProblemResponse(500, "internal error; see the server log")


def register(app: FastAPI, routes: list[Route]) -> None:
    """Install the handlers: validation, every domain error of `STATUSES`, HTTP errors, the rest;
    `routes` are the app's routes, whose methods a 405 lists in `Allow`."""
    app.state.api_routes = routes
    app.add_exception_handler(RequestValidationError, on_validation_error)
    for error in STATUSES:
        app.add_exception_handler(error, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
