"""The real index: FAISS + BM25 on the sample article, manifest checks, atomic rebuilds."""

import json

import numpy as np
import pytest

from qa.ingestion import ArticleError
from qa.types import Document
from qa.bm25 import bm25_tokens
from qa.index import NewsIndex
from qa.stores.base import BuildInProgressError, IndexLoadError
from qa.stores import folder_backend
from scripts.fault_test import newest_segment_file
from qa.sync import rebuild_index
from tests.conftest import SAMPLE_ID


def test_every_chunk_and_passage_points_at_its_text(sample_index):
    document = sample_index.document(SAMPLE_ID)
    chunks = sample_index.stats().chunks
    assert chunks > 5
    every = sample_index.search("Aleppo", k=chunks)
    assert len(every) == chunks and len({p.chunk_id for p in every}) == chunks
    covered = set()
    for passage in every:
        assert document.text[passage.start:passage.end] == passage.text
        covered.update(range(passage.start, passage.end))
    assert len(covered) > 0.95 * len(document.text.strip())  # the chunks cover the article
    for passage in sample_index.search("Who blamed Russia for the convoy strike?", k=5):
        assert document.text[passage.start:passage.end] == passage.text
        assert 0.0 < passage.score <= 1.0


def test_hybrid_search_finds_the_relevant_passage(sample_index):
    passages = sample_index.search("How many civilians are besieged in eastern Aleppo?", k=3)
    assert "250,000 civilians are besieged" in passages[0].text or "250,000 civilians are besieged" in passages[1].text
    assert passages == sorted(passages, key=lambda p: -p.score)


def test_manifest_describes_the_build(sample_index_dir):
    version = folder_backend(sample_index_dir).current_version()
    manifest = json.loads((sample_index_dir / version / "manifest.json").read_text())
    assert manifest["embedding_model"] == {"name": "all-MiniLM-L6-v2", "dimension": 384,
                                           "fingerprint": manifest["embedding_model"]["fingerprint"]}
    assert manifest["documents"] == 1 and manifest["chunks"] > 5
    assert manifest["chunking"] == {"max_words": 100, "overlap_sentences": 1}
    assert {"built_at", "files", "faiss_index", "change", "write_seconds"} <= set(manifest)


def _sparse_only(index, question, k=3):
    return [p.document_id for p in index.search(question, k=k, dense_weight=0.0)]


def test_bm25_ranks_term_matches(tmp_path, embedder):
    index = NewsIndex.build([Document("a", "", "the cat sat"), Document("b", "", "dogs bark loudly"),
                             Document("c", "", "a cat and a cat")], embedder, index_dir=tmp_path)
    assert _sparse_only(index, "cat") == ["c", "a"]
    assert _sparse_only(index, "unknownword") == [] and _sparse_only(index, "the and") == []


def test_bm25_tokens_keep_unicode_words_and_stem(tmp_path, embedder):
    assert bm25_tokens(["Zürich"]) == [["zürich"]]
    documents = [Document("a", "", "Talks in Zürich were requested by France."),
                 Document("b", "", "Zurich airport reopened."), Document("c", "", "Dogs bark.")]
    index = NewsIndex.build(documents, embedder, index_dir=tmp_path)
    assert _sparse_only(index, "Zürich") == ["a"]  # not split into "z" + "rich", not "Zurich"
    assert _sparse_only(index, "who requests talks") == ["a"]  # requests ~ requested
    again = NewsIndex.open(folder_backend(tmp_path), embedder)  # memory-mapped from disk: the same ranking
    assert _sparse_only(again, "requesting talks") == _sparse_only(index, "requesting talks") == ["a"]


def test_damaged_index_fails_clearly(tmp_path, embedder):
    NewsIndex.build([Document("d", "D", "One sentence. Another one.")], embedder, index_dir=tmp_path)
    version = folder_backend(tmp_path).current_version()
    with open(newest_segment_file(tmp_path, version, "documents.sqlite3"), "ab") as handle:
        handle.write(b"garbage")
    with pytest.raises(IndexLoadError, match="damaged: documents.sqlite3 of segment s.* is missing or altered; "
                                             "rebuild it"):
        NewsIndex.open(folder_backend(tmp_path), embedder)


def test_index_of_the_previous_format_is_refused_with_how_to_rebuild(tmp_path, embedder):
    NewsIndex.build([Document("d", "D", "One sentence.")], embedder, index_dir=tmp_path)
    path = tmp_path / folder_backend(tmp_path).current_version() / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": 3}))
    with pytest.raises(IndexLoadError, match=r"has format 3, but this release reads format 4; rebuild it with "
                                             r"`newsqa build --full`"):
        NewsIndex.open(folder_backend(tmp_path), embedder)


