"""The web pages (Jinja2, no JavaScript needed): the question page and the article page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from qa.api import MAX_TOP_K, check_document_id, check_text, clean_question
from qa.pipeline import DeadlineExceeded
from qa.services import DeadlineDep, ServicesDep, templates

router = APIRouter(tags=["pages"], include_in_schema=False)


def _split(text: str, start: int, end: int) -> tuple[str, str, str]:
    return text[:start], text[start:end], text[end:]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, services: ServicesDep, deadline: DeadlineDep,
         q: Annotated[str | None, Query(max_length=20_000)] = None,
         top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 3,
         min_score: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0):
    context: dict = {"question": q or "", "top_k": top_k, "min_score": min_score, "result": None, "error": None,
                     "answers": [], "several_articles": False}
    status = 200
    index = services.live_index.get()
    if q is not None:
        try:
            question = clean_question(q)
        except ValueError as err:
            context["error"], status = f"Please ask a question: {err}.", 422
        else:
            if index is None:
                context["error"] = "No index is loaded yet. Build one with `python scripts/build_index.py`."
                status = 503
            else:
                try:
                    result = services.assistant.ask(question, top_k, index=index, min_score=min_score,
                                                    deadline=deadline)
                except DeadlineExceeded as err:
                    context["error"], status = f"Sorry, {err}. Please try again in a moment.", 503
                else:
                    context["several_articles"] = result.several_articles
                    context["result"] = result
                    context["answers"] = [(a, _split(a.context, a.start - a.context_start, a.end - a.context_start))
                                          for a in result.answers]
    context["documents"] = len(index.documents) if index is not None else 0
    return templates.TemplateResponse(request, "index.html", context, status_code=status)


@router.get("/articles/{document_id:path}", response_class=HTMLResponse)
def article(request: Request, document_id: str, services: ServicesDep, start: int | None = None,
            end: int | None = None, q: Annotated[str, Query(max_length=1000)] = ""):
    check_document_id(document_id)
    try:
        check_text(q, "q")
    except ValueError as err:
        raise HTTPException(422, detail=str(err)) from None
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
        {"document": document, "parts": parts, "highlight": highlight, "notice": notice, "question": q})
