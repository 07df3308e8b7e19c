"""What only the Milvus store does, against a real Milvus Lite database file: its fusion against
Milvus's own `hybrid_search`, complete filtered reads, filter expressions, in-place incremental
writes, the alias swap under load, leftovers of killed rebuilds, the write lock and the cluster
lease, an unreachable cluster and a server lost mid-session. Nothing of Milvus is mocked, except
the cluster in the lease test (Milvus Lite has no lease). The store contract is in test_contract.py."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

from qa.ingestion import load_articles
from qa.stores.base import (
    BuildInProgressError,
    ChangeSet,
    IndexLoadError,
    IndexWriteError,
    StoreUnavailableError,
    fuse,
    passage_input,
)
from qa.stores.milvus import Expr, MilvusBackend, MilvusStore, filter_expression
from qa.stores.milvus import lease as lease_module
from qa.stores.milvus.expressions import _literal
from qa.sync import embedding_info
from qa.types import Document, Filters
from tests.conftest import SAMPLE_ARTICLES
from tests.stores.archive import EXTRA, bulk, embedding_settings, fingerprints, full_write, prepare

SMALL = EXTRA[:3] + EXTRA[4:]  # budget, cup final, election, the undated note


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    """One Milvus Lite file (one local server) for the module; each test writes its own collection."""
    return str(tmp_path_factory.mktemp("milvus") / "news.db")


@pytest.fixture(scope="module")
def store(db, embedder) -> MilvusStore:
    """The sample article, SMALL and 30 bulk articles, embedded by the real model (ties in a
    fused ranking, which Milvus and this code may break differently, are then unlikely)."""
    backend = MilvusBackend(db, collection="newsqa")
    archive = load_articles([SAMPLE_ARTICLES]) + SMALL + bulk(30)
    backend.write(full_write(archive, embedder))
    return backend.open(embedding=embedding_info(embedder))


def _search(store, embedder, question, k=5, **kwargs):
    return store.search(question, embedder.encode([question])[0], k, **kwargs)


# -- reading ------------------------------------------------------------------------------------
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


# -- writing ------------------------------------------------------------------------------------
def test_an_incremental_write_changes_the_current_version_in_place(db, fake_embedder):
    backend = MilvusBackend(db, collection="inc")
    settings = embedding_settings(fake_embedder)
    version = backend.write(full_write(SMALL, fake_embedder))
    store = backend.open(embedding=embedding_info(fake_embedder))
    budget = Filters(document_ids=("budget-2005",))
    vector = fake_embedder.encode(["budget fuel duty"])[0]
    old_ids = {p.chunk_id for p in store.search("budget fuel duty", vector, 10, filters=budget)}
    changed = Document(id="budget-2005", title="Chancellor sets out budget",
                       text="The chancellor raised tobacco duty in a short budget speech.", published="2005-03-16",
                       source="BBC News", section="business")
    assert backend.write(ChangeSet(upserts=prepare([changed], fake_embedder), deletes=["cup-final"],
                                   settings=settings)) == version  # in place: the same version
    assert backend.versions() == [version]
    # the store opened before the write reads the changed collection
    assert store.document("budget-2005") == changed and store.document("cup-final") is None
    passages = store.search("fuel duty frozen", vector, 10, filters=budget)
    assert passages and not old_ids & {p.chunk_id for p in passages}  # new chunk ids, the old ones deleted
    assert all(changed.text[p.start:p.end] == p.text for p in passages)
    rest = [changed if d.id == "budget-2005" else d for d in SMALL if d.id != "cup-final"]
    assert store.documents().total == len(rest) and store.fingerprints() == fingerprints(rest)
    assert set(store.vectors_of(["budget-2005"])) == {passage_input(changed.title, changed.text)}
    assert backend.open().manifest["documents"] == len(rest)


def test_a_write_that_fails_part_way_leaves_the_version_as_it_was(db, fake_embedder, monkeypatch):
    """Milvus refuses the second insert batch of an incremental write, then of a full rewrite: each
    raises IndexWriteError (not the driver's error) and the current version holds exactly what it
    held, rows, counts and search alike; the rewrite's new collection is dropped."""
    from pymilvus.exceptions import MilvusException

    import qa.stores.milvus.backend as backend_module

    backend = MilvusBackend(db, collection="failing")
    archive = SMALL + bulk(12)
    version = backend.write(full_write(archive, fake_embedder))
    store = backend.open(embedding=embedding_info(fake_embedder))
    vector = fake_embedder.encode(["budget fuel duty"])[0]
    before = ([p.chunk_id for p in store.search("budget fuel duty", vector, 10)], store.documents().total,
              store._conn.count(version))
    monkeypatch.setattr(backend_module, "BATCH_ROWS", 5)  # several insert batches, so the failure is part-way
    client = backend._conn.client
    real_insert, calls = client.insert, []

    def failing_insert(collection, rows, *args, **kwargs):
        calls.append(len(rows))
        if len(calls) == 2:
            raise MilvusException(message="segment allocation refused")
        return real_insert(collection, rows, *args, **kwargs)

    monkeypatch.setattr(client, "insert", failing_insert)
    changed = [Document(id=d.id, title=d.title, text=d.text + " A later paragraph adds nothing new.",
                        published=d.published, source=d.source, section=d.section) for d in archive[:6]]
    with pytest.raises(IndexWriteError, match="could not be written.*segment allocation refused"):
        backend.write(ChangeSet(upserts=prepare(changed, fake_embedder), deletes=["cup-final"],
                                settings=embedding_settings(fake_embedder)))
    assert len(calls) == 2  # the first batch was in when the second failed
    assert backend.versions() == [version] and backend.current_version() == version
    after = ([p.chunk_id for p in store.search("budget fuel duty", vector, 10)], store.documents().total,
             store._conn.count(version))
    assert after == before and store.fingerprints() == fingerprints(archive)
    assert backend.open().manifest["documents"] == len(archive)

    calls.clear()
    with pytest.raises(IndexWriteError):
        backend.write(full_write(changed, fake_embedder))
    assert backend.versions() == [version] and backend.current_version() == version  # the new collection dropped
    assert store.fingerprints() == fingerprints(archive)


def test_full_rewrite_swaps_the_alias_under_searches(db, fake_embedder):
    backend = MilvusBackend(db, collection="swap")
    old, new = SMALL[:2], SMALL[2:]
    first = backend.write(full_write(old, fake_embedder))
    first_store = backend.open()
    rewrites = [full_write(new, fake_embedder), full_write(old, fake_embedder), full_write(new, fake_embedder)]
    allowed = (frozenset(d.id for d in old), frozenset(d.id for d in new))
    vector = fake_embedder.encode(["what happened"])[0]
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
                if found not in allowed:
                    failures.append(f"mixed or empty result {sorted(found)}")
                seen.add(found)

    thread = threading.Thread(target=search_loop)
    thread.start()
    try:
        versions = [backend.write(changes) for changes in rewrites]
    finally:
        stop.set()
        thread.join(30)
    assert not failures, failures[:5]
    assert len(seen) == 2
    assert backend.current_version() == versions[-1] and backend.versions() == versions[-2:]  # older ones dropped
    assert first not in backend.versions()
    assert {p.document_id for p in backend.open().search("x", vector, 10)} == allowed[1]
    del first_store


def test_stale_partials_are_the_versions_never_made_current(db, fake_embedder):
    """A killed rebuild leaves a collection newer than the current one; the previous version,
    kept for servers still on it, is not a leftover."""
    backend = MilvusBackend(db, collection="partials")
    previous = backend.write(full_write(SMALL[:2], fake_embedder))
    current = backend.write(full_write(SMALL, fake_embedder))
    killed = backend._new_version_name()
    backend._create_version(killed, fake_embedder.dimension)  # killed before it got rows or a manifest
    assert backend.versions() == [previous, current, killed]
    with backend.lock():
        assert backend.remove_stale_partials() == [killed]
    assert backend.versions() == [previous, current] and backend.current_version() == current
    assert backend.open(previous).version == previous

    first_build = MilvusBackend(db, collection="never_current")  # a first build killed before the alias existed
    name = first_build._new_version_name()
    first_build._create_version(name, fake_embedder.dimension)
    with first_build.lock():
        assert first_build.current_version() is None and first_build.remove_stale_partials() == [name]
    assert first_build.versions() == []


def test_the_write_lock_and_the_lease_exclude_a_second_writer(db, fake_embedder):
    backend = MilvusBackend(db, collection="locked")
    backend.write(full_write(SMALL, fake_embedder))
    refused: list[BaseException] = []

    def write_meanwhile() -> None:
        try:
            with backend.lock(wait_s=0.2):
                pass
        except BuildInProgressError as err:
            refused.append(err)

    with backend.lock():  # a write running in this process ...
        thread = threading.Thread(target=write_meanwhile)
        thread.start()
        thread.join(10)
        with pytest.raises(BuildInProgressError, match="another write"):  # ... refuses another backend object
            MilvusBackend(db, collection="locked").write(ChangeSet(deletes=["cup-final"]))
    assert len(refused) == 1 and "another write" in str(refused[0])  # and keeps other threads out past wait_s
    lease = backend.acquire_lease(seconds=60)
    try:
        with pytest.raises(BuildInProgressError, match="write lease"):
            backend.acquire_lease()
    finally:
        lease.release()
    backend.acquire_lease(seconds=0.01)  # left behind by a "dead" build ...
    time.sleep(0.05)
    backend.acquire_lease().release()  # ... and taken over once expired


class _FakeLease:
    def __init__(self) -> None:
        self.renewals = 0
        self.released = False
        self.name = "fake_lock"

    def renew(self, force: bool = False) -> None:
        self.renewals += 1

    def release(self) -> None:
        self.released = True


class _ClusterConnection:
    """What `lease.exclusive` needs of a connection to a cluster (Milvus Lite has no lease)."""

    lite = False
    where = "Milvus at http://cluster:19530"

    @contextmanager
    def guard(self):
        yield


def test_a_cluster_write_holds_the_lease_renewed_until_released(monkeypatch):
    taken = _FakeLease()
    monkeypatch.setattr(lease_module, "LEASE_RENEW_SECONDS", 0.02)
    monkeypatch.setattr(lease_module, "acquire_lease", lambda conn, collection, seconds: taken)
    conn = _ClusterConnection()
    with lease_module.exclusive("http://cluster:19530#news", conn, "news"):
        time.sleep(0.2)  # a long embedding inside a sync: the lease must not expire meanwhile
        with pytest.raises(BuildInProgressError, match="another write"), \
                lease_module.exclusive("http://cluster:19530#news", conn, "news"):
            pass
        assert not taken.released
    renewals = taken.renewals
    assert renewals >= 3 and taken.released
    time.sleep(0.1)
    assert taken.renewals == renewals  # no renewal after the release


# -- failures -----------------------------------------------------------------------------------
def test_unreachable_cluster_is_unavailable_quickly():
    backend = MilvusBackend("http://user:secret@127.0.0.1:1", timeout=2.0)  # constructing connects to nothing
    started = time.time()
    with pytest.raises(StoreUnavailableError, match="127.0.0.1:1") as caught:
        backend.current_version()
    assert time.time() - started < 10 and "secret" not in str(caught.value)
    with pytest.raises(StoreUnavailableError):
        backend.open()


def test_a_server_lost_mid_session_is_unavailable(tmp_path, fake_embedder):
    from milvus_lite.server_manager import server_manager_instance

    path = str(tmp_path / "lost.db")
    backend = MilvusBackend(path, collection="lost")
    backend.write(full_write(SMALL[:1], fake_embedder))
    store = backend.open()
    vector = fake_embedder.encode(["budget"])[0]
    assert store.search("budget", vector, 1)
    server_manager_instance.release_server(path)  # the in-process Milvus Lite server stops
    with pytest.raises(StoreUnavailableError, match="lost.db"):
        store.search("budget", vector, 1)
    with pytest.raises(StoreUnavailableError):
        backend.current_version()


def test_a_missing_collection_says_to_build_one(db):
    with pytest.raises(IndexLoadError, match="build one"):
        MilvusBackend(db, collection="nothing_here").open()


def test_an_unreachable_milvus_is_a_clear_503_not_a_traceback(embedder, reader, capsys, monkeypatch):
    from fastapi.testclient import TestClient

    from qa.cli import build
    from qa.config import Settings
    from qa.live import LiveIndex
    from qa.pipeline import Assistant
    from web.app import create_app
    from web.deps import Services

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
    assert build.main(["--store", "milvus", "--articles", str(SAMPLE_ARTICLES), "--quiet"]) == 3
    error = capsys.readouterr().err
    assert "127.0.0.1:1" in error and "The index was not changed." in error and "Traceback" not in error
