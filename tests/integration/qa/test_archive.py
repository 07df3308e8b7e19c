"""The archive at scale, on small real data: deletes that stay deleted, changed articles
re-embedded, filters inside retrieval (dates inclusive, combined, empty, never fewer than k),
the IVF path above its threshold, the documents listing and the archive page."""

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from web.app import create_app
from web.deps import Services
from qa.config import Settings
from qa.types import Document
from qa.index import NewsIndex
from qa.types import Filters
from qa.live import LiveIndex
from qa.pipeline import Assistant, by_recency
from qa.stores import folder_backend
from qa.stores.faiss import build as faiss_build
from qa.sync import sync_index

SECTIONS = ("politics", "sport", "business")


def _article(i: int) -> Document:
    section = SECTIONS[i % 3]
    day = f"2005-03-{1 + i % 28:02d}"
    text = (f"Report {i} from the {section} desk. The council of Townsville {i} met on {day} to discuss the "
            f"{section} budget. Mayor Alex Example {i} said the plan would cost {i * 3} million pounds.")
    return Document(f"art-{i:03d}", f"{section.title()} story {i}", text, published=day, section=section,
                    source="Daily Example" if i % 2 else "Weekly Example")


@pytest.fixture(scope="module")
def archive(tmp_path_factory, embedder):
    backend = folder_backend(tmp_path_factory.mktemp("archive"))
    sync_index(backend, embedder, documents=[_article(i) for i in range(60)])
    return backend


def test_filters_select_inside_retrieval(archive, embedder):
    index = NewsIndex.open(archive, embedder)
    question = "What did the mayor say the plan would cost?"
    everything = index.search(question, k=10)
    assert len(everything) == 10

    politics = index.search(question, k=10, filters=Filters(sections=("politics",)))
    assert len(politics) == 10 and {index.document(p.document_id).section for p in politics} == {"politics"}

    # date edges are inclusive: 2005-03-05 .. 2005-03-06 holds articles 4, 5, 32, 33
    dated = index.search(question, k=10, filters=Filters(date_from="2005-03-05", date_to="2005-03-06"))
    assert sorted(p.document_id for p in dated) == ["art-004", "art-005", "art-032", "art-033"]

    combined = Filters(date_from="2005-03-05", date_to="2005-03-06", sections=("sport",), sources=("Weekly Example",))
    assert [p.document_id for p in index.search(question, k=10, filters=combined)] == ["art-004"]  # sport, even
    assert index.search(question, k=10, filters=Filters(sections=("weather",))) == []
    assert index.search(question, k=10, filters=Filters(date_from="2006-01-01")) == []

    # a rare match is still found when the unfiltered top 50 would not include it
    ids = index.search("Townsville 59", k=3, filters=Filters(document_ids=("art-059", "art-001")))
    assert {p.document_id for p in ids} == {"art-059", "art-001"}

    page = index.documents(Filters(sections=("sport",)), offset=5, limit=5)
    assert page.total == 20 and [d.id for d in page.documents] == [f"art-{i:03d}" for i in range(16, 31, 3)]
    stats = index.stats()
    assert stats.documents == 60 and stats.sections == {"politics": 20, "sport": 20, "business": 20}
    assert (stats.first_date, stats.last_date, stats.undated) == ("2005-03-01", "2005-03-28", 0)


def test_filter_that_matches_nothing_says_so(archive, embedder, reader):
    result = Assistant(NewsIndex.open(archive, embedder), reader).ask(
        "Who is the mayor?", filters=Filters(sections=("weather",)))
    assert result.no_answer and result.answers == [] and "No article in the archive matches" in result.message


