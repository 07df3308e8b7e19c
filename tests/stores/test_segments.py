"""The FAISS folder store's segments: a write shares the unchanged segments' files instead of
copying them, deletions are marked, merges keep segments few, and what a failed or killed write
leaves is removed. Fake embedder (no model); the real kill of a build is in
tests/integration/qa/test_lifecycle.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.faults import DISK_FULL_ENV
from qa.stores import folder_backend
from qa.stores.base import IndexWriteError
from qa.stores.faiss import write as faiss_write
from qa.sync import embedding_info, sync_index
from qa.types import Document, Filters

WORDS = ["harbour", "council", "budget", "storm", "election", "museum", "railway", "vaccine", "strike", "festival"]


def _article(i: int, text: str | None = None) -> Document:
    word = WORDS[i % len(WORDS)]
    body = text or (f"The {word} report number {i} was filed in Exampleton. Officials said token{i} mattered. "
                    f"A second sentence about the {word} and the week's events follows here.")
    return Document(f"a{i:03d}", f"Report {i}", body, section="news" if i % 2 else "sport",
                    published=f"2005-0{1 + i % 9}-{1 + i % 28:02d}")


def _manifest(backend) -> dict:
    return backend.manifest(backend.current_version())


def _segment_names(backend) -> list[str]:
    return [entry["name"] for entry in _manifest(backend)["segments"]]


def _bm25_by_chunk(store, question: str) -> dict[tuple[str, int], float]:
    from qa.bm25 import bm25_tokens

    scores = store.bm25.scores(bm25_tokens([question])[0])
    live = np.flatnonzero(store.chunk_live)
    rows = store._chunk_rows([int(store.chunk_ids[p]) for p in live])
    return {rows[int(store.chunk_ids[p])][::2]: float(scores[p]) for p in live}


def _inodes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_ino for p in folder.rglob("*") if p.is_file()}


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_an_added_article_is_a_new_segment_and_the_old_ones_are_not_copied(tmp_path, fake_embedder):
    backend = folder_backend(tmp_path, keep_previous=1)
    sync_index(backend, fake_embedder, documents=[_article(i) for i in range(200)])
    first = backend.current_version()
    [base] = _segment_names(backend)
    base_folder = tmp_path / "segments" / base
    inodes, base_size = _inodes(base_folder), _size(base_folder)

    sync_index(backend, fake_embedder, upserts=[_article(200)])
    second = backend.current_version()
    names = _segment_names(backend)
    assert names[0] == base and len(names) == 2  # listed again, not rewritten
    assert _inodes(base_folder) == inodes  # the very same files
    new_size = _size(tmp_path / "segments" / names[1]) + _size(tmp_path / second)
    assert new_size < base_size / 5  # disk for the version grows with the change (1 article of 201)
    assert not (tmp_path / second / "documents.sqlite3").exists()

    old, new = backend.open(first), backend.open(second)  # the older version still reads as it was
    assert old.stats().documents == 200 and new.stats().documents == 201
    assert old.document("a200") is None and new.document("a200").text == _article(200).text
    vector = fake_embedder.encode(["token200"])[0]
    assert new.search("token200", vector, 1)[0].document_id == "a200"
    old.close()
    new.close()


def test_a_version_opened_without_warm_up_still_reads_after_later_writes_prune_it(tmp_path, fake_embedder):
    """A reader that opened a version and never warmed it up (the command line's `ask`, a script)
    reads its rows and BM25 postings on first use; two later full builds prune that version and
    delete its segment's files in the meantime. What the process opened stays readable."""
    backend = folder_backend(tmp_path, keep_previous=1)
    sync_index(backend, fake_embedder, documents=[_article(i) for i in range(30)])
    [segment] = _segment_names(backend)
    old = backend.open(embedding=embedding_info(fake_embedder))  # not warmed up: nothing lazy read yet
    for _ in range(2):
        sync_index(backend, fake_embedder, documents=[_article(i) for i in range(30)], full=True)
    assert not (tmp_path / "segments" / segment).exists()  # its files are gone from the disk

    found = old.search("token7 vaccine", fake_embedder.encode(["token7 vaccine"])[0], 3)
    assert found and found[0].document_id == "a007"
    assert old.document("a007").text == _article(7).text and old.stats().documents == 30
    old.close()


def test_a_delete_or_replace_marks_the_old_article_and_it_is_gone_everywhere(tmp_path, fake_embedder):
    backend = folder_backend(tmp_path)
    sync_index(backend, fake_embedder, documents=[_article(i) for i in range(20)])
    [base] = _segment_names(backend)
    sync_index(backend, fake_embedder, deletes=["a003"])
    manifest = _manifest(backend)
    assert _segment_names(backend) == [base]  # a delete writes no segment
    assert manifest["deleted_documents"] == 1 and manifest["documents"] == 19
    assert manifest["chunks"] == manifest["segments"][0]["chunks"] - manifest["change"]["removed_chunks"]

    sync_index(backend, fake_embedder, upserts=[_article(5, "The replaced story now speaks of zeppelins.")])
    store = backend.open(embedding=embedding_info(fake_embedder))
    assert store.stats().documents == 19 and store.document("a003") is None
    assert store.document("a005").text == "The replaced story now speaks of zeppelins."
    assert "a003" not in store.fingerprints() and len(store.fingerprints()) == 19
    for question in ("token3", "token5 storm", "zeppelins"):
        found = store.search(question, fake_embedder.encode([question])[0], 30)
        assert "a003" not in {p.document_id for p in found}
        texts = [p.text for p in found if p.document_id == "a005"]
        assert texts and all("zeppelins" in t for t in texts)  # the old a005's chunks are never returned
    sports = store.search("report", fake_embedder.encode(["report"])[0], 30, filters=Filters(sections=("sport",)))
    assert {p.document_id for p in sports} == {f"a{i:03d}" for i in range(0, 20, 2)}  # a filter skips the deleted
    assert store.documents(limit=100).total == 19
    store.close()


def test_many_small_writes_are_merged_and_read_as_a_fresh_build_would(tmp_path, fake_embedder):
    backend = folder_backend(tmp_path)
    live = {i: _article(i) for i in range(30)}
    sync_index(backend, fake_embedder, documents=list(live.values()))
    counts = []
    for i in range(30, 50):  # 20 writes: adds, with a delete and a replacement every few
        changes = {"upserts": [_article(i)]}
        live[i] = _article(i)
        if i % 4 == 0:
            changes["deletes"] = [f"a{i - 25:03d}"]
            live.pop(i - 25)
        if i % 5 == 0:
            live[i - 20] = _article(i - 20, f"Rewritten article {i - 20} about a lighthouse and token{i - 20}.")
            changes["upserts"].append(live[i - 20])
        sync_index(backend, fake_embedder, **changes)
        counts.append(len(_segment_names(backend)))
    assert max(counts) <= faiss_write.MAX_SEGMENTS and min(counts[8:]) < max(counts)  # merges happened
    assert _manifest(backend)["documents"] == len(live)

    fresh = folder_backend(tmp_path / "fresh")
    sync_index(fresh, fake_embedder, documents=list(live.values()))
    got = backend.open(embedding=embedding_info(fake_embedder))
    want = fresh.open(embedding=embedding_info(fake_embedder))
    assert got.fingerprints() == want.fingerprints() and got.stats() == want.stats()
    everything = want.stats().chunks
    for question in ("lighthouse", "token12 harbour", "storm report", "token44", "museum railway"):
        vector = fake_embedder.encode([question])[0]
        # Every live chunk's BM25 score and cosine, as a fresh build of the same articles gives them.
        assert _bm25_by_chunk(got, question) == pytest.approx(_bm25_by_chunk(want, question), rel=1e-5)
        cosines = [{(p.document_id, p.start): round(p.dense_score, 5)
                    for p in store.search(question, vector, everything, sparse_weight=0.0)} for store in (got, want)]
        assert cosines[0] == cosines[1] and len(cosines[0]) == everything
    assert got.search("token44", fake_embedder.encode(["token44"])[0], 1)[0].document_id == "a044"
    got.close()
    want.close()
    assert len(list((tmp_path / "segments").iterdir())) <= 2 * faiss_write.MAX_SEGMENTS  # merged ones pruned


def test_a_mostly_deleted_segment_is_rewritten_without_its_deleted_articles(tmp_path, fake_embedder):
    backend = folder_backend(tmp_path)
    sync_index(backend, fake_embedder, documents=[_article(i) for i in range(10)])
    [base] = _segment_names(backend)
    sync_index(backend, fake_embedder, deletes=[f"a{i:03d}" for i in range(4)])
    assert _segment_names(backend) == [base]  # 4 of 10 deleted: marked only
    sync_index(backend, fake_embedder, deletes=["a004", "a005"])  # 6 of 10: rewritten
    manifest = _manifest(backend)
    assert base not in _segment_names(backend) and manifest["deleted_documents"] == 0
    assert manifest["documents"] == manifest["segments"][0]["documents"] == 4
    store = backend.open()
    assert sorted(store.fingerprints()) == ["a006", "a007", "a008", "a009"]
    assert store.search("token7", fake_embedder.encode(["token7"])[0], 1)[0].document_id == "a007"
    store.close()


def test_a_failed_write_removes_its_segment_and_a_killed_ones_leftovers_go_at_the_next_write(
        tmp_path, fake_embedder, monkeypatch):
    backend = folder_backend(tmp_path)
    sync_index(backend, fake_embedder, documents=[_article(i) for i in range(10)])
    served, segments = backend.current_version(), sorted(p.name for p in (tmp_path / "segments").iterdir())
    monkeypatch.setenv(DISK_FULL_ENV, "before_rename")  # the new segment is complete, the version is not
    with pytest.raises(IndexWriteError):
        sync_index(backend, fake_embedder, upserts=[_article(10)])
    monkeypatch.delenv(DISK_FULL_ENV)
    assert backend.current_version() == served
    assert sorted(p.name for p in (tmp_path / "segments").iterdir()) == segments  # its segment is gone

    # What a kill leaves: a complete segment no version lists, and a partial one.
    shutil.copytree(tmp_path / "segments" / segments[0], tmp_path / "segments" / "s20991231-000000-000000000")
    (tmp_path / "segments" / ".s20991231-000000-000000001.partial").mkdir()
    store = backend.open()  # readers are not disturbed by them
    assert store.stats().documents == 10
    store.close()
    sync_index(backend, fake_embedder, upserts=[_article(10)])
    left = sorted(p.name for p in (tmp_path / "segments").iterdir())
    assert "s20991231-000000-000000000" not in left and not [n for n in left if n.endswith(".partial")]
    assert segments[0] in left and backend.open().stats().documents == 11


def test_a_damaged_shared_segment_is_named_and_the_version_refused(tmp_path, fake_embedder):
    backend = folder_backend(tmp_path)
    sync_index(backend, fake_embedder, documents=[_article(i) for i in range(10)])
    sync_index(backend, fake_embedder, upserts=[_article(10)])
    [base, _] = _segment_names(backend)
    postings = tmp_path / "segments" / base / "postings" / "chunks.npy"
    data = np.load(postings)
    np.save(postings, data[::-1])  # same size, other content
    from qa.stores.base import IndexLoadError

    with pytest.raises(IndexLoadError, match=f"postings/chunks.npy of segment {base} is missing or altered"):
        backend.open(fallback=False)
    info = json.loads((tmp_path / "segments" / base / "segment.json").read_text())
    assert "postings/chunks.npy" in info["files"]
