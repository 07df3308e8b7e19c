"""The JSON API: `/ask`, `/documents/{id}`, `/feedback`, `/admin/reload`, `/healthz` (one router per resource)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qa.feedback import MAX_NOTE_CHARS, Feedback, FeedbackError, FeedbackUnavailable, validate
from qa.index import BuildInProgressError, Filters, NewsIndex
from qa.ingest import AddArticleError, add_article, pasted_article, uploaded_article
from qa.services import DeadlineDep, IndexDep, NoIndexError, Services, ServicesDep, WriteKeyDep, from_another_site

MAX_QUESTION_CHARS = 1000
MAX_TOP_K = 10
MAX_DOCUMENT_ID_CHARS = 1000
# C0 and C1 control characters except the ordinary whitespace \t \n \v \f \r (squeezed).
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(value: str, what: str) -> str:
    """`value` unchanged if it is text a model may see; a ValueError that says why otherwise.

    A lone surrogate (JSON "\\ud800") cannot be encoded and makes the tokenizer raise;
    U+FFFD is what undecodable bytes in a URL become; control characters are no text.
    """
    if match := _SURROGATE.search(value):
        raise ValueError(f"{what} is not valid Unicode: lone surrogate U+{ord(match[0]):04X} "
                         f"at character {match.start()}")
    if (position := value.find("\ufffd")) >= 0:
        raise ValueError(f"{what} is not valid UTF-8: U+FFFD (undecodable bytes) at character {position}")
    if match := _CONTROL.search(value):
        raise ValueError(f"{what} contains control character U+{ord(match[0]):04X} at character {match.start()}")
    return value


def clean_question(question: str) -> str:
    """The question with whitespace squeezed; rejects invalid text, empty and over-long ones."""
    cleaned = " ".join(check_text(question, "question").split())
    if not cleaned:
        raise ValueError("question must not be empty")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise ValueError(f"question is longer than {MAX_QUESTION_CHARS} characters")
    return cleaned


MAX_FILTER_VALUES = 100
_DAY = r"^\d{4}-\d{2}-\d{2}$"


def _check_day(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        if not re.fullmatch(_DAY, value):  # fromisoformat alone also takes 2005W101 and 20050301
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what} must be a date YYYY-MM-DD, not {value[:30]!r}") from None
    return value


class FiltersIn(BaseModel):
    """Which articles may answer: both date ends inclusive; values of one field are alternatives,
    fields combine (AND). An article without a date never matches a date filter."""

    model_config = ConfigDict(extra="forbid")

    date_from: str | None = Field(None, description="Earliest publication date, YYYY-MM-DD, inclusive",
                                  examples=["2005-01-01"])
    date_to: str | None = Field(None, description="Latest publication date, YYYY-MM-DD, inclusive")
    sources: list[str] = Field(default_factory=list, max_length=MAX_FILTER_VALUES, description="e.g. ['BBC News']")
    sections: list[str] = Field(default_factory=list, max_length=MAX_FILTER_VALUES, description="e.g. ['politics']")
    document_ids: list[str] = Field(default_factory=list, max_length=MAX_FILTER_VALUES)

    @field_validator("date_from", "date_to")
    @classmethod
    def _date(cls, value: str | None, info) -> str | None:
        return _check_day(value, info.field_name)

    @field_validator("sources", "sections", "document_ids")
    @classmethod
    def _values(cls, values: list[str], info) -> list[str]:
        for value in values:
            check_text(value, info.field_name[:-1])
            if not value.strip() or len(value) > MAX_DOCUMENT_ID_CHARS:
                raise ValueError(f"{info.field_name} values must be non-empty and at most "
                                 f"{MAX_DOCUMENT_ID_CHARS} characters")
        return values

    def to_filters(self) -> Filters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise HTTPException(422, detail=f"date_from {self.date_from} is after date_to {self.date_to}")
        return Filters(self.date_from, self.date_to, tuple(self.sources), tuple(self.sections),
                       tuple(self.document_ids))


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field ("topk") is an error, not ignored

    question: str = Field(..., description="A natural-language question", examples=["Who requested the meeting?"])
    top_k: int = Field(3, ge=1, le=MAX_TOP_K, description="How many distinct answers to return at most")
    min_score: float = Field(0.0, ge=0.0, le=1.0, description=(
        "Drop answers under this calibrated probability; the no-answer threshold (see /healthz) "
        "gives confident answers only. By default low-confidence best guesses are returned, "
        "marked `confident: false`, when nothing clears the threshold."))
    filters: FiltersIn | None = Field(None, description="Answer only from matching articles")
    recency_half_life_days: float | None = Field(None, gt=0, le=36_500, description=(
        "Off by default. Orders the answers by score x 0.5 ** (age in days / this), the age counted from "
        "the archive's newest article, so newer articles' answers come first; scores are unchanged"))

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return clean_question(value)


class AnswerOut(BaseModel):
    text: str
    score: float = Field(description="Calibrated probability that the answer is right, 0..1")
    document_id: str
    title: str
    start: int = Field(description="Offset of the answer in the document text")
    end: int
    context: str = Field(description="The sentence around the answer")
    context_start: int
    confident: bool = Field(description="False for a best guess under the no-answer threshold")
    published: str | None = Field(None, description="The article's publication date, when known")
    source: str | None = Field(None, description="The publication or site, when known")
    section: str | None = None
    author: str | None = None
    url: str | None = None
    page: int | None = Field(None, description="The page of the answer, for articles read from a PDF")


class PassageOut(BaseModel):
    document_id: str
    title: str
    start: int
    end: int
    text: str
    score: float


class AskResponse(BaseModel):
    question: str
    answers: list[AnswerOut]
    passages: list[PassageOut]
    no_answer: bool = Field(description=(
        "True when no answer clears the confidence threshold; `answers` then holds best guesses, if any"))
    message: str | None = Field(None, description="Why nothing was read, e.g. filters that match no article")
    took_ms: float
    passages_read: int = Field(0, description="How many of `passages` the reader read (fewer when the "
                                              "first were enough; NEWSQA_FIRST_READ)")


ask_router = APIRouter(tags=["ask"])


def _answer(services: ServicesDep, index: IndexDep, request: AskRequest, deadline: float) -> dict:
    filters = request.filters.to_filters() if request.filters is not None else None
    return services.assistant.ask(request.question, request.top_k, index=index, min_score=request.min_score,
                                  deadline=deadline, filters=filters,
                                  recency_half_life_days=request.recency_half_life_days).to_dict()


def query_filters(date_from: Annotated[str | None, Query(max_length=10)] = None,
                  date_to: Annotated[str | None, Query(max_length=10)] = None,
                  source: Annotated[list[str], Query(max_length=MAX_DOCUMENT_ID_CHARS)] = (),
                  section: Annotated[list[str], Query(max_length=MAX_DOCUMENT_ID_CHARS)] = (),
                  document_id: Annotated[list[str], Query(max_length=MAX_DOCUMENT_ID_CHARS)] = ()) -> FiltersIn:
    """Filters from a query string: `?date_from=2005-01-01&section=politics&section=business`."""
    try:
        return FiltersIn(date_from=date_from, date_to=date_to, sources=list(source), sections=list(section),
                         document_ids=list(document_id))
    except ValidationError as err:
        raise RequestValidationError(err.errors()) from None


QueryFiltersDep = Annotated[FiltersIn, Depends(query_filters)]


@ask_router.post("/ask", response_model=AskResponse)
def ask_post(request: AskRequest, services: ServicesDep, index: IndexDep, deadline: DeadlineDep) -> dict:
    """Answer a question from the indexed articles."""
    return _answer(services, index, request, deadline)


@ask_router.get("/ask", response_model=AskResponse)
def ask_get(services: ServicesDep, index: IndexDep, deadline: DeadlineDep, filters: QueryFiltersDep,
            question: Annotated[str, Query(max_length=20_000)],
            top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 3,
            min_score: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
            recency_half_life_days: Annotated[float | None, Query(gt=0, le=36_500)] = None) -> dict:
    """The same as `POST /ask`, with the question and filters in the query string
    (`source`, `section` and `document_id` may repeat)."""
    try:
        request = AskRequest(question=question, top_k=top_k, min_score=min_score, filters=filters,
                             recency_half_life_days=recency_half_life_days)
    except ValidationError as err:
        raise RequestValidationError(err.errors()) from None
    return _answer(services, index, request, deadline)


documents_router = APIRouter(tags=["documents"])


def check_document_id(document_id: str) -> str:
    """The id if it could be one (valid text, bounded length); a 422 that says why otherwise."""
    try:
        check_text(document_id, "document id")
    except ValueError as err:
        raise HTTPException(422, detail=str(err)) from None
    if len(document_id) > MAX_DOCUMENT_ID_CHARS:
        raise HTTPException(422, detail=f"document id is longer than {MAX_DOCUMENT_ID_CHARS} characters")
    return document_id


class DocumentOut(BaseModel):
    id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None
    source: str | None = None
    section: str | None = None
    author: str | None = None
    pages: list[int] | None = Field(None, description="Offset where each page starts (articles read from a PDF)")
    summary_only: bool = Field(False, description="A feed entry indexed from its summary, not its full text")


class DocumentSummaryOut(BaseModel):
    id: str
    title: str
    url: str | None = None
    published: str | None = None
    source: str | None = None
    section: str | None = None
    author: str | None = None
    characters: int


class ArchiveOut(BaseModel):
    documents: int
    chunks: int
    sections: dict[str, int] = Field(description="Section -> number of articles")
    sources: dict[str, int] = Field(description="Source -> number of articles")
    first_date: str | None
    last_date: str | None
    undated: int


class DocumentListOut(BaseModel):
    total: int = Field(description="Articles matching the filters, on all pages")
    offset: int
    limit: int
    documents: list[DocumentSummaryOut]
    archive: ArchiveOut = Field(description="The whole archive (not only the matching articles)")


def document_summary(document) -> dict:
    return {"id": document.id, "title": document.title, "url": document.url, "published": document.published,
            "source": document.source, "section": document.section, "author": document.author,
            "characters": len(document.text)}


@documents_router.get("/documents", response_model=DocumentListOut)
def list_documents(index: IndexDep, filters: QueryFiltersDep,
                   offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                   limit: Annotated[int, Query(ge=0, le=100)] = 20) -> dict:
    """The archive's articles ordered by id, a page at a time, with the same filters as `/ask`."""
    page = index.documents(filters.to_filters(), offset, limit)
    return {"total": page.total, "offset": offset, "limit": limit,
            "documents": [document_summary(d) for d in page.documents], "archive": index.stats().to_dict()}