def test_deleted_article_never_comes_back_and_changed_one_is_reembedded(tmp_path, embedder):
    backend = folder_backend(tmp_path)
    documents = [_article(i) for i in range(6)]
    sync_index(backend, embedder, documents=documents)
    index = NewsIndex.open(backend, embedder)
    old_chunks = {p.chunk_id for p in index.search("Townsville 3", k=50) if p.document_id == "art-003"}

    changed = Document("art-003", "Politics story 3", "Completely new text: the harbour of Portsmouth reopened.",
                       published="2005-03-04", section="politics")
    summary = sync_index(backend, embedder, upserts=[changed], deletes=["art-002"])
    assert (summary.changed, summary.removed, summary.embedded_chunks) == (1, 1, 1)
    index = NewsIndex.open(backend, embedder)
    assert index.document("art-002") is None
    everything = index.search("Townsville council budget mayor", k=50)
    assert "art-002" not in {p.document_id for p in everything}
    new = [p for p in everything if p.document_id == "art-003"]
    assert [p.text for p in new] == [changed.text] and not old_chunks & {p.chunk_id for p in new}
    top = index.search("Which harbour reopened?", k=1)[0]
    assert top.document_id == "art-003" and top.dense_score > 0.3  # its vector is the new text's

    sync_index(backend, embedder, documents=documents[:2])  # a sync with fewer files removes the rest
    index = NewsIndex.open(backend, embedder)
    assert index.stats().documents == 2 and index.document("art-003") is None
    with TestClient(create_app(services=_services(backend, embedder))) as client:
        assert client.get("/documents/art-003").status_code == 404


