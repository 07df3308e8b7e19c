"""The Milvus store against a real Milvus Lite database file and the real embedder: search,
offsets, filters, incremental writes, the alias swap under load, the manifest check and an
unreachable cluster. Nothing is mocked."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from qa.chunking import chunk_document
from qa.documents import Document, load_articles
from qa.stores.base import (
    BuildInProgressError,
    ChangeSet,
    DocumentChunks,
    Filters,
    IndexLoadError,
    StoreUnavailableError,
    document_fingerprint,
    passage_input,
)
from qa.stores.milvus_store import (
    Expr,
    MilvusBackend,
    MilvusStore,
    _literal,
    filter_expression,
    fuse,
)
from tests.conftest import SAMPLE_ARTICLES, SAMPLE_ID

CHUNKING = {"max_words": 100, "overlap_sentences": 1}

SMALL = [
    Document(id="budget-2005", title="Chancellor sets out budget",
             text="The chancellor set out the budget on Wednesday. Fuel duty was frozen for another year.",
             published="2005-03-16", source="BBC News", section="business"),
    Document(id="cup-final", title="Arsenal win the cup",
             text="Arsenal beat Manchester United on penalties to win the FA Cup final in Cardiff.",
             published="2005-05-21T15:00:00Z", source="BBC Sport", section="sport"),
    Document(id="election-date", title="Election called",
             text="The prime minister called a general election for the fifth of May after visiting the palace.",
             published="2005-04-05", source="BBC News", section="politics", author="Political staff"),
    Document(id="undated-note", title="Archive note",
             text="This note about the archive has no date, no source and no section.",),
]


def _settings(embedder) -> dict:
    return {"embedding_model": {"name": embedder.name, "dimension": embedder.dimension,
                                "fingerprint": embedder.fingerprint}, "chunking": CHUNKING}


def _embedding(embedder) -> dict:
    return _settings(embedder)["embedding_model"]


def _prepare(documents: list[Document], embedder) -> list[DocumentChunks]:
    prepared = []
    for document in documents:
        chunks = chunk_document(document, CHUNKING["max_words"], CHUNKING["overlap_sentences"])
        vectors = embedder.encode([passage_input(document.title, c.text) for c in chunks])
        prepared.append(DocumentChunks(document, chunks, vectors, document_fingerprint(document, CHUNKING)))
    return prepared


def _bulk(n: int) -> list[Document]:
    return [Document(id=f"bulk-{i:03d}", title=f"Market report {i}",
                     text=f"Shares in company number {i} rose on the stock market today. Traders were calm.",
                     published=f"2004-11-{1 + i % 28:02d}", source="Wire", section="bulk") for i in range(n)]


@pytest.fixture(scope="module")
def archive(tmp_path_factory, embedder) -> list[Document]:
    return load_articles([SAMPLE_ARTICLES]) + SMALL + _bulk(30)


@pytest.fixture(scope="module")
def prepared(archive, embedder) -> list[DocumentChunks]:
    return _prepare(archive, embedder)


@pytest.fixture(scope="module")
def backend(tmp_path_factory, prepared, embedder) -> MilvusBackend:
    backend = MilvusBackend(str(tmp_path_factory.mktemp("milvus") / "news.db"), collection="newsqa")
    backend.write(ChangeSet(upserts=prepared, replace_all=True, settings=_settings(embedder)))
    return backend


@pytest.fixture(scope="module")
def store(backend, embedder) -> MilvusStore:
    return backend.open(embedding=_embedding(embedder))


def _search(store, embedder, question, k=5, **kwargs):
    return store.search(question, embedder.encode([question])[0], k, **kwargs)


def test_search_returns_the_passage_with_exact_offsets(store, embedder, archive):
    passages = _search(store, embedder, "Who requested the Security Council meeting?", k=8)
    assert passages[0].document_id == SAMPLE_ID
    assert "requested by the United States, Britain and France" in passages[0].text
    documents = {d.id: d for d in archive}
    for passage in passages:
        assert documents[passage.document_id].text[passage.start:passage.end] == passage.text
        assert 0.0 < passage.score <= 1.0 and passage.dense_score is not None
        assert passage.title == documents[passage.document_id].title
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert passages[0].dense_rank is not None and passages[0].sparse_rank is not None
    bm25_only = _search(store, embedder, "Handarat refugee camp", k=3, dense_weight=0.0)
    assert bm25_only[0].dense_rank is None and bm25_only[0].dense_score is not None  # cosine even so
    assert all(p.sparse_rank is not None for p in bm25_only)


def test_documents_come_back_exactly(store, archive, prepared):
    for document in archive[:6]:
        assert store.document(document.id) == document
    assert store.document("no-such-article") is None
    page = store.documents(offset=2, limit=3)
    ids = sorted(d.id for d in archive)
    assert page.total == len(archive) and [d.id for d in page.documents] == ids[2:5]
    stats = store.stats()
    assert stats.documents == len(archive) and stats.chunks == sum(len(p.chunks) for p in prepared)
    assert stats.sections["bulk"] == 30 and stats.sources["BBC News"] == 2
    assert (stats.first_date, stats.last_date) == ("2004-11-01", "2005-05-21")
    assert stats.undated == sum(1 for d in archive if d.date is None)
    assert store.fingerprints()["budget-2005"] == document_fingerprint(SMALL[0], CHUNKING)


def test_filters_select_exactly_the_matching_documents(store, embedder, archive):
    question = "What happened on the day?"
    cases = [
        Filters(date_from="2005-03-16", date_to="2005-03-16"),  # both edges inclusive
        Filters(date_from="2005-03-17", date_to="2005-04-05"),
        Filters(date_to="2004-11-02"),
        Filters(date_from="2005-05-21"),  # a date-time counts by its day
        Filters(sources=("BBC News",), sections=("politics", "sport")),  # AND across fields, OR within
        Filters(sources=("BBC News", "BBC Sport"), date_from="2005-04-01"),
        Filters(document_ids=("cup-final", "undated-note"), sections=("sport",)),
        Filters(sections=("no-such-section",)),
        Filters(sections=('sport" or section != "x',)),  # a value can never change the expression
    ]
    for filters in cases:
        expected = {d.id for d in archive if filters.matches(d)}
        passages = _search(store, embedder, question, k=50, filters=filters)
        assert {p.document_id for p in passages} == expected, filters
        page = store.documents(filters, limit=100)
        assert [d.id for d in page.documents] == sorted(expected) and page.total == len(expected), filters
    assert "undated-note" not in {p.document_id for p in _search(store, embedder, "archive note", k=50,
                                                                  filters=Filters(date_to="2100-01-01"))}


def test_k_results_when_more_chunks_match(store, embedder):
    for weights in ({}, {"sparse_weight": 0.0}):
        passages = _search(store, embedder, "Who won the final?", k=20, candidates=20,
                           filters=Filters(sections=("bulk",)), **weights)
        assert len(passages) == 20 and {p.document_id[:5] for p in passages} == {"bulk-"}


def test_fusion_orders_as_milvus_hybrid_search(store, embedder):
    """With equal weights the fusion here is Milvus's RRFRanker(60), score for score."""
    from pymilvus import AnnSearchRequest, RRFRanker

    question = "Syrian government offensive on Aleppo"
    vector = embedder.encode([question])[0]
    requests = [AnnSearchRequest(data=[vector.tolist()], anns_field="dense", param={"metric_type": "IP"}, limit=20),
                AnnSearchRequest(data=[question], anns_field="sparse", param={"metric_type": "BM25"}, limit=20)]
    hits = store._conn.client.hybrid_search(store.collection, requests, RRFRanker(60), limit=10,
                                            output_fields=["chunk_id"])[0]
    ours = fuse(store._dense_ids(vector, 20, Expr()), store._sparse_ids(question, 20, Expr()), 1.0, 1.0, 10)
    assert [int(h["chunk_id"]) for h in hits] == [chunk for chunk, _ in ours]
    assert np.allclose([h["distance"] for h in hits], [score for _, score in ours], atol=1e-6)


