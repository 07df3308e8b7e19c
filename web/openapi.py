"""What /openapi.json says about errors and the write key, built in one place.

Routes document their errors with `responses(...)`: every status they can send, each with the
one error body, `web.schemas.Problem`, as `application/problem+json`. Every operation can also
answer 400 (a Content-Length that is not a number), 413 (a body over the limit) and 500,
which `responses` adds. `install` gives the document those media types and says whether the
write key is needed, as this server is configured.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from qa.config import Settings
from web.schemas import Problem

PROBLEM_JSON = "application/problem+json"
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying, where waiting helps",
                                "schema": {"type": "integer"}}}
# Every status the API sends, with when it sends it (`docs/api.md` has the same table in prose).
ERRORS: dict[int, dict] = {
    400: {"description": "The body is not valid JSON, or Content-Length is not a number"},
    401: {"description": "The server has an API key (NEWSQA_API_KEY) and the request did not send it, or sent "
                         "a wrong one", "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}},
    403: {"description": "Posted from another site's page (`Sec-Fetch-Site: cross-site`)"},
    404: {"description": "No article has this id"},
    409: {"description": "A conflict with the archive as it is now: a build is running (with Retry-After), an "
                         "article id already taken, or feedback whose offsets do not cite its answer in the "
                         "article", "headers": _RETRY_AFTER},
    413: {"description": "The body is over NEWSQA_MAX_BODY_BYTES (NEWSQA_MAX_UPLOAD_BYTES for articles)"},
    422: {"description": "A value the schema refuses (`errors` lists each with the reason), or an article file "
                         "that cannot be read"},
    500: {"description": "An unexpected failure, logged on the server (no details are sent)"},
    503: {"description": "No index is loaded; every question slot is busy and the queue full or the wait over; "
                         "the question ran out of time; the store cannot be reached; an index write failed. "
                         "Retry-After where waiting helps", "headers": _RETRY_AFTER},
    507: {"description": "The disk that holds the archive or the index is full; nothing of the article was kept"},
}
EVERY_OPERATION = (400, 413, 500)
# The one answer that does not come from the app: uvicorn refuses a request whose request line and
# headers pass 16 KiB before the app sees it. Only the query-string forms can get there (a question
# of 1,000 characters is up to 12 KB percent-encoded, and filters add to it).
_HEAD_TOO_LARGE = {
    "description": ERRORS[400]["description"] + "; or, from the HTTP server itself as text/plain, a request line "
                   "and headers over 16 KiB (send long questions and filters in the body of POST /ask)",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


def responses(*statuses: int, long_query: bool = False) -> dict[int | str, dict]:
    """The `responses=` of a route that can answer `statuses` (and those of `EVERY_OPERATION`);
    `long_query`: its query string can pass the HTTP server's limit on a request's head."""
    documented = {status: {"model": Problem, **ERRORS[status]} for status in sorted({*statuses, *EVERY_OPERATION})}
    if long_query:
        documented[400] = {"model": Problem, **_HEAD_TOO_LARGE}
    return documented


def operation_id(route: APIRoute) -> str:
    """The route's function name (`ask_post`, `get_document`): what a generated client calls it."""
    return route.name


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the document with every error as `application/problem+json` and, on a server without
    an API key, the write key's security optional (`{}`: the writes are open there)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()  # FastAPI's document, cached in `app.openapi_schema`: changed in place once
            for operation in (op for path in schema["paths"].values() for op in path.values()):
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status[0] in "45" and "application/json" in content:
                        content[PROBLEM_JSON] = content.pop("application/json")
                if "security" in operation and settings.api_key is None:
                    operation["security"].append({})
        return app.openapi_schema

    app.openapi = openapi
