"""Request and response models of the JSON API, and `Problem`, the body of every error.

Requests are pydantic models whose fields declare every rule a request must follow (patterns,
lengths, ranges, formats): pydantic enforces the declarations and /openapi.json publishes them,
and the messages come from the shared checks of `qa.validation`. The responses that carry
domain objects are built from the dataclasses of
`qa.types` by `from_dataclass`: their fields, types, defaults and order are the dataclass's,
less the fields clients never see, plus a description for the API documentation, so a field
added to `Answer` or `Document` appears in the API without a second copy here.
"""

from __future__ import annotations

import dataclasses
import http
import re
import typing
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, create_model, model_validator,
)

from qa.feedback import MAX_NOTE_CHARS
from qa.types import Answer, ArchiveStats, Document, Filters, Passage
from qa.validation import (
    MAX_ANSWER_CHARS, MAX_ARTICLE_CHARS, MAX_DOCUMENT_ID_CHARS, MAX_FILTER_VALUES, MAX_QUESTION_CHARS, MAX_TOP_K,
    InvalidInput, check_day, check_text, checked_filters, clean_question,
)

MAX_HALF_LIFE_DAYS = 36_500


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


# -- requests: what a request may hold, declared once --------------------------------------------
# Each rule is declared on the field (pattern, lengths, range, format), where pydantic enforces it
# and /openapi.json documents it, so the schema and the validation cannot drift apart: a request
# the schema accepts passes these models. A `BeforeValidator` puts the reason in words first (the
# messages of `qa.validation`); tests/unit/test_request_rules.py checks that it never refuses
# what the declaration accepts. Lone surrogates are not Unicode: pydantic refuses them as strings.
_NOT_TEXT = r"\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd"  # what `qa.validation.check_text` refuses
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # what str.split() squeezes
_LINE_BREAK = r"\n\r"


def text_pattern(*, blank: bool = True, one_line: bool = False) -> str:
    """The JSON-schema pattern (ECMA-262, also a Python and a Rust regex) of text without control
    characters; `blank=False`: with something besides whitespace; `one_line`: without a line break."""
    allowed = f"[^{_NOT_TEXT}{_LINE_BREAK if one_line else ''}]"
    if blank:
        return f"^{allowed}*$"
    return f"^{allowed}*[^{_NOT_TEXT}{_SPACE}]{allowed}*$"


def text_type(max_length: int, *, min_length: int = 0, what: str | None = None, blank: bool = True,
              one_line: bool = False, empty: str | None = None, **field) -> Any:
    """A str type: valid text of `min_length` to `max_length` characters (`blank`, `one_line` as for
    `text_pattern`), refused with the reason in words; `what` names it in messages (default: the field),
    `empty` is the message for an empty (or blank) value."""

    def explain(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value  # the type check says what is wrong
        name = what or info.field_name or "value"
        check_text(value, name)
        if one_line and ("\n" in value or "\r" in value):
            raise InvalidInput(f"{name} must be one line")
        if len(value) < min_length or not blank and not value.strip():
            raise InvalidInput(empty or f"{name} must not be empty")
        if len(value) > max_length:
            raise InvalidInput(f"{name} is longer than {max_length} characters")
        return value

    constraints = Field(min_length=max(min_length, 0 if blank else 1) or None, max_length=max_length,
                        pattern=text_pattern(blank=blank, one_line=one_line), **field)
    return Annotated[str, constraints, BeforeValidator(explain)]


# JSON Schema's `date` and `date-time` formats (RFC 3339), which the validators below follow exactly:
# tests/unit/test_request_rules.py holds them to the document. A year is never 0000 (no such year).
_YEAR = r"^(?:[1-9]\d{3}|0[1-9]\d\d|00[1-9]\d|000[1-9])-"
# An added article's date is from the year 1000 on (docs/api.md). The rule came from a date before
# 1000 once being stored without its leading zeros ("713-09-11"), which `normalize_date` now writes
# whole; the contract keeps it.
_ARTICLE_YEAR = "^[1-9]"
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:)(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


def _day(value: Any, info: ValidationInfo) -> Any:
    """A date given as the string YYYY-MM-DD (pydantic alone would also take 20050301 or a timestamp)."""
    if value is None or isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{info.field_name} must be a date YYYY-MM-DD, given as a string")
    return date.fromisoformat(check_day(value, info.field_name))


def _day_or_time(value: Any, info: ValidationInfo) -> Any:
    """A date YYYY-MM-DD or an RFC 3339 date-time (2005-03-01T10:00:00Z), as a string, from year 1000 on."""
    if not isinstance(value, str):
        return _day(value, info)
    match = _DATE_TIME.fullmatch(value)
    if not match and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII):
        raise InvalidInput(f"{info.field_name} must be a date YYYY-MM-DD or a date-time such as "
                           f"2005-03-01T10:00:00Z, not {value[:40]!r}")
    if not re.match(_ARTICLE_YEAR, value):
        raise InvalidInput(f"{info.field_name} must be a date from the year 1000 on, not {value[:40]!r}")
    if match:
        head, seconds, fraction, zone = match.groups()
        # A leap second (:60) is a valid RFC 3339 time that Python cannot hold: the second before it.
        text = f"{head}{min(seconds, '59')}{fraction or ''}{'Z' if zone in 'Zz' else zone}"
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{info.field_name} is not a real date-time: {value[:40]!r}") from None
    return _day(value, info)


