"""The archive the store tests write, and the reference values computed from it.

Every expectation of the contract is computed here from the documents (chunks by
`chunk_document`, vectors by the fake embedder, selections by `Filters.matches`,
statistics by counting), never read back from a store.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from qa.chunking import chunk_document
from qa.stores.base import ChangeSet, DocumentChunks, document_fingerprint, passage_input
from qa.types import ArchiveStats, Chunk, Document, Filters

CHUNKING = {"max_words": 100, "overlap_sentences": 1}

EXTRA = [
    Document("budget-2005", "Chancellor sets out budget", "The chancellor set out the budget on Wednesday. Fuel duty "
             "was frozen for another year, and the basic rate of income tax stays at 22 pence.",
             published="2005-03-16", source="BBC News", section="business"),
    Document("cup-final", "Arsenal win the cup", "Arsenal beat Manchester United on penalties to win the FA Cup "
             "final in Cardiff. Patrick Vieira scored the winning penalty.",
             published="2005-05-21T15:00:00Z", source="BBC Sport", section="sport"),
    Document("election-date", "Election called", "The prime minister called a general election for the fifth of "
             "May after visiting the palace. Campaigning starts on Tuesday.", published="2005-04-05",
             source="BBC News", section="politics", author="Political staff"),
    Document("zurich-talks", "Talks in Zürich", "Negotiators met in Zürich to discuss the ceasefire in Aleppo. "
             "Russia and the United States both sent envoys.", published="2016-09-30", source="Reuters",
             section="world"),
    Document("undated-note", "Archive note", "This note about the archive has no date, no source and no section."),
]


def _long_text() -> str:
    sentences = [f"Part {i} of the long read describes the harbour, the market and the old town hall."
                 for i in range(1, 31)]
    sentences[4] = "A quetzal was seen near the old town hall in the spring."
    sentences[24] = "A zeppelin flew over the harbour during the festival."
    return " ".join(sentences)


LONG = Document("long-read", "A long read", _long_text(), url="https://example.org/long-read",
                published="2010-01-15", source="Gazette", section="features")
UNIQUE_WORDS = ("quetzal", "zeppelin")  # each in exactly one chunk of LONG (checked by the tests)


def bulk(n: int = 30) -> list[Document]:
    return [Document(f"bulk-{i:03d}", f"Market report {i}",
                     f"Shares in company number {i} rose on the stock market today. Traders were calm.",
                     published=f"2004-11-{1 + i % 28:02d}", source="Wire", section="bulk") for i in range(n)]


ARCHIVE = EXTRA + [LONG] + bulk()

# The statistics of ARCHIVE, written out (the chunk count is `chunk_count(ARCHIVE)`).
ARCHIVE_SECTIONS = {"business": 1, "sport": 1, "politics": 1, "world": 1, "features": 1, "bulk": 30}
ARCHIVE_SOURCES = {"BBC News": 2, "BBC Sport": 1, "Reuters": 1, "Gazette": 1, "Wire": 30}
ARCHIVE_DATES = ("2004-11-01", "2016-09-30")

FILTERS = [
    Filters(sections=("sport",)),
    Filters(sources=("BBC News",)),
    Filters(date_from="2005-03-16", date_to="2005-03-16"),  # both edges inclusive
    Filters(date_from="2005-03-16", date_to="2005-04-05"),
    Filters(date_from="2005-03-17", date_to="2005-04-05"),
    Filters(date_to="2004-11-02"),
    Filters(date_from="2005-05-21"),  # a date-time published on that day counts
    Filters(date_to="2100-01-01"),  # an article without a date never matches a date filter
    Filters(sources=("BBC News",), sections=("politics", "sport")),  # AND across fields, OR within
    Filters(sources=("BBC News",), sections=("politics", "business"), date_to="2005-03-31"),
    Filters(sources=("BBC News", "BBC Sport"), date_from="2005-04-01"),
    Filters(document_ids=("cup-final", "undated-note"), sections=("sport",)),
    Filters(document_ids=("long-read", "undated-note")),
    Filters(sections=("bulk",), date_from="2004-11-27"),
    Filters(sections=("weather",)),
    Filters(sections=('sport" or section != "x',)),  # a value can never change a store's query
]


def chunks_of(document: Document) -> list[Chunk]:
    return chunk_document(document, CHUNKING["max_words"], CHUNKING["overlap_sentences"])


def chunk_count(documents: list[Document]) -> int:
    return sum(len(chunks_of(d)) for d in documents)


def chunk_inputs(documents: list[Document]) -> dict[tuple[str, int, int], str]:
    """(document id, start, end) of every chunk -> what is embedded and BM25-indexed for it."""
    return {(d.id, c.start, c.end): passage_input(d.title, c.text) for d in documents for c in chunks_of(d)}


def holders(documents: list[Document], word: str) -> set[tuple[str, int, int]]:
    """The chunks whose text holds `word` (lower-cased words), as (document id, start, end)."""
    return {(d.id, c.start, c.end) for d in documents for c in chunks_of(d)
            if word in c.text.lower().replace(".", " ").split()}


def fingerprints(documents: list[Document]) -> dict[str, str]:
    return {d.id: document_fingerprint(d, CHUNKING) for d in documents}


def expected_stats(documents: list[Document]) -> ArchiveStats:
    dates = sorted(d.date for d in documents if d.date)
    return ArchiveStats(
        documents=len(documents), chunks=chunk_count(documents),
        sections=dict(Counter(d.section for d in documents if d.section is not None)),
        sources=dict(Counter(d.source for d in documents if d.source is not None)),
        first_date=dates[0] if dates else None, last_date=dates[-1] if dates else None,
        undated=sum(1 for d in documents if d.date is None),
    )


def embedding_settings(embedder) -> dict:
    return {"embedding_model": {"name": embedder.name, "dimension": embedder.dimension,
                                "fingerprint": embedder.fingerprint}, "chunking": CHUNKING}


def prepare(documents: list[Document], embedder) -> list[DocumentChunks]:
    """Articles ready to write: chunked as a sync chunks them, embedded by `embedder`."""
    prepared = []
    for document in documents:
        chunks = chunks_of(document)
        vectors = np.asarray(embedder.encode([passage_input(document.title, c.text) for c in chunks]))
        prepared.append(DocumentChunks(document, chunks, vectors, document_fingerprint(document, CHUNKING)))
    return prepared


def full_write(documents: list[Document], embedder) -> ChangeSet:
    return ChangeSet(upserts=prepare(documents, embedder), replace_all=True, settings=embedding_settings(embedder))
