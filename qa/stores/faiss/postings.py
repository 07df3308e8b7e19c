"""BM25 over segments: each segment keeps its chunks' term frequencies (postings), and a
question's scores are computed from the statistics of the live chunks of all segments.

Why not bm25s's stored score matrix (which this store kept until format 3): bm25s stores
each (term, chunk) score with the corpus-wide IDF and average length already applied, so
adding or deleting one article changes every stored score, and each write had to re-score
and rewrite BM25 for the whole archive (about 770 bytes a chunk). Postings without the
corpus statistics never change once written, so a segment is shared by every later version,
and the statistics (document frequency, live chunk count, average length) are applied per
question, as Lucene does. The scores are bm25s's own Lucene BM25 (k1 1.2, b 0.75; tested
equal to bm25s's on the same chunks), and deleted chunks count in none of the statistics.
bm25s still tokenizes (`qa.bm25.bm25_tokens`).

Files of a segment's `postings/` folder (positions are the segment's chunks in chunk-id order):

    vocabulary.json   the segment's terms; a term's local id is its position in the list
    indptr.npy        int64, per term: its postings are [indptr[t], indptr[t + 1])
    chunks.npy        int32, the chunk position of each posting (sorted within a term)
    tf.npy            uint16, how often the term occurs in that chunk
    lengths.npy       int32, each chunk's number of tokens
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from qa.bm25 import bm25_token_ids

K1, B = 1.2, 0.75
POSTINGS_DIR = "postings"
_MAX_TF = np.iinfo(np.uint16).max


class PostingsFiles:
    """A segment's postings files, opened (not read): the arrays memory-mapped and the small
    files held open. A process that opened a version can then read its postings later even
    when later writes have pruned the version and unlinked the files (on POSIX an open file
    keeps its data until it is closed); opening costs no read of the data."""

    def __init__(self, folder: Path) -> None:
        self.indptr = np.load(folder / "indptr.npy", mmap_mode="r")
        self.chunks = np.load(folder / "chunks.npy", mmap_mode="r")
        self.tf = np.load(folder / "tf.npy", mmap_mode="r")
        self.vocabulary_file = open(folder / "vocabulary.json", "rb")  # noqa: SIM115 (read at `Postings`)
        try:
            self.lengths_file = open(folder / "lengths.npy", "rb")  # noqa: SIM115
        except BaseException:
            self.vocabulary_file.close()
            raise

    def close(self) -> None:
        self.vocabulary_file.close()
        self.lengths_file.close()


class Postings:
    """One segment's postings, memory-mapped (read-only)."""

    def __init__(self, files: PostingsFiles | Path) -> None:
        if isinstance(files, Path):
            files = PostingsFiles(files)
        try:
            files.vocabulary_file.seek(0)
            terms = json.loads(files.vocabulary_file.read())
            files.lengths_file.seek(0)
            self.lengths = np.load(files.lengths_file)
        finally:
            files.close()
        self.terms = terms
        self.vocabulary = {term: i for i, term in enumerate(terms)}
        self.indptr, self.chunks, self.tf = files.indptr, files.chunks, files.tf

    def term(self, token: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(chunk positions, term frequencies) of `token` in this segment, None when absent."""
        local = self.vocabulary.get(token)
        if local is None:
            return None
        start, end = int(self.indptr[local]), int(self.indptr[local + 1])
        return np.asarray(self.chunks[start:end]), np.asarray(self.tf[start:end])

    def coo(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Every posting as (terms, term ids, chunk positions, tf): what a merge reads."""
        term_ids = np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(np.asarray(self.indptr)))
        return self.terms, term_ids, np.asarray(self.chunks, dtype=np.int64), np.asarray(self.tf, dtype=np.int64)


def text_postings(texts: list[str], first_position: int = 0
                  ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Postings of chunk texts with the store's tokenization (`qa.bm25`): (terms, term ids,
    positions, tf, lengths), one posting per (term, chunk), in (term, position) order; chunk i
    is at position `first_position + i`. bm25s hands the token ids and their vocabulary over
    directly, so no token is looked up twice."""
    tokenized = bm25_token_ids(texts)
    terms = [None] * len(tokenized.vocab)
    for term, local in tokenized.vocab.items():
        terms[local] = term
    return _postings(tokenized.ids, terms, first_position)


def token_postings(token_lists: list[list[str]], first_position: int = 0
                   ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`text_postings` from tokens already made (tests, and chunks tokenized elsewhere)."""
    vocabulary: dict[str, int] = {}
    ids = [[vocabulary.setdefault(t, len(vocabulary)) for t in tokens] for tokens in token_lists]
    return _postings(ids, list(vocabulary), first_position)


