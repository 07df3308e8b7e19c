"""The web pages (Jinja2, no JavaScript needed): the question page, the archive, the article
page, the feedback forms (an answer is right; it is wrong, and here is the right span) and
the form that adds an article.

A page shows what went wrong on the page itself, with the status `web.errors` gives the error.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from qa.feedback import Feedback, FeedbackError, FeedbackUnavailable, find_span
from qa.ingestion.adding import NOT_ADDED, AddArticleError, pasted_article, uploaded_article
from qa.pipeline import DeadlineExceeded
from qa.stores.base import BuildInProgressError, IndexWriteError
from qa.validation import MAX_TOP_K, InvalidInput, check_document_id, check_text, clean_question
from web.deps import DeadlineDep, Services, ServicesDep, from_another_site, key_matches, templates
from web.errors import detail_of, status_of
from web.schemas import FiltersIn

router = APIRouter(tags=["pages"], include_in_schema=False)
NO_INDEX_PAGE = "No index is loaded yet. Build one with `newsqa build`."
PAGE_HALF_LIFE_DAYS = 365.0  # "newer first" on the page: an answer a year older needs twice the score
ARCHIVE_PAGE_SIZE = 50
MAX_FORM_FIELDS = 20


def _split(text: str, start: int, end: int) -> tuple[str, str, str]:
    return text[:start], text[start:end], text[end:]


def page_filters(request: Request) -> tuple[FiltersIn | None, str | None]:
    """The filter fields of a page's query string (blank fields do not filter), or why they are wrong."""
    params = request.query_params
    values = {"date_from": params.get("date_from") or None, "date_to": params.get("date_to") or None,
              "sources": [v for v in params.getlist("source") if v], "sections": [v for v in params.getlist("section") if v]}
    try:
        filters = FiltersIn(**values)
        filters.to_filters()
    except ValidationError as err:
        return None, "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
    except InvalidInput as err:
        return None, str(err)
    return filters, None


# -- the question page --------------------------------------------------------------------------
def _answer_question(services: Services, index, context: dict, q: str, filters_in: FiltersIn,
                     deadline: float) -> int:
    """Ask `q` and put the answers in `context`; the page's status."""
    try:
        question = clean_question(q)
    except ValueError as err:
        context["error"] = f"Please ask a question: {err}."
        return 422
    if index is None:
        context["error"] = NO_INDEX_PAGE
        return 503
    try:
        result = services.assistant.ask(
            question, context["top_k"], index=index, min_score=context["min_score"], deadline=deadline,
            filters=filters_in.to_filters(),
            recency_half_life_days=PAGE_HALF_LIFE_DAYS if context["recent"] else None)
    except DeadlineExceeded as err:
        context["error"] = f"Sorry, {err}. Please try again in a moment."
        return 503
    context["several_articles"] = result.several_articles
    context["result"] = result
    answers, less_likely = result.shown(newer_first=context["recent"])
    context["answers"], context["alternatives"] = (
        [(a, _split(a.context, a.start - a.context_start, a.end - a.context_start)) for a in group]
        for group in (answers, less_likely))
    return 200


@router.get("/", response_class=HTMLResponse)
def home(request: Request, services: ServicesDep, deadline: DeadlineDep,
         q: Annotated[str | None, Query(max_length=20_000)] = None,
         top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 3,
         min_score: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0, recent: bool = False):
    context: dict = {"question": q or "", "top_k": top_k, "min_score": min_score, "result": None, "error": None,
                     "answers": [], "alternatives": [], "several_articles": False, "recent": recent}
    status = 200
    index = services.live_index.get()
    filters_in, filter_error = page_filters(request)
    context["filters"] = filters_in or FiltersIn()
    if filter_error is not None:
        context["error"], status = f"Please check the filters: {filter_error}.", 422
    elif q is not None:
        status = _answer_question(services, index, context, q, filters_in, deadline)
    context["archive"] = index.stats() if index is not None else None
    context["documents"] = context["archive"].documents if index is not None else 0
    context["freshness"] = _freshness(services, index)
    return templates.TemplateResponse(request, "index.html", context, status_code=status)


# -- the archive and the article pages ----------------------------------------------------------
def _shown_time(value: str | None) -> str | None:
    """`2026-12-05T10:31:07Z` as the pages show it: `2026-12-05 10:31 UTC`."""
    if not value or len(value) < 16 or "T" not in value:
        return value
    return f"{value[:10]} {value[11:16]} UTC"


def _freshness(services: Services, index) -> dict:
    """When the archive last changed, and the feeds it follows with their last poll (the pages' lines)."""
    manifest = index.manifest if index is not None else {}
    following = services.following.status() if services.following is not None else {}
    feeds = [{**feed, "checked_at": _shown_time(feed["checked_at"]), "updated_at": _shown_time(feed["updated_at"])}
             for feed in following.get("feeds", [])]
    return {"updated_at": _shown_time(manifest.get("updated_at") or manifest.get("built_at")), "feeds": feeds,
            "watching": following.get("watching", False)}


