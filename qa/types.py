"""The domain types: what an article, a chunk, a retrieved passage, a filter and an answer are.

Plain frozen dataclasses with no third-party imports, so that every layer (ingestion,
stores, reader, pipeline, web, command line) can share them without importing each other.
The invariant that holds everywhere: `document.text[x.start:x.end] == x.text` for a
`Chunk`, a `Passage` and an `Answer`.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SkippedFile:
    """A file, or one entry of a feed, that was read but not indexed, and why (for the build to report)."""

    path: str
    reason: str  # complete on its own: for a feed entry it names the entry too
    entry: str | None = None  # the feed entry's id, link or title when one entry of a feed was skipped

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Document:
    """One article. `text` is exactly what was indexed; offsets refer to it.

    Metadata is optional and filterable: `published` is an ISO 8601 date (`2005-03-01`)
    or date-time, `source` the publication or site ("BBC News"), `section` its desk or
    category. `path` is the file the article was read from (what a sync compares).
    `pages` holds the offset where each page starts, for articles read from a PDF, so a
    citation can name its page. `summary_only` marks a feed entry indexed from its summary.
    """

    id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None
    source: str | None = None
    section: str | None = None
    author: str | None = None
    path: str | None = None
    pages: tuple[int, ...] | None = None
    summary_only: bool = False

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.pages is not None:
            data["pages"] = list(self.pages)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Document:
        data = dict(data)
        if data.get("pages") is not None:
            data["pages"] = tuple(data["pages"])
        return cls(**data)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset`, for articles read from a PDF."""
        if not self.pages:
            return None
        return bisect.bisect_right(self.pages, offset) or 1

    @property
    def date(self) -> str | None:
        """`published` as `YYYY-MM-DD` (what date filters compare); a bare year or month is its first day."""
        if not self.published:
            return None
        day = self.published[:10]
        return day + "-01-01"[len(day) - 4:] if len(day) < 10 else day


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; `text == document.text[start:end]`."""

    document_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk. `score` is the fused retrieval score in 0..1."""

    chunk_id: int
    document_id: str
    title: str
    start: int
    end: int
    text: str
    score: float
    dense_rank: int | None = None
    sparse_rank: int | None = None
    dense_score: float | None = None  # cosine of question and passage, when the dense retriever ranked it

    def to_dict(self) -> dict:
        hidden = {"dense_rank", "sparse_rank", "chunk_id", "dense_score"}
        return {k: v for k, v in asdict(self).items() if k not in hidden}


@dataclass(frozen=True)
class Filters:
    """Which articles a search or a listing may return. Empty fields do not filter.

    Dates are `YYYY-MM-DD` and both ends are inclusive; an article without a date never
    matches a date filter. Sources and sections match exactly (case-sensitive), several
    values of one field are alternatives (OR), and different fields combine with AND.
    """

    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    document_ids: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.date_from or self.date_to or self.sources or self.sections or self.document_ids)

    def matches(self, document: Document) -> bool:
        """The reference semantics; each store must select exactly these documents."""
        if self.document_ids and document.id not in self.document_ids:
            return False
        if self.sources and document.source not in self.sources:
            return False
        if self.sections and document.section not in self.sections:
            return False
        if self.date_from or self.date_to:
            day = document.date
            if day is None or (self.date_from and day < self.date_from) or (self.date_to and day > self.date_to):
                return False
        return True

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class ArchiveStats:
    """What the archive holds: shown by the page's archive view and `GET /documents`."""

    documents: int
    chunks: int
    sections: dict[str, int]  # section -> documents
    sources: dict[str, int]  # source -> documents
    first_date: str | None
    last_date: str | None
    undated: int  # documents without a published date

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DocumentPage:
    """One page of a filtered listing of the archive, in id order or newest first."""

    documents: list[Document]
    total: int  # documents matching the filters, on all pages
    offset: int
    limit: int


@dataclass(frozen=True)
class Support:
    """Another article that gives the same answer (the same text as SQuAD scoring normalizes it):
    its citation, so a person can check each report. `text` is that article's own wording."""

    document_id: str
    title: str
    start: int
    end: int
    text: str
    published: str | None = None


@dataclass(frozen=True)
class Answer:
    """A cited answer: `document.text[start:end] == text`; `score` is P(correct) in 0..1."""

    text: str
    score: float
    document_id: str
    title: str
    start: int
    end: int
    context: str
    context_start: int
    confident: bool = True  # score at or above the no-answer threshold
    published: str | None = None  # the article's metadata, when known
    source: str | None = None
    section: str | None = None
    author: str | None = None
    url: str | None = None
    page: int | None = None  # the PDF page holding the answer
    supporting: tuple[Support, ...] = ()  # other articles giving the same answer, best first
    agreeing_articles: int = 1  # articles giving this answer: this one and `supporting`

    def to_dict(self) -> dict:
        return asdict(self)
