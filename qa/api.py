"""The JSON API: `/ask`, `/documents/{id}`, `/feedback`, `/admin/reload`, `/healthz` (one router per resource)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qa.feedback import MAX_NOTE_CHARS, Feedback, FeedbackError, FeedbackUnavailable, validate
from qa.index import NewsIndex
from qa.services import DeadlineDep, IndexDep, NoIndexError, Services, ServicesDep, WriteKeyDep

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


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field ("topk") is an error, not ignored

    question: str = Field(..., description="A natural-language question", examples=["Who requested the meeting?"])
    top_k: int = Field(3, ge=1, le=MAX_TOP_K, description="How many distinct answers to return at most")
    min_score: float = Field(0.0, ge=0.0, le=1.0, description=(
        "Drop answers under this calibrated probability; the no-answer threshold (see /healthz) "
        "gives confident answers only. By default low-confidence best guesses are returned, "
        "marked `confident: false`, when nothing clears the threshold."))

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
    took_ms: float


ask_router = APIRouter(tags=["ask"])


def _answer(services: ServicesDep, index: IndexDep, request: AskRequest, deadline: float) -> dict:
    return services.assistant.ask(request.question, request.top_k, index=index, min_score=request.min_score,
                                  deadline=deadline).to_dict()


@ask_router.post("/ask", response_model=AskResponse)
def ask_post(request: AskRequest, services: ServicesDep, index: IndexDep, deadline: DeadlineDep) -> dict:
    """Answer a question from the indexed articles."""
    return _answer(services, index, request, deadline)


@ask_router.get("/ask", response_model=AskResponse)
def ask_get(services: ServicesDep, index: IndexDep, deadline: DeadlineDep,
            question: Annotated[str, Query(max_length=20_000)],
            top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 3,
            min_score: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0) -> dict:
    """The same as `POST /ask`, with the question in the query string."""
    try:
        request = AskRequest(question=question, top_k=top_k, min_score=min_score)
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