def test_ivf_path_is_used_and_searched_above_its_threshold(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(faiss_build, "EXACT_SEARCH_LIMIT", 40)
    backend = folder_backend(tmp_path)
    sync_index(backend, embedder, documents=[_article(i) for i in range(30)])
    assert NewsIndex.open(backend, embedder).manifest["faiss_index"] == "flat"
    sync_index(backend, embedder, upserts=[_article(i) for i in range(30, 90)])  # crosses the threshold
    index = NewsIndex.open(backend, embedder)
    # Each segment's FAISS kind is chosen by its own size: the 60 new articles' segment is IVF.
    assert index.manifest["faiss_index"] == "ivf-fp16"
    assert [s["faiss_index"] for s in index.manifest["segments"]] == ["flat", "ivf-fp16"]
    question = "What did Mayor Alex Example 77 say?"
    assert index.search(question, k=1)[0].document_id == "art-077"

    # The same articles written the same way (so embedded in the same batches: the int8 embedder
    # quantizes activations per batch, so a vector shifts slightly with its batchmates), searched exactly.
    monkeypatch.setattr(faiss_build, "EXACT_SEARCH_LIMIT", 10_000)
    exact_backend = folder_backend(tmp_path / "exact")
    sync_index(exact_backend, embedder, documents=[_article(i) for i in range(30)])
    sync_index(exact_backend, embedder, upserts=[_article(i) for i in range(30, 90)])
    exact = NewsIndex.open(exact_backend, embedder)
    assert exact.manifest["faiss_index"] == "flat"
    monkeypatch.setattr(faiss_build, "EXACT_SEARCH_LIMIT", 40)
    ranked = index.search(question, k=10, sparse_weight=0.0)
    reference = exact.search(question, k=10, sparse_weight=0.0)
    assert len(ranked) == 10 and all(p.dense_score is not None for p in ranked)
    assert len({p.document_id for p in ranked} & {p.document_id for p in reference}) >= 9  # recall@10 vs exact

    store = index.store  # a filter so narrow that the lists probed first hold too few: the search goes on
    next(s for s in store.segments if s.is_ivf).faiss_index.nprobe = 1
    rare = index.search(question, k=10, sparse_weight=0.0, filters=Filters(sections=("sport",)))
    assert len(rare) == 10 and {index.document(p.document_id).section for p in rare} == {"sport"}
    sync_index(backend, embedder, deletes=["art-077"])  # removal works on the IVF index too
    after = NewsIndex.open(backend, embedder)
    assert after.manifest["faiss_index"] == "ivf-fp16"
    assert "art-077" not in {p.document_id for p in after.search(question, k=20)}


def _services(backend, embedder, reader=None):
    live = LiveIndex(backend, embedder)
    live.load()
    from qa.reader import ExtractiveReader

    reader = reader or ExtractiveReader()
    return Services(Settings(index_dir=backend.index_dir), embedder, live, reader, Assistant(live, reader))


def test_documents_endpoint_and_ask_filters(archive, embedder, reader):
    with TestClient(create_app(services=_services(archive, embedder, reader))) as client:
        listing = client.get("/documents", params={"section": "sport", "limit": 3, "offset": 3}).json()
        assert listing["total"] == 20 and [d["id"] for d in listing["documents"]] == ["art-010", "art-013", "art-016"]
        assert listing["archive"]["documents"] == 60 and listing["archive"]["sections"]["sport"] == 20
        both = client.get("/documents", params=[("section", "sport"), ("section", "business"),
                                                ("date_to", "2005-03-02")]).json()
        assert [d["id"] for d in both["documents"]] == ["art-001", "art-028", "art-029", "art-056"]

        body = {"question": "What would the plan cost?", "top_k": 3,
                "filters": {"sections": ["business"], "date_from": "2005-03-10"}}
        answered = client.post("/ask", json=body).json()
        assert answered["answers"] and all(a["section"] == "business" and a["published"] >= "2005-03-10"
                                           for a in answered["answers"])
        got = client.get("/ask", params={"question": "What would the plan cost?", "section": "business",
                                         "date_from": "2005-03-10"}).json()
        assert [a["document_id"] for a in got["answers"]] == [a["document_id"] for a in answered["answers"]]
        empty = client.post("/ask", json={**body, "filters": {"sections": ["weather"]}}).json()
        assert empty["no_answer"] and empty["answers"] == [] and "matches these filters" in empty["message"]
        for bad in ({"date_from": "March 2005"}, {"sections": [""]}, {"colour": "red"}):
            response = client.post("/ask", json={**body, "filters": bad})
            assert response.status_code == 422, bad
        # A range that ends before it starts is empty: no article matches, and the message says why.
        inverted = {"date_from": "2005-03-10", "date_to": "2005-03-01"}
        empty = client.post("/ask", json={**body, "filters": inverted}).json()
        assert empty["no_answer"] and empty["answers"] == []
        assert "date_from 2005-03-10 is after date_to 2005-03-01" in empty["message"]
        assert client.get("/documents", params=inverted).json()["total"] == 0
        for bad_day in ("2005-13-40", "2005W101", "20050301", "2005-W10-1"):
            assert client.get("/documents", params={"date_to": bad_day}).status_code == 422, bad_day
        page = client.get("/archive", params={"section": "sport"})
        assert page.status_code == 200 and "20 matching articles" in page.text and "art-004" in page.text
        asked = client.get("/", params={"q": "What would the plan cost?", "section": "weather"})
        assert asked.status_code == 200 and "No article in the archive matches" in asked.text
        assert client.get("/", params={"q": "x?", "date_from": "yesterday"}).status_code == 422


def test_newer_first_reorders_answers_without_changing_them(tmp_path, embedder, reader):
    documents = [
        Document("old", "Exeter City appoint coach", "Exeter City named Alan Dobbs as their new coach on Monday. "
                 "Dobbs joins from Plymouth.", published="2004-02-01", section="sport"),
        Document("new", "Exeter City change coach", "Exeter City named Brian Ferris as their new coach on Monday. "
                 "Ferris joins from Torquay.", published="2005-02-01", section="sport"),
    ]
    index = NewsIndex.build(documents, embedder, index_dir=tmp_path)
    assistant = Assistant(index, reader, threshold=0.0)
    plain = assistant.ask("Who did Exeter City name as their new coach?", top_k=2)
    recent = assistant.ask("Who did Exeter City name as their new coach?", top_k=2, recency_half_life_days=30)
    assert {a.text for a in plain.answers} == {a.text for a in recent.answers} == {"Alan Dobbs", "Brian Ferris"}
    assert sorted(a.score for a in plain.answers) == sorted(a.score for a in recent.answers)
    assert recent.answers[0].document_id == "new"  # a year newer: weight 2**12 against the older one
    # by_recency itself, where score and date disagree: the half-life decides
    stats = index.stats()
    older_better = [replace(a, score=0.9 if a.document_id == "old" else 0.5) for a in plain.answers]
    assert [a.document_id for a in by_recency(older_better, 30, stats)] == ["new", "old"]
    assert [a.document_id for a in by_recency(older_better, 10_000, stats)] == ["old", "new"]
    undated = [replace(older_better[0], published=None), replace(older_better[1], published="2005-13")]
    assert len(by_recency(undated, 30, stats)) == 2  # an unreadable date counts as the oldest, no error
    oldest_first = assistant.ask("Who did Exeter City name as their new coach?", top_k=2,
                                 recency_half_life_days=30, filters=Filters(date_to="2004-12-31"))
    assert [a.document_id for a in oldest_first.answers] == ["old"]