Day = Annotated[date, BeforeValidator(_day), Field(json_schema_extra={"pattern": _YEAR})]
DayOrTime = Annotated[date | datetime, BeforeValidator(_day_or_time),
                      Field(json_schema_extra={"pattern": _ARTICLE_YEAR})]
Question = Annotated[text_type(MAX_QUESTION_CHARS, what="question", blank=False,
                               description="A natural-language question: valid text, not only whitespace "
                                           "(squeezed), at most 1,000 characters as sent",
                               examples=["Who requested the meeting?"]),
                     AfterValidator(clean_question)]
DocumentId = text_type(MAX_DOCUMENT_ID_CHARS, min_length=1, what="document id")
FilterValue = text_type(MAX_DOCUMENT_ID_CHARS, blank=False)


def _integral(value: Any) -> Any:
    """3.0 as 3: JSON Schema counts it an integer (the JSON bodies are strict: no "3", no true)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Offset = Annotated[int, Field(ge=0), BeforeValidator(_integral)]
TopK = Annotated[int, Field(ge=1, le=MAX_TOP_K, description="How many distinct answers to return at most"),
                 BeforeValidator(_integral)]
MinScore = Annotated[float, Field(ge=0.0, le=1.0, description=(
    "Drop answers under this calibrated probability; the no-answer threshold (see /healthz) "
    "gives confident answers only. By default low-confidence best guesses are returned, "
    "marked `confident: false`, when nothing clears the threshold."))]
HalfLife = Annotated[float, Field(gt=0, le=MAX_HALF_LIFE_DAYS, description=(
    "Off by default. Orders the answers by score x 0.5 ** (age in days / this), the age counted from "
    "the archive's newest article, so newer articles' answers come first; scores are unchanged"))]


class FiltersIn(BaseModel):
    """Which articles may answer: both date ends inclusive; values of one field are alternatives,
    fields combine (AND). An article without a date never matches a date filter, and a range
    that ends before it starts matches no article."""

    model_config = ConfigDict(extra="forbid")

    date_from: Day | None = Field(None, description="Earliest publication date, inclusive", examples=["2005-01-01"])
    date_to: Day | None = Field(None, description="Latest publication date, inclusive")
    sources: list[FilterValue] = Field(default_factory=list, max_length=MAX_FILTER_VALUES,
                                       description="e.g. ['BBC News']")
    sections: list[FilterValue] = Field(default_factory=list, max_length=MAX_FILTER_VALUES,
                                        description="e.g. ['politics']")
    document_ids: list[FilterValue] = Field(default_factory=list, max_length=MAX_FILTER_VALUES)

    @property
    def inverted(self) -> bool:
        """The date range ends before it starts (it matches no article)."""
        return self.date_from is not None and self.date_to is not None and self.date_from > self.date_to

    def to_filters(self) -> Filters:
        """The domain `Filters`; InvalidInput when the dates are the wrong way round (the pages say so;
        the API asks with `Filters(...)` as they are, and nothing matches)."""
        return checked_filters(*self._dates(), self.sources, self.sections, self.document_ids)

    def as_given(self) -> Filters:
        """The domain `Filters` as sent: a range that ends before it starts selects no article."""
        return Filters(*self._dates(), tuple(self.sources), tuple(self.sections), tuple(self.document_ids))

    def _dates(self) -> tuple[str | None, str | None]:
        return tuple(d.isoformat() if d is not None else None for d in (self.date_from, self.date_to))


class AskRequest(BaseModel):
    # A misspelt field ("topk") is an error, not ignored; a number is a JSON number, not "3" or true.
    model_config = ConfigDict(extra="forbid", strict=True)

    question: Question
    top_k: TopK = 3
    min_score: MinScore = 0.0
    filters: FiltersIn | None = Field(None, description="Answer only from matching articles")
    recency_half_life_days: HalfLife | None = None


class NewArticle(BaseModel):
    """Pasted text for `POST /documents`; the metadata one line each (blank: none)."""

    model_config = ConfigDict(extra="forbid")

    title: text_type(1000, blank=False, one_line=True, empty="an added article needs a title")
    text: text_type(MAX_ARTICLE_CHARS, blank=False, empty="an added article needs its text")
    published: DayOrTime | None = Field(None, description="A date YYYY-MM-DD or a date-time (RFC 3339)",
                                        examples=["2005-03-01"])
    source: text_type(1000, one_line=True) | None = None
    section: text_type(1000, one_line=True) | None = None
    author: text_type(1000, one_line=True) | None = None
    url: text_type(2000, one_line=True) | None = None


# Both corrected offsets or neither, and only with verdict "wrong": a rule across fields, stated in
# the schema (`anyOf`) and checked by `FeedbackRequest._correction` in the same terms.
_CORRECTION_RULE = {  # `if`/`then`, which client generators leave alone (an `anyOf` would split the model)
    "if": {"anyOf": [{"required": ["corrected_start"], "properties": {"corrected_start": {"type": "integer"}}},
                     {"required": ["corrected_end"], "properties": {"corrected_end": {"type": "integer"}}}]},
    "then": {"required": ["verdict", "corrected_start", "corrected_end"],
             "properties": {"verdict": {"const": "wrong"}, "corrected_start": {"type": "integer"},
                            "corrected_end": {"type": "integer"}}},
}


class FeedbackRequest(BaseModel):
    """Whether an answer was right. A span that ends where or before it starts is a malformed request
    (422); offsets that do not cite `answer` in the article as it is now are a conflict with the
    article (409)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_CORRECTION_RULE)

    question: Question = Field(description="The question that was asked")
    answer: str = Field(..., min_length=1, max_length=MAX_ANSWER_CHARS,
                        description="The answer's text: exactly the article's text at start..end")
    document_id: DocumentId = Field(description="The article the answer cites")
    start: Offset = Field(description="The answer's offsets in the article text, as /ask returned them")
    end: Offset
    verdict: Literal["right", "wrong"]
    corrected_start: Offset | None = Field(None, description=(
        "With verdict 'wrong' only: where the right answer is in the same article (both offsets or neither)"))
    corrected_end: Offset | None = None
    note: text_type(MAX_NOTE_CHARS) | None = Field(None, description="Optional free text from the person")

    @model_validator(mode="after")
    def _correction(self) -> FeedbackRequest:
        # Rules between two fields, which JSON Schema cannot state (scripts/schemathesis.toml says so).
        if self.start >= self.end:
            raise InvalidInput(f"start must be before end; got {self.start} and {self.end}")
        corrected = (self.corrected_start, self.corrected_end)
        if corrected == (None, None):
            return self
        if None in corrected:
            raise InvalidInput("corrected_start and corrected_end go together: send both or neither")
        if self.verdict != "wrong":
            raise InvalidInput("a corrected span goes with verdict 'wrong'")
        if self.corrected_start >= self.corrected_end:
            raise InvalidInput(f"corrected_start must be before corrected_end; got {self.corrected_start} and "
                               f"{self.corrected_end}")
        return self


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


