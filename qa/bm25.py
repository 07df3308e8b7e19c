"""BM25 with bm25s, tokenized one way for the stores that rank with bm25s and for reader training.

`bm25_tokens` is the project's tokenization (Unicode words, English stop words, Snowball
stems); `bm25_ranker` is an in-memory BM25 over a list of texts with it (reader training picks
its retrieved negatives with it); `top_positions` picks the best scores. The FAISS folder
store scores BM25 itself from segment postings with this tokenization
(`qa.stores.faiss.postings`). bm25s and PyStemmer are imported on first use.
"""

from __future__ import annotations

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


def bm25_token_ids(texts: list[str], stemmer=None):
    """`bm25_tokens` as bm25s's `Tokenized`: per text its token ids, and the vocabulary (token -> id)."""
    return _import_bm25s().tokenize(texts, stopwords="en", stemmer=stemmer or _stemmer(), return_ids=True,
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
