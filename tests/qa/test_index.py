"""The real index: FAISS + BM25 on the sample article, manifest checks, atomic rebuilds."""

import json

import pytest

from qa.documents import ArticleError, Document
from qa.index import BM25, IndexLoadError, NewsIndex, build_lock, BuildInProgressError, rebuild_index
from tests.conftest import SAMPLE_ID


def test_every_chunk_and_passage_points_at_its_text(sample_index):
    document = sample_index.document(SAMPLE_ID)
    assert sample_index.chunks
    for chunk in sample_index.chunks:
        assert document.text[chunk.start:chunk.end] == chunk.text
    for passage in sample_index.search("Who blamed Russia for the convoy strike?", k=5):
        assert document.text[passage.start:passage.end] == passage.text
        assert 0.0 < passage.score <= 1.0


def test_hybrid_search_finds_the_relevant_passage(sample_index):
    passages = sample_index.search("How many civilians are besieged in eastern Aleppo?", k=3)
    assert "250,000 civilians are besieged" in passages[0].text or "250,000 civilians are besieged" in passages[1].text
    assert passages == sorted(passages, key=lambda p: -p.score)


def test_manifest_describes_the_build(sample_index_dir):
    version = NewsIndex.current_version(sample_index_dir)
    manifest = json.loads((sample_index_dir / version / "manifest.json").read_text())
    assert manifest["embedding_model"] == {"name": "all-MiniLM-L6-v2", "dimension": 384,
                                           "fingerprint": manifest["embedding_model"]["fingerprint"]}
    assert manifest["documents"] == 1 and manifest["chunks"] > 5
    assert {"built_at", "corpus_fingerprint", "build_seconds", "files", "faiss_index"} <= set(manifest)


def test_bm25_ranks_term_matches():
    bm25 = BM25.build(["the cat sat", "dogs bark loudly", "a cat and a cat"])
    assert [i for i, _ in bm25.top("cat", 3)] == [2, 0]
    assert bm25.top("unknownword", 3) == [] and bm25.top("the and", 3) == []


def test_bm25_tokens_keep_unicode_words_and_stem(tmp_path):
    bm25 = BM25.build(["Talks in Zürich were requested by France.", "Zurich airport reopened.", "Dogs bark."])
    assert bm25.tokens("Zürich") == ["zürich"]
    assert [i for i, _ in bm25.top("Zürich", 3)] == [0]  # not split into "z" + "rich", not "Zurich"
    assert [i for i, _ in bm25.top("who requests talks", 3)] == [0]  # requests ~ requested
    bm25.save(tmp_path / "bm25")
    loaded = BM25.load(tmp_path / "bm25")
    assert loaded.n == 3 and loaded.top("requesting talks", 3) == bm25.top("requesting talks", 3)


def test_damaged_index_fails_clearly(tmp_path, embedder):
    NewsIndex.build([Document("d", "D", "One sentence. Another one.")], embedder).save(tmp_path)
    version = NewsIndex.current_version(tmp_path)
    with open(tmp_path / version / "chunks.jsonl", "a") as handle:
        handle.write('["d", 0, 3]\n')
    with pytest.raises(IndexLoadError, match="damaged: chunks.jsonl is missing or altered"):
        NewsIndex.load(tmp_path, embedder)


def test_index_built_with_another_model_is_refused(tmp_path, embedder):
    NewsIndex.build([Document("d", "D", "One sentence.")], embedder).save(tmp_path)
    version = NewsIndex.current_version(tmp_path)
    path = tmp_path / version / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["embedding_model"] = {"name": "other-model", "dimension": 768, "fingerprint": "0000"}
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexLoadError, match="built with embedding model 'other-model' \\(dimension 768\\)"):
        NewsIndex.load(tmp_path, embedder)


def test_missing_index_names_the_build_command(tmp_path, embedder):
    with pytest.raises(IndexLoadError, match="scripts/build_index.py"):
        NewsIndex.load(tmp_path, embedder)


def test_rebuild_is_incremental_and_a_malformed_article_keeps_the_old_index(tmp_path, articles_dir, embedder):
    index_dir = tmp_path / "index"
    first = rebuild_index([articles_dir], index_dir, embedder)
    assert first.embedded_chunks == first.chunks
    (articles_dir / "extra.md").write_text("# Extra\n\nA new article about something else entirely.")
    second = rebuild_index([articles_dir], index_dir, embedder)
    assert second.documents == 2 and second.embedded_chunks == 1  # only the new chunk was embedded
    served = NewsIndex.current_version(index_dir)

    (articles_dir / "broken.jsonl").write_text('{"id": "x", "text": "fine"}\n{"id": broken}\n')
    with pytest.raises(ArticleError, match=r"broken\.jsonl:2"):
        rebuild_index([articles_dir], index_dir, embedder)
    assert NewsIndex.current_version(index_dir) == served
    assert len(NewsIndex.load(index_dir, embedder).documents) == 2
    assert not list(index_dir.glob(".*.partial"))


def test_only_one_build_at_a_time(tmp_path):
    with build_lock(tmp_path):
        with pytest.raises(BuildInProgressError):
            with build_lock(tmp_path):
                pass