@router.get("/archive", response_class=HTMLResponse)
def archive(request: Request, services: ServicesDep, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1):
    """What the archive holds: counts, sections, sources, date span, when it was last updated and from
    which feeds, and the articles, newest first, filtered and paged."""
    index = services.live_index.get()
    filters_in, filter_error = page_filters(request)
    context: dict = {"archive": None, "listing": None, "error": filter_error, "filters": filters_in or FiltersIn(),
                     "page": page, "page_size": ARCHIVE_PAGE_SIZE, "freshness": None}
    status = 422 if filter_error else 200
    if index is None:
        context["error"], status = NO_INDEX_PAGE, 503
    else:
        context["archive"] = index.stats()
        context["freshness"] = _freshness(services, index)
        if filter_error is None:
            context["listing"] = index.documents(filters_in.to_filters(), (page - 1) * ARCHIVE_PAGE_SIZE,
                                                 ARCHIVE_PAGE_SIZE, newest_first=True)
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    context["query"] = urlencode(query)
    return templates.TemplateResponse(request, "archive.html", context, status_code=status)


@router.get("/articles/{document_id:path}", response_class=HTMLResponse)
def article(request: Request, document_id: str, services: ServicesDep, start: int | None = None,
            end: int | None = None, q: Annotated[str, Query(max_length=1000)] = "", correct: bool = False):
    check_document_id(document_id)
    check_text(q, "q")
    index = services.live_index.get()
    document = index.document(document_id) if index is not None else None
    if document is None:
        return templates.TemplateResponse(
            request, "article.html", {"document": None, "document_id": document_id, "question": q}, status_code=404)
    highlight = start is not None and end is not None and 0 <= start < end <= len(document.text)
    parts = _split(document.text, start, end) if highlight else (document.text, "", "")
    notice = None if highlight or (start is None and end is None) else "The cited offsets are outside this article."
    return templates.TemplateResponse(
        request, "article.html",
        {"document": document, "parts": parts, "highlight": highlight, "notice": notice, "question": q,
         "start": start, "end": end, "correct": correct and highlight})


# -- feedback forms -----------------------------------------------------------------------------
# A page form cannot send headers, so where NEWSQA_API_KEY is set the forms carry a password
# field `key` (posted in the body, never in a URL) that is checked like the API's header.
async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a plain HTML form post (application/x-www-form-urlencoded), parsed here
    rather than with FastAPI's `Form`, which needs python-multipart for this one use."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, detail="send the form as application/x-www-form-urlencoded")
    try:
        body = (await request.body()).decode("ascii")
        return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict"))
    except UnicodeDecodeError:
        raise InvalidInput("the form is not URL-encoded UTF-8") from None
    except ValueError:
        raise InvalidInput(f"the form has more than {MAX_FORM_FIELDS} fields") from None


FormDep = Annotated[dict[str, str], Depends(form_fields)]


