"""BM25 with bm25s, tokenized one way for the stores that rank with bm25s and for reader training.

`bm25_tokens` is the project's tokenization (Unicode words, English stop words, Snowball
stems); `bm25_ranker` is an in-memory BM25 over a list of texts with it (reader training picks
its retrieved negatives with it); `top_positions` picks the best scores; `FlatTokens` and
`_vectorized_bm25` build a bm25s index from stored token ids with numpy (the store's writes).
bm25s and PyStemmer are imported on first use.
"""

from __future__ import annotations

import functools
import logging

import numpy as np


def _import_bm25s():
    """bm25s, imported on first use; its import sets its logger to DEBUG, which would print a
    line for every index build, so the level is set back after it."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _stemmer():
    import Stemmer  # PyStemmer: Snowball stemmers in C

    return Stemmer.Stemmer("english")


def bm25_tokens(texts: list[str], stemmer=None) -> list[list[str]]:
    """BM25 tokens: Unicode words of two or more characters ("Zürich" stays one token),
    lower-cased, English stop words removed, Snowball-stemmed ("requested" and "requests"
    meet at "request"). Stemming raised the fused answer recall (README, the evaluation's stages)."""
    return _import_bm25s().tokenize(texts, stopwords="en", stemmer=stemmer or _stemmer(), return_ids=False,
                                    show_progress=False)


def bm25_ranker(texts: list[str]):
    """`top(question, k) -> [(text index, score), ...]`: an in-memory BM25 over `texts` with
    the store's tokenization. Reader training picks its retrieved negatives with it, so they
    are the near-misses this project's own retriever returns."""
    stemmer = _stemmer()
    retriever = _import_bm25s().BM25(k1=1.2, b=0.75)
    retriever.index(bm25_tokens(texts, stemmer), show_progress=False)

    def top(question: str, k: int) -> list[tuple[int, float]]:
        tokens = bm25_tokens([question], stemmer)[0]
        if not tokens or not texts:
            return []
        scores = retriever.get_scores(tokens)
        return [(int(i), float(scores[i])) for i in top_positions(scores, k)]

    return top


def top_positions(scores: np.ndarray, depth: int) -> np.ndarray:
    """Positions of the `depth` best positive scores, best first; ties by position, so results
    are stable. `argpartition` rather than a full sort: O(n) over every chunk's score."""
    depth = min(depth, len(scores))
    if depth <= 0:
        return np.arange(0)
    top = np.argpartition(-scores, depth - 1)[:depth] if depth < len(scores) else np.arange(len(scores))
    top = top[scores[top] > 0]
    return top[np.lexsort((top, -scores[top]))]


class FlatTokens:
    """Every chunk's token ids in one array: chunk i is `ids[offsets[i]:offsets[i + 1]]`."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray) -> None:
        self.ids, self.offsets = ids, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1


@functools.cache
def _vectorized_bm25():
    """The `VectorizedBM25` class (made once: bm25s is imported on first use)."""
    bm25s = _import_bm25s()

    class VectorizedBM25(bm25s.BM25):
        """bm25s, with its score matrix built by numpy array operations from `FlatTokens`.

        `build_index_from_ids` is the extension point bm25s documents for building the index
        another way. Its own build loops over documents in Python, most of an incremental write's
        time at scale (README, "Scale"). This one computes the same Lucene BM25 scores (tested
        equal to bm25s's within float32 rounding) by array operations; retrieval, saving and
        memory-mapped loading stay bm25s's.
        """

        def build_index_from_ids(self, unique_token_ids, corpus_token_ids, show_progress=True, leave_progress=False):
            if not isinstance(corpus_token_ids, FlatTokens):
                return super().build_index_from_ids(unique_token_ids, corpus_token_ids, show_progress, leave_progress)
            if self.method != "lucene" or self.idf_method != "lucene":
                raise ValueError("the vectorized build computes Lucene BM25 only")
            import scipy.sparse as sp

            self.nonoccurrence_array = None  # Lucene BM25 needs none (BM25L and BM25+ do)
            tokens = corpus_token_ids
            n_docs, n_vocab = len(tokens), len(unique_token_ids)
            lengths = np.diff(tokens.offsets)
            docs = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
            counts = sp.csc_matrix((np.ones(len(tokens.ids), dtype=np.float32), (docs, tokens.ids.astype(np.int64))),
                                   shape=(n_docs, n_vocab))  # duplicates summed: term frequencies
            counts.sum_duplicates()
            counts.sort_indices()
            df = np.diff(counts.indptr).astype(np.float64)
            idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            column = np.repeat(np.arange(n_vocab), np.diff(counts.indptr))
            tf = counts.data.astype(np.float64)
            average = lengths.mean() if n_docs else 0.0
            norm = self.k1 * (1 - self.b + self.b * lengths[counts.indices] / average)
            data = (idf[column] * tf / (tf + norm)).astype(self.dtype)
            return {"data": data, "indices": counts.indices.astype(self.int_dtype),
                    "indptr": counts.indptr.astype(self.int_dtype), "num_docs": n_docs}

    return VectorizedBM25