def test_selective_filters_and_long_reads_are_complete(store, embedder):
    vector = embedder.encode(["stock market shares"])[0]
    where = filter_expression(Filters(sections=("bulk",)))
    assert store.exact_dense_ids(vector, 10, where) == store._dense_ids(vector, 10, where)
    everything = store._conn.query(store.collection, Expr(), ["chunk_id"], limit=1000)
    scanned = store._conn.scan(store.collection, Expr(), ["chunk_id"], window=7)  # forces the range scan
    assert sorted(r["chunk_id"] for r in scanned) == sorted(r["chunk_id"] for r in everything)


def test_literals_are_quoted_and_templates_kept():
    assert _literal('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert _literal(["x", 3]) == '["x", 3]'
    expr = filter_expression(Filters(sections=("a",), date_from="2005-01-01"))
    assert expr.arguments(True) == {"filter": expr.template, "filter_params": expr.params}
    assert "{" in expr.template and '"a"' not in expr.template
    assert expr.arguments(False)["filter"] == 'section in ["a"] and published >= "2005-01-01"'


def test_incremental_upsert_and_delete(tmp_path, embedder):
    backend = MilvusBackend(str(tmp_path / "news.db"), collection="inc")
    settings = _settings(embedder)
    version = backend.write(ChangeSet(upserts=_prepare(SMALL, embedder), replace_all=True, settings=settings))
    store = backend.open(embedding=_embedding(embedder))
    old_ids = {p.chunk_id for p in _search(store, embedder, "budget fuel duty", k=10,
                                           filters=Filters(document_ids=("budget-2005",)))}
    changed = Document(id="budget-2005", title="Chancellor sets out budget",
                       text="The chancellor raised tobacco duty in a short budget speech.", published="2005-03-16",
                       source="BBC News", section="business")
    assert backend.write(ChangeSet(upserts=_prepare([changed], embedder), deletes=["cup-final"],
                                   settings=settings)) == version  # in place
    assert store.document("budget-2005") == changed and store.document("cup-final") is None
    passages = _search(store, embedder, "fuel duty frozen", k=10, filters=Filters(document_ids=("budget-2005",)))
    assert passages and not old_ids & {p.chunk_id for p in passages}
    assert all(changed.text[p.start:p.end] == p.text for p in passages)
    assert "cup-final" not in {p.document_id for p in _search(store, embedder, "Arsenal FA Cup final", k=50)}
    assert store.documents().total == len(SMALL) - 1 and "cup-final" not in store.fingerprints()
    assert store.fingerprints()["budget-2005"] == document_fingerprint(changed, CHUNKING)
    assert set(store.vectors_of(["budget-2005"])) == {passage_input(changed.title, changed.text)}
    assert backend.open().manifest["documents"] == len(SMALL) - 1


def test_full_rewrite_swaps_the_alias_under_searches(tmp_path, embedder):
    backend = MilvusBackend(str(tmp_path / "news.db"), collection="swap")
    settings = _settings(embedder)
    old, new = SMALL[:2], SMALL[2:]
    first = backend.write(ChangeSet(upserts=_prepare(old, embedder), replace_all=True, settings=settings))
    first_store = backend.open()
    rewrites = [_prepare(new, embedder), _prepare(old, embedder), _prepare(new, embedder)]
    allowed = ({d.id for d in old}, {d.id for d in new})
    vector = embedder.encode(["what happened"])[0]
    failures: list[str] = []
    seen: set[frozenset] = set()
    stop = threading.Event()

    def search_loop() -> None:
        client = backend._conn.client
        while not stop.is_set():
            try:
                ids = frozenset(p.document_id for p in backend.open().search("what happened", vector, 10))
                hits = client.search("swap", data=[vector.tolist()], anns_field="dense", limit=10,
                                     output_fields=["document_id"])[0]  # straight through the alias
                through_alias = frozenset(h["entity"]["document_id"] for h in hits)
            except Exception as err:  # noqa: BLE001 - any error fails the test below
                failures.append(repr(err))
                continue
            for found in (ids, through_alias):
                if found not in (frozenset(allowed[0]), frozenset(allowed[1])):
                    failures.append(f"mixed or empty result {sorted(found)}")
                seen.add(found)

    thread = threading.Thread(target=search_loop)
    thread.start()
    try:
        versions = [backend.write(ChangeSet(upserts=u, replace_all=True, settings=settings)) for u in rewrites]
    finally:
        stop.set()
        thread.join(30)
    assert not failures, failures[:5]
    assert len(seen) == 2
    assert backend.current_version() == versions[-1] and backend.versions() == versions[-2:]  # older ones dropped
    assert first not in backend.versions()
    assert {p.document_id for p in backend.open().search("x", vector, 10)} == allowed[1]
    del first_store


def test_unreachable_cluster_is_unavailable_quickly():
    backend = MilvusBackend("http://user:secret@127.0.0.1:1", timeout=2.0)  # constructing connects to nothing
    started = time.time()
    with pytest.raises(StoreUnavailableError, match="127.0.0.1:1") as caught:
        backend.current_version()
    assert time.time() - started < 10 and "secret" not in str(caught.value)
    with pytest.raises(StoreUnavailableError):
        backend.open()


def test_a_server_lost_mid_session_is_unavailable(tmp_path, embedder):
    from milvus_lite.server_manager import server_manager_instance

    path = str(tmp_path / "lost.db")
    backend = MilvusBackend(path, collection="lost")
    backend.write(ChangeSet(upserts=_prepare(SMALL[:1], embedder), replace_all=True, settings=_settings(embedder)))
    store = backend.open()
    vector = embedder.encode(["budget"])[0]
    assert store.search("budget", vector, 1)
    server_manager_instance.release_server(path)  # the in-process Milvus Lite server stops
    with pytest.raises(StoreUnavailableError, match="lost.db"):
        store.search("budget", vector, 1)
    with pytest.raises(StoreUnavailableError):
        backend.current_version()


def test_another_embedding_model_is_refused(backend, embedder):
    other = {**_embedding(embedder), "fingerprint": "0123456789abcdef"}
    with pytest.raises(IndexLoadError, match="rebuild"):
        backend.open(embedding=other)
    with pytest.raises(IndexLoadError, match="rebuild"):
        backend.open(embedding=other, fallback=False)
    empty = MilvusBackend(backend.uri, collection="nothing_here")
    with pytest.raises(IndexLoadError, match="build one"):
        empty.open()


def test_the_write_lease_excludes_a_second_writer(backend):
    with backend._write_lock():  # a write running in this process
        with pytest.raises(BuildInProgressError, match="another write"):
            backend.write(ChangeSet(deletes=["cup-final"]))
    lease = backend.acquire_lease(seconds=60)
    try:
        with pytest.raises(BuildInProgressError, match="write lease"):
            backend.acquire_lease()
    finally:
        lease.release()
    backend.acquire_lease(seconds=0.01)  # left behind by a "dead" build ...
    time.sleep(0.05)
    backend.acquire_lease().release()  # ... and taken over once expired