def test_index_built_with_another_model_is_refused(tmp_path, embedder):
    NewsIndex.build([Document("d", "D", "One sentence.")], embedder, index_dir=tmp_path)
    version = folder_backend(tmp_path).current_version()
    path = tmp_path / version / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["embedding_model"] = {"name": "other-model", "dimension": 768, "fingerprint": "0000"}
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexLoadError, match="built with embedding model 'other-model' \\(dimension 768\\)"):
        NewsIndex.open(folder_backend(tmp_path), embedder)


def test_missing_index_names_the_build_command(tmp_path, embedder):
    with pytest.raises(IndexLoadError, match="newsqa build"):
        NewsIndex.open(folder_backend(tmp_path), embedder)


def test_rebuild_is_incremental_and_a_malformed_article_keeps_the_old_index(tmp_path, articles_dir, embedder):
    index_dir = tmp_path / "index"
    first = rebuild_index([articles_dir], index_dir, embedder)
    assert first.embedded_chunks == first.chunks
    (articles_dir / "extra.md").write_text("# Extra\n\nA new article about something else entirely.")
    second = rebuild_index([articles_dir], index_dir, embedder)
    assert second.documents == 2 and second.embedded_chunks == 1  # only the new chunk was embedded
    served = folder_backend(index_dir).current_version()

    (articles_dir / "broken.jsonl").write_text('{"id": "x", "text": "fine"}\n{"id": broken}\n')
    with pytest.raises(ArticleError, match=r"broken\.jsonl:2"):
        rebuild_index([articles_dir], index_dir, embedder)
    assert folder_backend(index_dir).current_version() == served
    assert NewsIndex.open(folder_backend(index_dir), embedder).stats().documents == 2
    assert not list(index_dir.glob(".*.partial"))


def test_only_one_build_at_a_time(tmp_path):
    with folder_backend(tmp_path).lock():
        with pytest.raises(BuildInProgressError):
            with folder_backend(tmp_path).lock():
                pass


def test_segmented_bm25_scores_equal_bm25s_over_the_live_chunks(tmp_path):
    """BM25 over two segments, with one chunk deleted, against bm25s's own index of the chunks
    that are left: the same scores, so a segmented archive ranks as one built anew would."""
    import bm25s
    import numpy as np

    from qa.stores.faiss.postings import Postings, SegmentedBM25, token_postings, write_postings

    texts = ["the cat sat on the mat", "dogs bark loudly at the cat", "a cat and a cat and a cat",
             "Zürich talks requested by France", "nothing in common here", "mat mat mat dogs",
             "France and the cat requested talks", "dogs dogs dogs"]
    tokens = bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
    postings = []
    for number, part in enumerate((tokens[:5], tokens[5:])):
        terms, term_ids, positions, tf, lengths = token_postings(part)
        write_postings(tmp_path / str(number), [(terms, term_ids, positions, tf)], lengths)
        postings.append(Postings(tmp_path / str(number)))
    live = np.ones(len(texts), dtype=bool)
    live[1] = False  # "dogs bark loudly at the cat" deleted
    segmented = SegmentedBM25(postings, np.array([0, 5]), live)
    kept = [t for t, alive in zip(tokens, live) if alive]
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index(kept, show_progress=False)
    for query in (["cat"], ["dog", "cat"], ["mat", "mat"], ["zürich", "franc", "request"], ["dogs"], ["absent"]):
        query = bm25s.tokenize([" ".join(query)], stopwords="en", return_ids=False, show_progress=False)[0] or query
        got = segmented.scores(query)
        assert got[1] == 0.0
        expected = reference.get_scores(query) if any(t in reference.vocab_dict for t in query) else np.zeros(len(kept))
        assert np.allclose(got[live], expected, rtol=1e-5, atol=1e-6), query
        assert (got[live] > 0).sum() == (expected > 0).sum()
    assert segmented.scores(["cat"])[0] > 0 and segmented.scores(["dogs"]).argmax() == 7


def test_a_builds_batches_run_side_by_side_give_the_vectors_of_one_after_the_other(embedder, monkeypatch):
    """Many batches go through one single-threaded run per core at once; each text must get the
    vector it gets when the same batches run one after the other (not a neighbour's, not zeros),
    and one question still gets the vector of its own one-text batch."""
    assert embedder.backend == "onnx"
    texts = [f"Report {i}: the council of Town {i} met to discuss the budget of {i * 7} million pounds"
             + " and its schools" * (i % 9) for i in range(150)]
    monkeypatch.setattr(embedder, "_workers", 2)
    side_by_side = embedder.encode(texts, batch_size=16)  # 10 batches
    monkeypatch.setattr(embedder, "_workers", 1)
    in_turn = embedder.encode(texts, batch_size=16)
    assert side_by_side.shape == (150, embedder.dimension)
    assert np.array_equal(side_by_side, in_turn)
    assert np.allclose(np.linalg.norm(side_by_side, axis=1), 1.0, atol=1e-5)
    assert float(side_by_side[3] @ side_by_side[4]) < 0.999  # distinct texts, distinct vectors
    alone = embedder.encode([texts[37]])[0]
    assert float(alone @ side_by_side[37]) > 0.97  # the same text, in a batch of its own