def _integer(fields: dict[str, str], name: str) -> int | None:
    value = fields.get(name, "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise ValueError(f"{name} must be a character offset, not {value[:20]!r}")
    return int(value)


def _corrected_span(fields: dict[str, str], text: str, near: int) -> tuple[int | None, int | None]:
    """The corrected span from the article page's form: the offsets the selection script filled
    in, or, without JavaScript (or when the box was edited after selecting), the pasted text
    found in the article at or nearest the original answer."""
    start, end = _integer(fields, "corrected_start"), _integer(fields, "corrected_end")
    pasted = check_text(fields.get("corrected_text", ""), "corrected text").strip()
    selected = start is not None and end is not None and text[start:end].split() == pasted.split()
    if not pasted or selected:
        return start, end
    span = find_span(text, pasted, near)
    if span is None:
        raise FeedbackError(f"{pasted[:80]!r} does not occur in this article; select or copy the answer "
                            "from the article text")
    return span


def _form_feedback(fields: dict[str, str], index) -> Feedback:
    """The `Feedback` a form posted (ValueError, or FeedbackError, if it is not one)."""
    question = clean_question(fields.get("question", ""))
    document_id = check_document_id(fields.get("document_id", ""))
    start, end = _integer(fields, "start"), _integer(fields, "end")
    if start is None or end is None:
        raise ValueError("the form lacks the answer's offsets (start, end)")
    document = index.document(document_id)
    corrected_start, corrected_end = None, None
    if document is not None and fields.get("verdict") == "wrong":
        corrected_start, corrected_end = _corrected_span(fields, document.text, start)
    answer = fields.get("answer", "")
    if document is not None and "\r\n" in answer and document.text[start:end] == answer.replace("\r\n", "\n"):
        answer = document.text[start:end]  # browsers send a form value's line breaks as CRLF
    return Feedback(question=question, answer=answer, document_id=document_id, start=start,
                    end=end, verdict=fields.get("verdict", ""), corrected_start=corrected_start,
                    corrected_end=corrected_end)


def _local_path(value: str) -> str:
    """`value` if it is a path on this site (where "back" may lead), "/" otherwise."""
    safe = value.startswith("/") and not value.startswith("//") and "\\" not in value and value.isprintable()
    return value if safe else "/"


def _feedback_page(request: Request, status: int, message: str, fields: dict[str, str]) -> HTMLResponse:
    return templates.TemplateResponse(request, "feedback.html",
                                      {"message": message, "back": _local_path(fields.get("back", "/"))},
                                      status_code=status)


def _thanks(stored: Feedback) -> RedirectResponse:
    """Back to the answers, or for a correction to the article with the corrected span highlighted."""
    if stored.corrected_start is not None:
        query = urlencode({"start": stored.corrected_start, "end": stored.corrected_end, "q": stored.question,
                           "feedback": stored.id})
        return RedirectResponse(f"/articles/{quote(stored.document_id)}?{query}#cited", status_code=303)
    return RedirectResponse(f"/?{urlencode({'q': stored.question, 'feedback': stored.id})}#feedback-thanks",
                            status_code=303)


@router.post("/feedback/form", response_class=HTMLResponse)
def feedback_form(request: Request, services: ServicesDep, fields: FormDep):
    """Where the answers' Right/Wrong buttons and the article page's correction form post.

    Redirects (303) to the answers, or for a correction to the article with the corrected
    span highlighted, with a thank-you (`feedback=<id>`); a page with the reason otherwise.
    """
    if from_another_site(request):  # checked with or without a key: the key is not needed for that
        return _feedback_page(request, 403, "Feedback is accepted from this site's own pages only.", fields)
    if not key_matches(services, fields.get("key") or None):
        return _feedback_page(request, 401, "This server needs its API key for feedback: enter it in the key "
                              "field beside the buttons.", fields)
    index = services.live_index.get()
    if index is None:
        return _feedback_page(request, 503, "No index is loaded, so there is no answer to give feedback on.",
                              fields)
    try:
        stored = services.record_feedback(index, _form_feedback(fields, index))
    except FeedbackUnavailable as err:
        return _feedback_page(request, status_of(err), f"Sorry, the feedback was not recorded: {err}.", fields)
    except ValueError as err:  # FeedbackError and InvalidInput among them
        return _feedback_page(request, status_of(err, default=422), f"The feedback was not recorded: {err}.", fields)
    return _thanks(stored)


# -- adding an article ----------------------------------------------------------------------------
@router.get("/add", response_class=HTMLResponse)
def add_form(request: Request):
    """The "add article" form: upload a file, or paste text with its title, date and source."""
    return templates.TemplateResponse(request, "add.html", {"error": None, "fields": {}})


def _article_file(fields: dict[str, str], file: UploadFile | None, data: bytes) -> tuple[str, bytes]:
    """The article file (name, bytes) the form sent: the upload, or the pasted text with its fields."""
    for name, value in fields.items():
        check_text(value, name)
    if data and fields["text"].strip():
        raise AddArticleError("upload a file or paste text, not both")
    if data:
        if any(fields[k].strip() for k in ("title", "published", "source", "section", "author")):
            raise AddArticleError("an uploaded file brings its own title, date and source; leave these fields "
                                  "empty, or paste the text instead")
        return uploaded_article(file.filename, data)
    return pasted_article(fields["title"], fields["text"], published=fields["published"] or None,
                          source=fields["source"] or None, section=fields["section"] or None,
                          author=fields["author"] or None)


@router.post("/add", response_class=HTMLResponse)
async def add_submit(request: Request, services: ServicesDep,
                     file: Annotated[UploadFile | None, File()] = None,
                     title: Annotated[str, Form(max_length=1000)] = "",
                     text: Annotated[str, Form(max_length=2_000_000)] = "",
                     published: Annotated[str, Form(max_length=40)] = "",
                     source: Annotated[str, Form(max_length=1000)] = "",
                     section: Annotated[str, Form(max_length=1000)] = "",
                     author: Annotated[str, Form(max_length=1000)] = "",
                     key: Annotated[str, Form(max_length=1000)] = ""):
    """Save the article in the archive folder, index it and open it (303), or show the form again with the reason."""
    fields = {"title": title, "text": text, "published": published, "source": source, "section": section,
              "author": author}

    def again(status: int, message: str) -> HTMLResponse:
        return templates.TemplateResponse(request, "add.html", {"error": message, "fields": fields},
                                          status_code=status)

    if from_another_site(request):
        return again(403, "Articles can be added from this site's own pages only.")
    if not key_matches(services, key or None):
        return again(401, "This server needs its API key to add articles: enter it in the key field.")
    index = services.live_index.get()
    if index is None:
        return again(503, "No index is loaded yet. Build one with `newsqa build` first.")
    data = await file.read() if file is not None and file.filename else b""
    try:
        name, data = _article_file(fields, file, data)
        added = await run_in_threadpool(services.add_article, index, name, data)
    except (ValueError, BuildInProgressError, IndexWriteError) as err:  # AddArticleError, InvalidInput, a full disk
        reason = detail_of(err, request).removesuffix(NOT_ADDED)  # the page says it first
        return again(status_of(err, default=422), f"The article was not added: {reason}.")
    first = added["document_ids"][0]
    return RedirectResponse(f"/articles/{quote(first)}?added={len(added['document_ids'])}", status_code=303)
