"""Fakes for unit tests: an embedder and a reader that load no model.

`FakeEmbedder` turns a text into a hashed bag of words (deterministic, unit length), which
is enough for a real folder store to rank passages by shared words. `FakeReader` has the
surface of `qa.reader.ExtractiveReader` that `qa.pipeline.Assistant` uses (`read_first`,
`read`, `calibration.threshold`, `calibration.probability`) and returns the candidates a
test chose, so each test states the calibrated probabilities it feeds the pipeline.
"""

from __future__ import annotations

import hashlib
import re
import time

import numpy as np

from qa.reader import Calibration, Reading, SpanCandidate
from qa.squad import normalize_answer
from qa.types import Document

WORD = re.compile(r"\w+")


class FakeEmbedder:
    """Hashed bag of words: each word adds 1 to one of `dimension` slots; rows are L2-normalized."""

    def __init__(self, dimension: int = 64) -> None:
        self.name = "fake-bag-of-words"
        self.dimension = dimension
        self.backend = "fake"
        self.fingerprint = f"fake-bag-of-words-{dimension}"
        self.encoded = 0  # texts embedded, to show what a test cost

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in WORD.findall(text.lower()):
                slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[row, slot % self.dimension] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        self.encoded += len(texts)
        return out


class FakeCalibration:
    """The calibrated probability of a candidate is the `probability` the test gave it."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def probability(self, candidate: SpanCandidate) -> float:
        return candidate.probability

    def alternative_probability(self, candidate: SpanCandidate, first: float) -> float:
        return candidate.probability  # as `Calibration` without alternatives

    def uses(self, names) -> bool:
        return False  # weighs no feature: the story evidence is not computed unless asked for

    rank_score = probability  # no ranking: candidates are ordered by `probability`
    shown_probabilities = Calibration.shown_probabilities  # the real rule: the others capped at the one above


class FakeReader:
    """Returns fixed candidates (in the order given) and records what it was asked."""

    def __init__(self, candidates: list[SpanCandidate] = (), threshold: float = 0.5,
                 passages_read: int | None = None, delay: float = 0.0) -> None:
        self.candidates = list(candidates)
        self.calibration = FakeCalibration(threshold)
        self.passages_read = passages_read  # None: all the passages it was given
        self.delay = delay  # seconds each read takes
        self.calls: list[dict] = []

    def read_first(self, question, passages, first: int = 0, enough: float = 1.0, settled=None) -> Reading:
        self.calls.append({"question": question, "passages": list(passages), "first": first, "enough": enough,
                           "settled": settled})
        if self.delay:
            time.sleep(self.delay)
        read = len(passages) if self.passages_read is None else self.passages_read
        return Reading(list(self.candidates), read if passages else 0)

    def read(self, question, passages) -> list[SpanCandidate]:
        return self.read_first(question, passages).candidates


def span(document: Document, text: str, probability: float, occurrence: int = 0,
         span_score: float = 0.0) -> SpanCandidate:
    """A candidate for the `occurrence`-th appearance of `text` in `document`, with offsets in it."""
    start = -1
    for _ in range(occurrence + 1):
        start = document.text.index(text, start + 1)
    return SpanCandidate(
        document_id=document.id, start=start, end=start + len(text), text=text, span_score=span_score,
        null_score=0.0, passage_rank=0, passage_score=0.0, probability=probability,
        normalized=normalize_answer(text),
    )