class FeedOut(BaseModel):
    url: str = Field(description="The feed's URL, without user, password, query or fragment")
    title: str | None = Field(description="The feed's own title")
    status: Literal["waiting", "ok", "not_modified", "error"] = Field(description=(
        "The last poll: `ok` (read; new or changed entries indexed), `not_modified` (304), `error`"))
    error: str | None = Field(description="Why the last poll failed; the feed is polled again at its next turn")
    checked_at: str | None = Field(description="When it was last polled (UTC)")
    updated_at: str | None = Field(description="When an entry of it last reached the index (UTC)")
    entries: int = Field(description="Entries in the feed at its last poll")


class WriteOut(BaseModel):
    at: str = Field(description="UTC")
    version: str
    added: int
    changed: int
    removed: int
    embedded_chunks: int
    seconds: float = Field(description="The whole write")
    embed_seconds: float = Field(description="Of which embedding the new chunks")


class FileErrorOut(BaseModel):
    file: str = Field(description="The file, relative to its article folder (and its line)")
    reason: str
    at: str = Field(description="UTC")


class FollowingOut(BaseModel):
    watching: bool = Field(description="The article folders are watched (`--watch`)")
    watch_error: str | None = Field(description="Why the folders are not (or no longer) watched")
    feeds: list[FeedOut]
    feeds_file_error: str | None = Field(description="Why the edited feeds file was not read again (the feeds "
                                                     "stay as they were)")
    poll_seconds: float | None = Field(description="Seconds between two polls of one feed (NEWSQA_FEED_POLL_S)")
    pending_files: int = Field(description="Changed files waiting to be indexed")
    writing: bool = Field(description="A write is under way")
    last_write: WriteOut | None = Field(description="The last write the following made")
    error: str | None = Field(description="Why the last write failed (it is tried again); cleared by the next")
    file_errors: list[FileErrorOut] = Field(description="The last files that could not be indexed, oldest first")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "no_index"] = Field(description=(
        "`no_index` until an index loads (then only the version fields), `degraded` while an error keeps the "
        "served version from being the one `CURRENT` names, `ok` otherwise"))
    index_version: str | None = None
    served_version: str | None
    current_version: str | None
    error: str | None = Field(description="Why the served version is not the current one")
    documents: int | None = None
    chunks: int | None = None
    built_at: str | None = None
    updated_at: str | None = Field(None, description="When the archive last changed (UTC): its last write")
    embedding_model: str | None = None
    reader_backend: str | None = None
    following: FollowingOut | None = Field(None, description=(
        "Present when the server follows its article folders (`--watch`) or feeds (`--feeds`)"))


