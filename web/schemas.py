"""Request and response models of the JSON API.

Requests are pydantic models that check what a client sent (with the shared checks of
`qa.validation`). The responses that carry domain objects are built from the dataclasses of
`qa.types` by `from_dataclass`: their fields, types, defaults and order are the dataclass's,
less the fields clients never see, plus a description for the API documentation, so a field
added to `Answer` or `Document` appears in the API without a second copy here.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from qa.feedback import MAX_NOTE_CHARS
from qa.types import Answer, ArchiveStats, Document, Filters, Passage
from qa.validation import (
    MAX_ANSWER_CHARS, MAX_ARTICLE_CHARS, MAX_FILTER_VALUES, MAX_TOP_K, check_day, check_filter_values, check_text,
    checked_filters, clean_question,
)


def from_dataclass(name: str, source: type, *, exclude: frozenset[str] = frozenset(),
                   descriptions: dict[str, str] | None = None, **extra) -> type[BaseModel]:
    """A response model named `name` with the fields of the dataclass `source` (in its order, with
    its types and defaults) except `exclude`, then the `extra` fields (`name=(type, FieldInfo)`)."""
    descriptions = descriptions or {}
    hints = typing.get_type_hints(source)
    fields = {}
    for spec in dataclasses.fields(source):
        if spec.name in exclude:
            continue
        default = spec.default if spec.default is not dataclasses.MISSING else ...
        fields[spec.name] = (hints[spec.name], Field(default, description=descriptions.get(spec.name)))
    unknown = (exclude | set(descriptions)) - {spec.name for spec in dataclasses.fields(source)}
    if unknown:
        raise TypeError(f"{source.__name__} has no fields {sorted(unknown)}")
    return create_model(name, **fields, **extra)


# -- requests ---------------------------------------------------------------------------------
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
        return check_day(value, info.field_name)

    @field_validator("sources", "sections", "document_ids")
    @classmethod
    def _values(cls, values: list[str], info) -> list[str]:
        return check_filter_values(values, info.field_name)

    def to_filters(self) -> Filters:
        """The domain `Filters`; InvalidInput when the dates are the wrong way round."""
        return checked_filters(self.date_from, self.date_to, self.sources, self.sections, self.document_ids)


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


# -- responses built from the domain types -----------------------------------------------------
AnswerOut = from_dataclass("AnswerOut", Answer, descriptions={
    "score": "Calibrated probability that the answer is right, 0..1",
    "start": "Offset of the answer in the document text",
    "context": "The sentence around the answer",
    "confident": "False for a best guess under the no-answer threshold",
    "published": "The article's publication date, when known",
    "source": "The publication or site, when known",
    "page": "The page of the answer, for articles read from a PDF",
    "supporting": "Other articles that give the same answer, each with its citation (offsets in that article)",
    "agreeing_articles": "How many articles give this answer: this one and `supporting`",
})
# Which chunk it was and the retrievers' own ranks are internals (`Passage.to_dict` drops them too).
PassageOut = from_dataclass("PassageOut", Passage,
                            exclude=frozenset({"chunk_id", "dense_rank", "sparse_rank", "dense_score"}))
# `path` is a file on the server.
DocumentOut = from_dataclass("DocumentOut", Document, exclude=frozenset({"path"}), descriptions={
    "pages": "Offset where each page starts (articles read from a PDF)",
    "summary_only": "A feed entry indexed from its summary, not its full text",
})
DocumentSummaryOut = from_dataclass("DocumentSummaryOut", Document,
                                    exclude=frozenset({"text", "path", "pages", "summary_only"}),
                                    characters=(int, ...))
ArchiveOut = from_dataclass("ArchiveOut", ArchiveStats, descriptions={
    "sections": "Section -> number of articles", "sources": "Source -> number of articles"})


def document_summary(document: Document) -> dict:
    """A listed article: its metadata and length, without the text."""
    return {**document.to_dict(), "characters": len(document.text)}


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
    articles_disagree: bool = Field(False, description=(
        "The answers come from several articles that give different answers: compare their dates and "
        "citations. Each answer's `supporting` lists the other articles that give the same answer"))


class DocumentListOut(BaseModel):
    total: int = Field(description="Articles matching the filters, on all pages")
    offset: int
    limit: int
    documents: list[DocumentSummaryOut]
    archive: ArchiveOut = Field(description="The whole archive (not only the matching articles)")


class AddedOut(BaseModel):
    document_ids: list[str] = Field(description="The ids of the added (or replaced) articles")
    index_version: str | None = Field(description="The index version now served, which holds them")
    embedded_chunks: int
    seconds: float


class ReloadOut(BaseModel):
    index_version: str | None = Field(description="The index version served after the reload")
    error: str | None = Field(None, description="Why CURRENT could not be loaded; the previous version keeps serving")


class FeedbackOut(BaseModel):
    id: int
    created_at: str = Field(description="UTC, ISO 8601")
    verdict: str
    corrected_text: str | None = Field(description="The corrected span's text, when one was sent")
    index_version: str | None
    model_version: str | None = Field(description="sha256 of the reader weights that gave the answer")
