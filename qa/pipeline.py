"""Question answering end to end: retrieve passages, read spans, rank, cite.

`Assistant.ask` is the one code path behind `/ask`, the web page, the CLI and
`scripts/evaluate.py --mode pipeline`. `LiveIndex` keeps the served index current:
it notices when a rebuild has swapped the index directory's `CURRENT` pointer and
loads the new version in the background while the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from qa.chunking import split_sentences
from qa.config import DEFAULT_FIRST_READ, DEFAULT_FIRST_READ_ENOUGH, DEFAULT_PASSAGES_TO_READ, Settings
from qa.index import Embedder, Filters, IndexLoadError, NewsIndex, Passage
from qa.stores.base import StoreBackend
from qa.stores.faiss_store import FaissBackend
from qa.reader import ExtractiveReader, SpanCandidate
from qa.types import Answer  # noqa: F401

LOG = logging.getLogger(__name__)
GUESS_FLOOR = 0.01  # a guess under 1% calibrated probability is noise, not worth showing
CONTEXT_MARGIN = 800  # characters around an answer searched for its sentence


@dataclass
class AskResult:
    question: str
    answers: list[Answer]
    passages: list[Passage]
    took_ms: float
    no_answer: bool = False
    candidates: list[tuple[SpanCandidate, float]] = field(default_factory=list, repr=False)
    message: str | None = None  # why there is nothing to read, e.g. filters that match no article
    passages_read: int = 0  # of `passages`, how many the reader read (the rest when the first were not enough)

    @property
    def several_articles(self) -> bool:
        """The answers come from more than one article: the question may need narrowing."""
        return len({a.document_id for a in self.answers}) > 1

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answers": [a.to_dict() for a in self.answers],
            "passages": [p.to_dict() for p in self.passages],
            "no_answer": self.no_answer,
            "message": self.message,
            "took_ms": self.took_ms,
            "passages_read": self.passages_read,
        }


NO_INDEX = "no index has been built yet"
NO_MATCH = "No article in the archive matches these filters; widen the dates or remove a filter."


@dataclass(frozen=True)
class IndexHealth:
    """What `/healthz` reports about the index, from one consistent look at `LiveIndex`."""

    served_version: str | None  # the version answering questions, None when none is loaded
    current_version: str | None  # what `CURRENT` names on disk right now
    error: str | None  # why the last load failed (or fell back); cleared by the next good load
    loading: bool

    @property
    def status(self) -> str:
        """"degraded" only when an error is why the served version is not the current one:
        a reload that is merely under way (versions differ, no error) is still "ok"."""
        if self.served_version is None:
            return "no_index"
        if self.error is not None and self.served_version != self.current_version:
            return "degraded"
        return "ok"


class LiveIndex:
    """The current version of a store, reloaded when a rebuild swaps it.

    One load runs at a time: the check of `CURRENT` and the claim of the loading flag
    happen under one lock, so concurrent requests start one reload, not one each. A
    failed hot reload keeps the old index serving and is kept in `error` (and shown as
    "degraded" by `/healthz`); the broken version is not retried until `CURRENT` changes
    or `load` is called. Error texts name versions, never paths, so clients may see them.
    """

    def __init__(self, backend: StoreBackend | str | Path, embedder: Embedder, check_interval: float = 1.0) -> None:
        self.backend = FaissBackend(backend) if isinstance(backend, (str, Path)) else backend
        self.embedder = embedder
        self.check_interval = check_interval
        self._index: NewsIndex | None = None
        self._attempted: str | None = None  # the `CURRENT` value last loaded or tried
        self._error: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._loading = False
        self.reloads = 0  # loads started, the first one included

    def load(self, timeout: float = 60.0) -> None:
        """Load the current version now (at start-up, or when asked to); a failure is kept as `error`.

        With nothing served yet, a damaged current version falls back to the newest valid
        older one (`error` then says so); a load already running is waited for first.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if not self._loading:
                    self._loading = True
                    self.reloads += 1
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("another index load is still running")
            time.sleep(0.05)
        try:
            version = self._current_version()
        except IndexLoadError as err:  # the store cannot be reached: say why, serve nothing new
            LOG.error("index not loaded: %s", err)
            with self._lock:
                self._error, self._loading = str(err), False
            return
        self._reload(version)

    def _reload(self, version: str | None) -> None:
        """Load `version`; the caller has claimed `_loading`, which this releases."""
        try:
            if version is None:
                with self._lock:
                    self._attempted, self._error = None, None if self._index is not None else NO_INDEX
                return
            fallback = self._index is None  # while serving, a bad new version must not replace a good one
            index = NewsIndex.open(self.backend, self.embedder, version=version, fallback=fallback)
        except (IndexLoadError, OSError, ValueError, KeyError) as err:
            LOG.error("index version %s not loaded: %s", version, err)
            with self._lock:
                self._error = str(err)
                self._attempted = version  # do not retry the same broken version in a loop
        else:
            with self._lock:
                self._index, self._attempted, self._error = index, version, index.fallback_reason
        finally:
            with self._lock:
                self._loading = False

    def get(self) -> NewsIndex | None:
        """The served index; starts a background reload when the current version has changed.

        The version is looked up outside the lock: for a Milvus cluster it is a network call,
        which must not hold up other requests (nor `/healthz`) while it waits."""
        now = time.monotonic()
        with self._lock:
            if self._loading or now - self._checked < self.check_interval:
                return self._index
            self._checked = now
        try:
            version = self._current_version()
        except IndexLoadError as err:  # a store server that is down: keep serving what is loaded
            with self._lock:
                self._error = str(err)
                return self._index
        with self._lock:
            if self._loading or version is None or version == self._attempted:
                return self._index
            self._loading = True
            self.reloads += 1
            served = self._index
        if served is None:
            self._reload(version)  # nothing to serve yet: load in the foreground
            return self._index
        threading.Thread(target=self._reload, args=(version,), daemon=True, name="index-reload").start()
        return served

    def _current_version(self) -> str | None:
        return self.backend.current_version()

    def health(self) -> IndexHealth:
        try:
            current = self._current_version()
        except IndexLoadError as err:
            with self._lock:
                served = self._index.version if self._index is not None else None
                return IndexHealth(served, None, str(err), self._loading)
        with self._lock:
            served = self._index.version if self._index is not None else None
            return IndexHealth(served, current, self._error, self._loading)

    @property
    def error(self) -> str | None:
        return self._error

    def wait_for_reload(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self._loading and time.monotonic() < deadline:
            time.sleep(0.05)


def sentence_around(text: str, start: int, end: int) -> tuple[str, int]:
    """The sentence(s) of `text` that contain [start, end), with their start offset."""
    lo = max(0, start - CONTEXT_MARGIN)
    hi = min(len(text), end + CONTEXT_MARGIN)
    spans = [(a + lo, b + lo) for a, b in split_sentences(text[lo:hi])]
    covering = [(a, b) for a, b in spans if a < end and b > start]
    if not covering:
        return text[start:end], start
    a, b = covering[0][0], covering[-1][1]
    # A sentence cut by the search margin is not a sentence edge; keep what was found.
    return text[a:b], a


def by_recency(answers: list[Answer], half_life_days: float, stats) -> list[Answer]:
    """`answers` ordered by score x 0.5 ** (age / half-life), the age counted from the archive's
    newest article. A date given as a year or a month counts as its first day (as filters
    do); an undated article, or one with a date that does not parse, counts as the oldest."""
    from datetime import date

    def day(value: str | None) -> date | None:
        if not value:
            return None
        text = value[:10]
        text += "-01-01"[len(text) - 4:] if len(text) < 10 else ""
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None

    newest, oldest = day(stats.last_date), day(stats.first_date)
    if newest is None:
        return answers

    def weight(answer: Answer) -> float:
        age = (newest - (day(answer.published) or oldest or newest)).days
        return answer.score * 0.5 ** (max(0, age) / half_life_days)

    return sorted(answers, key=lambda a: -weight(a))


class DeadlineExceeded(Exception):
    """A question ran past its time limit; the app answers 503 with this reason."""


def _check_deadline(deadline: float | None, stage: str) -> None:
    """Stop between stages once `deadline` has passed: a stage is never cut short, but no
    further work is spent on an answer nobody is waiting for."""
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded(f"the question ran past its time limit ({stage})")


def _same_answer(a: SpanCandidate, b: SpanCandidate) -> bool:
    if a.normalized and a.normalized == b.normalized:
        return True
    return a.document_id == b.document_id and a.start < b.end and b.start < a.end


class Assistant:
    """Retriever + reader + calibrated ranking; the model objects are loaded once."""

    def __init__(self, index: LiveIndex | NewsIndex, reader: ExtractiveReader, passages_to_read: int = DEFAULT_PASSAGES_TO_READ,
                 threshold: float | None = None, first_read: int = DEFAULT_FIRST_READ,
                 first_read_enough: float = DEFAULT_FIRST_READ_ENOUGH) -> None:
        self.index = index
        self.reader = reader
        self.passages_to_read = passages_to_read
        self.first_read, self.first_read_enough = first_read, first_read_enough
        self.threshold = reader.calibration.threshold if threshold is None else threshold

    @classmethod
    def from_settings(cls, index: LiveIndex | NewsIndex, reader: ExtractiveReader, settings: Settings,
                      **overrides) -> Assistant:
        """The assistant `settings` describe (passages read, first read, threshold); `overrides` win."""
        values = {"passages_to_read": settings.passages_to_read, "threshold": settings.no_answer_threshold,
                  "first_read": settings.first_read, "first_read_enough": settings.first_read_enough}
        return cls(index, reader, **{**values, **overrides})

    def current_index(self) -> NewsIndex | None:
        return self.index.get() if isinstance(self.index, LiveIndex) else self.index

    def ask(self, question: str, top_k: int = 3, index: NewsIndex | None = None, *, min_score: float = 0.0,
            deadline: float | None = None, filters: Filters | None = None,
            recency_half_life_days: float | None = None) -> AskResult:
        """Answer `question` from the index: up to `top_k` distinct answers.

        Answers at or above the calibrated threshold are `confident`. When there is none,
        `no_answer` is true and the best guesses still come back, marked not confident,
        so the person sees what the archive holds instead of a bare "no answer".
        `min_score` drops answers under that probability (the threshold: confident only).

        `deadline` (a `time.monotonic()` value) is checked before and between the stages;
        past it the question is abandoned with `DeadlineExceeded`.

        `filters` restrict retrieval to matching articles (dates, sources, sections, ids);
        when none matches, the result says so in `message` instead of answering.

        `recency_half_life_days` (off by default) orders the chosen answers by score times
        0.5 ** (age / half-life), the age counted from the archive's newest article: "who is
        the coach" then puts this season's answer before last year's. Scores, the choice of
        answers and the confidence are unchanged; only their order.
        """
        _check_deadline(deadline, "before retrieval")
        started = time.perf_counter()
        index = index or self.current_index()
        if index is None:
            raise IndexLoadError("no index is loaded")
        question = " ".join(question.split())
        passages = index.search(question, k=max(self.passages_to_read, top_k), filters=filters)
        if not passages and filters is not None and filters.active and index.documents(filters, limit=0).total == 0:
            took_ms = round((time.perf_counter() - started) * 1000, 1)
            return AskResult(question, [], [], took_ms, no_answer=True, message=NO_MATCH)
        _check_deadline(deadline, "after retrieval")
        reading = self.reader.read_first(question, passages, self.first_read, self.first_read_enough)
        candidates = reading.candidates
        _check_deadline(deadline, "after reading")
        scored = sorted(((c, self.reader.calibration.probability(c)) for c in candidates), key=lambda cp: -cp[1])
        kept: list[tuple[SpanCandidate, float]] = []
        for candidate, probability in scored:
            if not any(_same_answer(candidate, other) for other, _ in kept):
                kept.append((candidate, probability))
        confident = bool(kept) and kept[0][1] >= self.threshold
        answers = []
        for candidate, probability in kept:
            if len(answers) >= top_k or probability < max(min_score, GUESS_FLOOR):
                break
            if confident and probability < self.threshold:
                break  # confident answers are never padded with guesses
            document = index.document(candidate.document_id)
            context, context_start = sentence_around(document.text, candidate.start, candidate.end)
            answers.append(Answer(
                text=candidate.text, score=round(probability, 4), document_id=candidate.document_id,
                title=document.title, start=candidate.start, end=candidate.end, context=context,
                context_start=context_start, confident=probability >= self.threshold, published=document.published,
                source=document.source, section=document.section, author=document.author, url=document.url,
                page=document.page_at(candidate.start),
            ))
        if recency_half_life_days is not None and len(answers) > 1:
            answers = by_recency(answers, recency_half_life_days, index.stats())
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        return AskResult(question, answers, passages, took_ms, no_answer=not confident, candidates=kept,
                         passages_read=reading.passages_read)