MAX_ARTICLE_CHARS = 2_000_000


class NewArticle(BaseModel):
    """Pasted text for `POST /documents`; dates as for filters, other metadata one line each."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(..., min_length=1, max_length=1000)
    text: str = Field(..., min_length=1, max_length=MAX_ARTICLE_CHARS)
    published: str | None = Field(None, max_length=40, examples=["2005-03-01"])
    source: str | None = Field(None, max_length=1000)
    section: str | None = Field(None, max_length=1000)
    author: str | None = Field(None, max_length=1000)
    url: str | None = Field(None, max_length=2000)

    @field_validator("title", "text", "published", "source", "section", "author", "url")
    @classmethod
    def _text(cls, value: str | None, info) -> str | None:
        return None if value is None else check_text(value, info.field_name)


class AddedOut(BaseModel):
    document_ids: list[str] = Field(description="The ids of the added (or replaced) articles")
    index_version: str | None = Field(description="The index version now served, which holds them")
    embedded_chunks: int
    seconds: float


def add_to_archive(services: Services, index: NewsIndex, name: str, data: bytes) -> dict:
    """Save, index and load (shared by the API and the page form); HTTPException says why not."""
    try:
        added = add_article(name, data, services.settings.articles, index)
    except AddArticleError as err:
        raise HTTPException(err.status, detail=str(err)) from None
    except BuildInProgressError:
        raise HTTPException(409, detail="the index is being rebuilt right now; try again when it is done",
                            headers={"Retry-After": "10"}) from None
    services.live_index.load()
    served = services.live_index.get()
    return {"document_ids": added.document_ids, "index_version": served.version if served else None,
            "embedded_chunks": added.embedded_chunks, "seconds": added.seconds}


@documents_router.post("/documents", response_model=AddedOut, status_code=201)
def add_document(_: WriteKeyDep, article: NewArticle, services: ServicesDep, index: IndexDep) -> dict:
    """Add an article from pasted text (needs the API key when one is configured). It is saved
    in the archive folder (`added/`) and indexed at once; answers can cite it on return."""
    try:
        name, data = pasted_article(article.title, article.text, published=article.published, source=article.source,
                                    section=article.section, author=article.author, url=article.url)
    except AddArticleError as err:
        raise HTTPException(err.status, detail=str(err)) from None
    return add_to_archive(services, index, name, data)


def same_site_only(request: Request) -> None:
    """Uploads come from this site's pages or from API clients, never from another site."""
    if from_another_site(request):
        raise HTTPException(403, detail="articles can be added from this site's own pages or from API clients only")


