"""A build reports where its time went, stage by stage (with the fake embedder: no model)."""

from qa.stores import temporary_backend
from qa.sync import rebuild_index, sync_index
from tests.unit.conftest import DOCUMENTS


def test_a_sync_reports_its_stages(fake_embedder):
    summary = sync_index(temporary_backend(), fake_embedder, documents=DOCUMENTS)
    assert list(summary.stages)[:4] == ["plan", "chunk", "embed", "write"]
    store_stages = [s for s in summary.stages if s.startswith("write: ")]
    assert store_stages == ["write: sqlite", "write: faiss", "write: bm25", "write: checksums, fsync, swap"]
    assert all(seconds >= 0 for seconds in summary.stages.values())
    # The store's stages are parts of the write; together they are the whole of it.
    assert abs(sum(summary.stages[s] for s in store_stages) - summary.stages["write"]) < 0.01
    assert summary.embedded_chunks == 5 and fake_embedder.encoded >= 5


def test_an_unchanged_sync_writes_nothing_and_reports_no_write(fake_embedder):
    backend = temporary_backend()
    sync_index(backend, fake_embedder, documents=DOCUMENTS)
    again = sync_index(backend, fake_embedder, documents=DOCUMENTS)
    assert again.version is None and "write" not in again.stages


def test_a_rebuild_from_files_times_the_reading_too(fake_embedder, tmp_path):
    (tmp_path / "a.txt").write_text("A harbour reopened on Friday after repairs.\n")
    summary = rebuild_index([tmp_path], temporary_backend(), fake_embedder)
    assert list(summary.stages)[0] == "read" and summary.documents == 1
