"""The JSON API: `/ask`, `/documents/{id}`, `/healthz` (one router per resource)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError, field_validator

from qa.app import IndexDep, ServicesDep

MAX_QUESTION_CHARS = 1000
MAX_TOP_K = 10


def clean_question(question: str) -> str:
    """The question with whitespace squeezed; rejects empty and over-long ones."""
    cleaned = " ".join(question.split())
    if not cleaned:
        raise ValueError("question must not be empty")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise ValueError(f"question is longer than {MAX_QUESTION_CHARS} characters")
    return cleaned


class AskRequest(BaseModel):
    question: str = Field(..., description="A natural-language question", examples=["Who requested the meeting?"])
    top_k: int = Field(3, ge=1, le=MAX_TOP_K, description="How many distinct answers to return at most")

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
    no_answer: bool = Field(description="True when the indexed articles do not answer the question")
    took_ms: float


ask_router = APIRouter(tags=["ask"])


def _answer(services: ServicesDep, index: IndexDep, request: AskRequest) -> dict:
    return services.assistant.ask(request.question, request.top_k, index=index).to_dict()


@ask_router.post("/ask", response_model=AskResponse)
def ask_post(request: AskRequest, services: ServicesDep, index: IndexDep) -> dict:
    """Answer a question from the indexed articles."""
    return _answer(services, index, request)


@ask_router.get("/ask", response_model=AskResponse)
def ask_get(services: ServicesDep, index: IndexDep, question: Annotated[str, Query(max_length=20_000)],
            top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 3) -> dict:
    """The same as `POST /ask`, with the question in the query string."""
    try:
        request = AskRequest(question=question, top_k=top_k)
    except ValidationError as err:
        raise RequestValidationError(err.errors()) from None
    return _answer(services, index, request)


documents_router = APIRouter(tags=["documents"])


class DocumentOut(BaseModel):
    id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None


@documents_router.get("/documents/{document_id:path}", response_model=DocumentOut)
def get_document(document_id: str, index: IndexDep) -> dict:
    """One indexed article, its text exactly as indexed (answer offsets refer to it)."""
    document = index.document(document_id)
    if document is None:
        raise HTTPException(404, detail=f"no document with id {document_id!r}")
    return document.to_dict()


health_router = APIRouter(tags=["health"])


@health_router.get("/healthz")
def health(services: ServicesDep) -> dict:
    """Status, index version and counts; `status` is "no_index" until an index is built."""
    index = services.live_index.get()
    if index is None:
        return {"status": "no_index", "error": services.live_index.error, "index_dir": str(services.settings.index_dir)}
    manifest = index.manifest
    return {
        "status": "ok",
        "index_version": manifest.get("version"),
        "documents": manifest.get("documents"),
        "chunks": manifest.get("chunks"),
        "built_at": manifest.get("built_at"),
        "embedding_model": manifest.get("embedding_model", {}).get("name"),
        "reader_backend": services.reader.backend,
    }