@documents_router.post("/documents/upload", response_model=AddedOut, status_code=201,
                       dependencies=[Depends(same_site_only)])
async def upload_document(_: WriteKeyDep, services: ServicesDep, index: IndexDep,
                          file: Annotated[UploadFile, File(description="An article file: .html, .pdf, .txt, .md, "
                                                                       ".rss, .atom, .json, .jsonl")]) -> dict:
    """Add the articles of an uploaded file (its metadata comes from the file itself)."""
    data = await file.read()
    try:
        name, data = uploaded_article(file.filename or "", data)
    except AddArticleError as err:
        raise HTTPException(err.status, detail=str(err)) from None
    return await run_in_threadpool(add_to_archive, services, index, name, data)


@documents_router.get("/documents/{document_id:path}", response_model=DocumentOut)
def get_document(document_id: str, index: IndexDep) -> dict:
    """One indexed article, its text exactly as indexed (answer offsets refer to it)."""
    document = index.document(check_document_id(document_id))
    if document is None:
        raise HTTPException(404, detail=f"no document with id {document_id!r}")
    return document.to_dict()


admin_router = APIRouter(tags=["admin"])


class ReloadOut(BaseModel):
    index_version: str | None = Field(description="The index version served after the reload")
    error: str | None = Field(None, description="Why CURRENT could not be loaded; the previous version keeps serving")


