"""Unit-test fixtures: a tiny real folder store built with the fake embedder (no model loaded)."""

from __future__ import annotations

import pytest

from qa.index import NewsIndex
from qa.types import Document
from tests.unit.fakes import FakeEmbedder

# Dates chosen for the recency rule: NEW is the newest article, OLD exactly 365 days older.
NEW = Document(
    id="coach-2024", title="Club names new coach", published="2024-06-01", source="Daily", section="sport",
    text="The club named Anna Berg as head coach on Monday. She replaces Tom Hale, who left in May. "
         "Berg said the club would play attacking football.",
)
OLD = Document(
    id="coach-2023", title="Hale appointed", published="2023-06-02", source="Weekly", section="sport",
    text="Tom Hale was appointed head coach of the club. The board praised his record at the academy.",
)
BUDGET = Document(
    id="budget", title="Budget approved", source="Daily", section="politics",  # undated
    text="The council approved the budget on Tuesday. The vote was close, nine to eight.",
)
REPORT = Document(
    id="report", title="Annual report", published="2024-01", source="Gazette", section="business",
    text="Page one covers sales.\n\nPage two names the auditor, Clara Voss, who signed the accounts.",
    pages=(0, 24),  # read from a PDF: page 2 starts at "Page two"
)
HARBOUR = Document(
    id="harbour", title="Harbour reopens", published="2024-05-20", source="Weekly", section="local",
    text="The harbour reopened after repairs. Fishing boats returned on Friday morning.",
)
DOCUMENTS = [NEW, OLD, BUDGET, REPORT, HARBOUR]


@pytest.fixture(scope="session")
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def tiny_index(fake_embedder) -> NewsIndex:
    """The five articles above, one chunk each, in a temporary folder store."""
    return NewsIndex.build(DOCUMENTS, fake_embedder)