class FeedbackOut(BaseModel):
    id: int
    created_at: str = Field(description="UTC, ISO 8601")
    verdict: str
    corrected_text: str | None = Field(description="The corrected span's text, when one was sent")
    index_version: str | None
    model_version: str | None = Field(description="sha256 of the reader weights that gave the answer")


# -- errors -------------------------------------------------------------------------------------
class FieldProblem(BaseModel):
    """One refused part of a request."""

    location: Literal["body", "query", "path", "header"] = Field(description="Where the value was sent")
    field: str = Field(description="The field, dotted for nested ones (`filters.date_from`, `filters.sources.0`); "
                                   "empty for the whole body")
    message: str = Field(description="Why it was refused")


class Problem(BaseModel):
    """Every 4xx and 5xx answer of the API: RFC 9457 problem details, `application/problem+json`."""

    type: str = Field("about:blank", description="RFC 9457: `about:blank`, the status says what kind of problem")
    title: str = Field(description="The status's reason phrase, e.g. 'Unprocessable Content'")
    status: int = Field(description="The HTTP status code, repeated")
    detail: str = Field(description="What went wrong and how to fix it, in words (one string, safe to show)")
    errors: list[FieldProblem] | None = Field(None, description=(
        "For a request the schema refuses (400, 422): each refused field and why"))


# RFC 9110's names, where Python 3.11's `http.HTTPStatus` still has the older ones.
_PHRASES = {413: "Content Too Large", 422: "Unprocessable Content"}


def reason_phrase(status: int) -> str:
    try:
        return _PHRASES.get(status) or http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemResponse(JSONResponse):
    """A `Problem` sent as `application/problem+json`."""

    media_type = "application/problem+json"

    def __init__(self, status: int, detail: str, *, errors: list[dict] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        problem = Problem(title=reason_phrase(status), status=status, detail=detail, errors=errors)
        super().__init__(problem.model_dump(exclude_none=True), status_code=status, headers=headers)