@admin_router.post("/admin/reload", response_model=ReloadOut)
def reload_index(_: WriteKeyDep, services: ServicesDep) -> dict:
    """Re-read the index directory's `CURRENT` and load that version now, without waiting
    for the periodic check (needs the API key when one is configured)."""
    services.live_index.load()
    index = services.live_index.get()
    if index is None:
        raise NoIndexError(services)
    return {"index_version": index.manifest.get("version"), "error": services.live_index.error}


health_router = APIRouter(tags=["health"])


@health_router.get("/healthz")
def health(services: ServicesDep) -> dict:
    """Status, index versions and counts.

    `status` is "no_index" until an index loads, "degraded" while an error keeps the
    served version from being the one `CURRENT` names (a failed hot reload, or a start-up
    fallback from a damaged version; `error` says why), "ok" otherwise.
    """
    index = services.live_index.get()
    state = services.live_index.health()
    versions = {"served_version": state.served_version, "current_version": state.current_version,
                "error": state.error}
    if index is None:
        return {"status": "no_index", **versions}
    manifest = index.manifest
    return {
        "status": state.status,
        "index_version": manifest.get("version"),
        **versions,
        "documents": manifest.get("documents"),
        "chunks": manifest.get("chunks"),
        "built_at": manifest.get("built_at"),
        "embedding_model": manifest.get("embedding_model", {}).get("name"),
        "reader_backend": services.reader.backend,
    }


feedback_router = APIRouter(tags=["feedback"])
MAX_ANSWER_CHARS = 10_000


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., description="The question that was asked")
    answer: str = Field(..., max_length=MAX_ANSWER_CHARS,
                        description="The answer's text: exactly the article's text at start..end")
    document_id: str = Field(..., description="The article the answer cites")
    start: int = Field(..., ge=0, description="The answer's offsets in the article text, as /ask returned them")
    end: int = Field(..., ge=0)
    verdict: Literal["right", "wrong"]
    corrected_start: int | None = Field(None, ge=0, description=(
        "With verdict 'wrong': where the right answer is in the same article (both offsets or neither)"))
    corrected_end: int | None = Field(None, ge=0)
    note: str | None = Field(None, max_length=MAX_NOTE_CHARS, description="Optional free text from the person")

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return clean_question(value)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value, "note")


class FeedbackOut(BaseModel):
    id: int
    created_at: str = Field(description="UTC, ISO 8601")
    verdict: str
    corrected_text: str | None = Field(description="The corrected span's text, when one was sent")
    index_version: str | None
    model_version: str | None = Field(description="sha256 of the reader weights that gave the answer")


def store_feedback(services: Services, index: NewsIndex, feedback: Feedback) -> Feedback:
    """Validate `feedback` against the served article and store it, stamped with the index and
    reader versions (shared by the API and the page forms); FeedbackError says why not."""
    checked = validate(feedback, index.document(feedback.document_id))
    stamped = replace(checked, index_version=index.version,
                      model_version=services.reader.weights_sha256)
    return services.feedback.add(stamped)


@feedback_router.post("/feedback", response_model=FeedbackOut, status_code=201)
def post_feedback(_: WriteKeyDep, request: FeedbackRequest, services: ServicesDep, index: IndexDep) -> dict:
    """Record whether an answer was right, or where the right answer is (needs the API key when
    one is configured). Collected feedback becomes training data with `scripts/export_feedback.py`."""
    feedback = Feedback(question=request.question, answer=request.answer,
                        document_id=check_document_id(request.document_id), start=request.start, end=request.end,
                        verdict=request.verdict, corrected_start=request.corrected_start,
                        corrected_end=request.corrected_end, note=request.note)
    try:
        return store_feedback(services, index, feedback).to_dict()
    except FeedbackError as err:
        raise HTTPException(err.status, detail=str(err)) from None
    except FeedbackUnavailable as err:
        raise HTTPException(503, detail=str(err)) from None