def _postings(ids: list[list[int]], terms: list[str], first_position: int
              ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    positions = np.repeat(np.arange(len(ids), dtype=np.int64) + first_position, lengths)
    width = first_position + len(ids) + 1
    keys, tf = np.unique(flat * width + positions, return_counts=True)
    return terms, keys // width, keys % width, tf.astype(np.int64), lengths


def write_postings(folder: Path, parts: list[tuple[list[str], np.ndarray, np.ndarray, np.ndarray]],
                   lengths: np.ndarray) -> None:
    """Write postings from parts of (terms, term ids into those terms, chunk positions, tf);
    the positions are already the new segment's and no (term, position) repeats across parts."""
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary: dict[str, int] = {}
    term_ids, positions, tfs = [], [], []
    for terms, ids, chunk_positions, tf in parts:
        mapping = np.array([vocabulary.setdefault(t, len(vocabulary)) for t in terms], dtype=np.int64)
        term_ids.append(mapping[ids] if len(ids) else ids)
        positions.append(chunk_positions)
        tfs.append(tf)
    term = np.concatenate(term_ids) if term_ids else np.zeros(0, np.int64)
    position = np.concatenate(positions) if positions else np.zeros(0, np.int64)
    tf = np.concatenate(tfs) if tfs else np.zeros(0, np.int64)
    if len(term) > 1 and not _sorted_by_term(term, position):  # one part of new chunks comes sorted
        order = np.lexsort((position, term))
        term, position, tf = term[order], position[order], tf[order]
    # Terms left with no posting (their chunks deleted) are dropped: one pass over the sorted ids.
    starts = np.flatnonzero(np.concatenate([[True], term[1:] != term[:-1]])) if len(term) else np.zeros(0, np.int64)
    terms = list(vocabulary)
    indptr = np.concatenate([starts, [len(term)]]).astype(np.int64)
    (folder / "vocabulary.json").write_text(json.dumps([terms[i] for i in term[starts]], ensure_ascii=False))
    np.save(folder / "indptr.npy", indptr)
    np.save(folder / "chunks.npy", position.astype(np.int32))
    np.save(folder / "tf.npy", np.minimum(tf, _MAX_TF).astype(np.uint16))
    np.save(folder / "lengths.npy", np.asarray(lengths, dtype=np.int32))


def _sorted_by_term(term: np.ndarray, position: np.ndarray) -> bool:
    """Whether the postings are in (term, position) order already."""
    same = term[1:] == term[:-1]
    return bool(np.all(term[1:] >= term[:-1]) and np.all(position[1:][same] > position[:-1][same]))


class SegmentedBM25:
    """Lucene BM25 over the live chunks of several segments.

    Chunk positions are global: segment s holds positions `offsets[s]` up to
    `offsets[s] + its chunk count`. `live` marks the chunks of articles not deleted.
    """

    def __init__(self, postings: list[Postings], offsets: np.ndarray, live: np.ndarray) -> None:
        self.postings, self.offsets, self.live = postings, offsets, live
        self.all_live = bool(live.all())
        lengths = np.concatenate([p.lengths for p in postings]).astype(np.float64) if postings else np.zeros(0)
        self.live_count = int(live.sum())
        average = lengths[live].mean() if self.live_count else 1.0
        # The length normalization of each chunk (Lucene's K1 * (1 - B + B * length / average)).
        self.norm = (K1 * (1 - B + B * lengths / average)).astype(np.float32)

    def scores(self, tokens: list[str]) -> np.ndarray:
        """Every chunk's BM25 score for these query tokens (a repeated token counts again, as
        in bm25s); deleted chunks score 0."""
        scores = np.zeros(len(self.live), dtype=np.float32)
        if not tokens:
            return scores
        unique, repeats = np.unique(np.array(tokens, dtype=object), return_counts=True)
        for token, repeat in zip(unique.tolist(), repeats.tolist()):
            found = []
            frequency = 0
            for offset, postings in zip(self.offsets.tolist(), self.postings):
                hit = postings.term(token)
                if hit is None:
                    continue
                positions, tf = hit
                if offset:
                    positions = positions + offset
                if not self.all_live:
                    keep = self.live[positions]
                    positions, tf = positions[keep], tf[keep]
                found.append((positions, tf))
                frequency += len(positions)
            if not frequency:
                continue
            weight = np.float32(repeat * np.log(1 + (self.live_count - frequency + 0.5) / (frequency + 0.5)))
            for positions, tf in found:  # weight * tf / (tf + norm), in place: these arrays can be long
                tf = tf.astype(np.float32)
                denominator = self.norm[positions]
                denominator += tf
                np.divide(tf, denominator, out=tf)
                tf *= weight
                scores[positions] += tf
        return scores
