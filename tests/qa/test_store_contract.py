"""The storage contract, checked by comparing the two stores: the same articles written through
`sync_index` into the FAISS store and into Milvus Lite must give the same passages, the same
filtered selections, the same documents and the same state after the same incremental changes.
A pipeline on either store answers the same."""

from __future__ import annotations

import pytest

from qa.documents import Document, load_articles
from qa.index import Filters, NewsIndex, sync_index
from qa.pipeline import Assistant
from qa.stores.faiss_store import FaissBackend
from qa.stores.milvus_store import MilvusBackend
from tests.conftest import SAMPLE_ARTICLES, SAMPLE_ID

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
QUESTIONS = [
    "Who requested the meeting?",
    "How many civilians are besieged in eastern Aleppo?",
    "Who scored the winning penalty in the cup final?",
    "When is the general election?",
    "Where did negotiators discuss the ceasefire?",
    "What was frozen in the budget?",
]
FILTERS = [
    Filters(sections=("sport",)),
    Filters(sources=("BBC News",)),
    Filters(date_from="2005-03-16", date_to="2005-04-05"),  # both edges inclusive
    Filters(date_from="2005-05-21"),  # a date-time published on that day counts
    Filters(sources=("BBC News",), sections=("politics", "business"), date_to="2005-03-31"),
    Filters(document_ids=(SAMPLE_ID, "undated-note")),
    Filters(sections=("weather",)),
]


def _both(tmp_path_factory, embedder) -> dict:
    documents = load_articles([SAMPLE_ARTICLES]) + EXTRA
    made = {}
    for name, backend in (("faiss", FaissBackend(tmp_path_factory.mktemp("faiss"))),
                          ("milvus", MilvusBackend(str(tmp_path_factory.mktemp("milvus") / "contract.db"), "contract"))):
        sync_index(backend, embedder, documents=documents)
        made[name] = backend
    return made


@pytest.fixture(scope="module")
def stores(tmp_path_factory, embedder):
    """The same archive in both stores; read only (see `changing` for writes)."""
    made = _both(tmp_path_factory, embedder)
    yield made
    made["milvus"].close()


@pytest.fixture
def changing(tmp_path_factory, embedder):
    """A fresh pair for a test that writes, so the read-only pair stays as built."""
    made = _both(tmp_path_factory, embedder)
    yield made
    made["milvus"].close()


def _open(stores, embedder) -> dict[str, NewsIndex]:
    return {name: NewsIndex.open(backend, embedder) for name, backend in stores.items()}


def _key(passages) -> list[tuple[str, int, int]]:
    return [(p.document_id, p.start, p.end) for p in passages]


def test_both_stores_return_the_same_passages(stores, embedder):
    indexes = _open(stores, embedder)
    for question in QUESTIONS:
        dense = {name: index.search(question, k=8, sparse_weight=0.0) for name, index in indexes.items()}
        assert _key(dense["faiss"]) == _key(dense["milvus"]), question  # the same vectors, the same ranking
        for a, b in zip(dense["faiss"], dense["milvus"]):
            assert a.dense_score == pytest.approx(b.dense_score, abs=1e-4) and a.score == pytest.approx(b.score)
        fused = {name: index.search(question, k=5) for name, index in indexes.items()}
        # BM25 tokenizes differently in each (bm25s stems; Milvus Lite has no English stemmer),
        # so the fused lists may differ below the top; the best passage must not.
        assert _key(fused["faiss"])[:1] == _key(fused["milvus"])[:1], question
        assert len(set(_key(fused["faiss"])) & set(_key(fused["milvus"]))) >= 3, question
        for passages in fused.values():
            for passage in passages:
                document = indexes["faiss"].document(passage.document_id)
                assert document.text[passage.start:passage.end] == passage.text


def test_both_stores_select_exactly_what_the_filters_mean(stores, embedder):
    indexes = _open(stores, embedder)
    documents = {d.id: d for d in load_articles([SAMPLE_ARTICLES]) + EXTRA}
    for filters in FILTERS:
        expected = sorted(i for i, d in documents.items() if filters.matches(d))
        for name, index in indexes.items():
            listed = index.documents(filters, limit=100)
            assert [d.id for d in listed.documents] == expected and listed.total == len(expected), (name, filters)
            found = {p.document_id for p in index.search("Who met, and where?", k=50, filters=filters)}
            assert found == set(expected), (name, filters)  # every matching article's chunks can be found
    stats = {name: index.stats() for name, index in indexes.items()}
    assert stats["faiss"] == stats["milvus"]
    assert indexes["faiss"].store.fingerprints() == indexes["milvus"].store.fingerprints()
    for document_id in documents:
        assert indexes["faiss"].document(document_id) == indexes["milvus"].document(document_id)


def test_both_stores_apply_the_same_changes(changing, embedder):
    changed = Document("cup-final", "Arsenal win the cup", "Arsenal beat Manchester United on penalties. Jens "
                       "Lehmann saved the decisive kick from Paul Scholes.", published="2005-05-21", source="BBC Sport",
                       section="sport")
    summaries = {name: sync_index(backend, embedder, upserts=[changed], deletes=["undated-note"])
                 for name, backend in changing.items()}
    assert {(s.changed, s.removed, s.embedded_chunks) for s in summaries.values()} == {(1, 1, 1)}
    indexes = _open(changing, embedder)
    for name, index in indexes.items():
        assert index.document("undated-note") is None, name
        assert "Lehmann" in index.document("cup-final").text, name
        everything = index.search("Arsenal penalties cup final", k=50)
        assert "undated-note" not in {p.document_id for p in everything}, name
        assert [p.text for p in everything if p.document_id == "cup-final"] == [changed.text], name
    assert indexes["faiss"].stats() == indexes["milvus"].stats()


def test_the_pipeline_answers_the_same_on_either_store(stores, embedder, reader):
    """The top answer and its citation agree; lower answers may differ with the passages BM25 adds."""
    for question in QUESTIONS:
        top = {}
        for name, index in _open(stores, embedder).items():
            answer = Assistant(index, reader).ask(question).answers[0]
            top[name] = (answer.document_id, answer.start, answer.end, answer.text)
        assert top["faiss"] == top["milvus"], question


def test_an_unreachable_milvus_is_a_clear_503_not_a_traceback(embedder, reader, capsys, monkeypatch):
    from fastapi.testclient import TestClient

    from qa.app import Services, create_app
    from qa.config import Settings
    from qa.pipeline import LiveIndex
    from scripts import build_index

    uri = "http://127.0.0.1:1"
    live = LiveIndex(MilvusBackend(uri, "newsqa", timeout=2), embedder)
    live.load()  # at start-up: kept as the error, nothing raised
    settings = Settings(store="milvus", milvus_uri=uri)
    with TestClient(create_app(services=Services(settings, embedder, live, reader, Assistant(live, reader)))) as client:
        response = client.post("/ask", json={"question": "Who requested the meeting?"})
        assert response.status_code == 503 and "127.0.0.1:1" in response.json()["detail"]
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "no_index" and health.json()["error"]
    monkeypatch.setenv("NEWSQA_MILVUS_URI", uri)
    capsys.readouterr()
    assert build_index.main(["--store", "milvus", "--articles", str(SAMPLE_ARTICLES), "--quiet"]) == 3
    error = capsys.readouterr().err
    assert "127.0.0.1:1" in error and "The index was not changed." in error and "Traceback" not in error
