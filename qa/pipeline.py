"""Question answering end to end: retrieve passages, read spans, rank, cite.

`Assistant.ask` is the one code path behind `/ask`, the web page, the CLI and
`scripts/evaluate.py --mode pipeline`. The served index is a `qa.live.LiveIndex` (kept
current as writes swap versions) or a fixed `NewsIndex`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from qa.chunking import split_sentences
from qa.config import (DEFAULT_FIRST_READ, DEFAULT_FIRST_READ_CONFIDENT, DEFAULT_FIRST_READ_ENOUGH,
                       DEFAULT_PASSAGES_TO_READ,
                       DEFAULT_READ_BUDGET_WORDS, DEFAULT_READ_MIN_ARTICLE_WORDS, DEFAULT_READ_WORDS,
                       DEFAULT_STORY_CHUNKS, Settings)
from qa.evidence import StoryEvidence
from qa.index import NewsIndex
from qa.live import LiveIndex
from qa.reader import STORY_FEATURES, ExtractiveReader, Reading, SpanCandidate
from qa.reading import plan_windows, with_story_chunks
from qa.stores.base import IndexLoadError
from qa.types import Answer, Document, Filters, Passage, Support

LOG = logging.getLogger(__name__)
GUESS_FLOOR = 0.01  # a guess under 1% calibrated probability is noise, not worth showing
# Below a confident answer, a less likely one is shown too when it has at least this chance: articles
# that disagree are seen, not hidden behind the first answer (chosen on the calibration questions:
# docs/evaluation.md, "Answers below the first").
ALTERNATIVE_FLOOR = 0.2
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
        """The answers come from more than one article, so the articles give different answers
        (answers are distinct texts): the page and the command line then show each with its
        article and date, newest first; the JSON says `articles_disagree`."""
        return len({a.document_id for a in self.answers}) > 1

    def shown(self, newer_first: bool = False) -> tuple[list[Answer], list[Answer]]:
        """The answers as the page and the command line list them, and apart from them the less likely
        ones below a confident answer. From several articles, each group newest first; with
        `newer_first`, all by date in one list, each marked as it is."""
        apart = not self.no_answer and not newer_first
        answers = newest_first(self.answers, confident_first=apart) if self.several_articles else self.answers
        if not apart:
            return answers, []
        return [a for a in answers if a.confident], [a for a in answers if not a.confident]

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answers": [a.to_dict() for a in self.answers],
            "passages": [p.to_dict() for p in self.passages],
            "no_answer": self.no_answer,
            "message": self.message,
            "took_ms": self.took_ms,
            "passages_read": self.passages_read,
            "articles_disagree": self.several_articles,
        }


NO_MATCH = "No article in the archive matches these filters; widen the dates or remove a filter."


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


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _matches_nothing(index: NewsIndex, filters: Filters | None) -> bool:
    """Active `filters` that select no article of `index` (then there is nothing to read)."""
    return filters is not None and filters.active and index.documents(filters, limit=0).total == 0


def supporting(answer: SpanCandidate, candidates: list[SpanCandidate]) -> list[SpanCandidate]:
    """The best span of each *other* article that gives the same answer as `answer`: the same text
    as SQuAD scoring normalizes it, or its words within the other's or the other's within its own
    (`words_within`, as `Assistant.rank` folds them); an answer that normalizes to nothing has no
    support. Best first by span score."""
    if not answer.normalized:
        return []
    best: dict[str, SpanCandidate] = {}
    for other in candidates:
        if (other.document_id != answer.document_id and other.normalized
                and words_within(other.normalized, answer.normalized)):
            if other.document_id not in best or other.span_score > best[other.document_id].span_score:
                best[other.document_id] = other
    return sorted(best.values(), key=lambda c: -c.span_score)


def _support(index: NewsIndex, candidate: SpanCandidate) -> Support:
    document = index.document(candidate.document_id)
    return Support(candidate.document_id, document.title, candidate.start, candidate.end, candidate.text,
                   document.published)


def newest_first(answers: list[Answer], confident_first: bool = True) -> list[Answer]:
    """Answers from several articles as a news reader wants to compare them: the confident ones, then
    the less likely ones (or all together, without `confident_first`), each group with its dated
    answers newest first (ties keep their order: a reversed sort is stable too) and then the undated
    in their order."""
    groups = ([a for a in answers if a.confident], [a for a in answers if not a.confident]) if confident_first \
        else (answers,)
    ordered = []
    for group in groups:
        ordered += sorted((a for a in group if a.published), key=lambda a: a.published[:19], reverse=True)
        ordered += [a for a in group if not a.published]
    return ordered


def same_answer(a: SpanCandidate, b: SpanCandidate) -> bool:
    """One answer told twice: the same normalized text, one text's words inside the other's ("12" and
    "12 people", "Britain" and "the United States, Britain and France"), or overlapping spans of
    one article."""
    if a.normalized and b.normalized and words_within(a.normalized, b.normalized):
        return True
    return a.document_id == b.document_id and a.start < b.end and b.start < a.end


def shown_floor(confident: bool, threshold: float) -> float:
    """The least probability an answer is shown with: below a confident first answer,
    `ALTERNATIVE_FLOOR` (or the threshold, when lower); without one, `GUESS_FLOOR`, which also
    bounds the other whatever the threshold."""
    return max(GUESS_FLOOR, min(ALTERNATIVE_FLOOR, threshold)) if confident else GUESS_FLOOR


def words_within(a: str, b: str) -> bool:
    """Whether the shorter of two normalized texts is a run of whole words of the longer."""
    short, long = sorted((a, b), key=len)
    return f" {short} " in f" {long} "


class Assistant:
    """Retriever + reader + calibrated ranking; the model objects are loaded once."""

    def __init__(self, index: LiveIndex | NewsIndex, reader: ExtractiveReader,
                 passages_to_read: int = DEFAULT_PASSAGES_TO_READ, threshold: float | None = None,
                 first_read: int = DEFAULT_FIRST_READ,
                 first_read_enough: float = DEFAULT_FIRST_READ_ENOUGH,
                 first_read_confident: float = DEFAULT_FIRST_READ_CONFIDENT, read_words: int = DEFAULT_READ_WORDS,
                 read_budget_words: int = DEFAULT_READ_BUDGET_WORDS,
                 read_min_article_words: int = DEFAULT_READ_MIN_ARTICLE_WORDS, story_evidence: bool | None = None,
                 story_chunks: int = DEFAULT_STORY_CHUNKS) -> None:
        self.index = index
        self.reader = reader
        # The story evidence (qa.evidence.with_story_evidence) reads every candidate's article: done when the
        # calibration weighs it (None) or always (True: `newsqa evaluate --dump` records it for a later fit).
        self.story_evidence = reader.calibration.uses(STORY_FEATURES) if story_evidence is None else story_evidence
        self.passages_to_read = passages_to_read
        self.first_read, self.first_read_enough = first_read, first_read_enough
        self.first_read_confident = first_read_confident
        self.read_words, self.read_budget_words = read_words, read_budget_words
        self.read_min_article_words = read_min_article_words
        self.story_chunks = story_chunks
        self.threshold = reader.calibration.threshold if threshold is None else threshold

    @classmethod
    def from_settings(cls, index: LiveIndex | NewsIndex, reader: ExtractiveReader, settings: Settings,
                      **overrides) -> Assistant:
        """The assistant `settings` describe (passages read, first read, threshold); `overrides` win."""
        values = {"passages_to_read": settings.passages_to_read, "threshold": settings.no_answer_threshold,
                  "first_read": settings.first_read, "first_read_enough": settings.first_read_enough,
                  "first_read_confident": settings.first_read_confident,
                  "read_words": settings.read_words, "read_budget_words": settings.read_budget_words,
                  "read_min_article_words": settings.read_min_article_words,
                  "story_chunks": settings.story_chunks}
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
        passages, first = self.retrieve(index, question, top_k, filters)
        if not passages and _matches_nothing(index, filters):
            return AskResult(question, [], [], _elapsed_ms(started), no_answer=True, message=NO_MATCH)
        _check_deadline(deadline, "after retrieval")
        reading = self.read(question, passages, index, first)
        _check_deadline(deadline, "after reading")
        kept = self.rank(reading.candidates)
        confident = bool(kept) and kept[0][1] >= self.threshold
        answers = [self.cite(index, candidate, probability, supporting(candidate, reading.candidates))
                   for candidate, probability in self.select(kept, confident, top_k, min_score)]
        if recency_half_life_days is not None and len(answers) > 1:
            answers = by_recency(answers, recency_half_life_days, index.stats())
        return AskResult(question, answers, passages, _elapsed_ms(started), no_answer=not confident, candidates=kept,
                         passages_read=reading.passages_read)

    # -- the steps of `ask` ------------------------------------------------------------------------
    def retrieve(self, index: NewsIndex, question: str, top_k: int,
                 filters: Filters | None) -> tuple[list[Passage], int]:
        """The passages to read: `passages_to_read` of them, or `top_k` when that is more; and how many of
        them to read first. With `story_chunks`, the best passage's article is searched alone too, and its
        best chunks not yet retrieved are read with the first passages (`qa.reading.with_story_chunks`)."""
        k = max(self.passages_to_read, top_k)
        if not self.story_chunks:
            return index.search(question, k=k, filters=filters), self.first_read
        vector = index.embed(question)  # one embedding for both searches
        passages = index.search(question, k=k, filters=filters, vector=vector)
        if not passages:
            return passages, self.first_read
        story = index.search(question, k=self.story_chunks + k, vector=vector,
                             filters=Filters(document_ids=(passages[0].document_id,)))
        return with_story_chunks(passages, story, self.first_read, self.story_chunks)

    def read(self, question: str, passages: list[Passage], index: NewsIndex, first: int | None = None) -> Reading:
        """Span candidates from `passages`, the first `first` (default `first_read`) read alone (see
        `ExtractiveReader.read_first`), with the story evidence of their articles
        (`qa.evidence.StoryEvidence`, one per question) when `story_evidence`. The first passages are enough when
        an answer among them reaches `first_read_enough` by the reader's own probability, or (with
        `first_read_confident`) when the answer `rank` would show first from them has a calibrated
        probability of at least `first_read_confident`.

        With `read_words`, each passage of an article of `read_min_article_words` words or more is read
        inside a window of its article (`qa.reading.plan_windows`: grown by whole sentences, windows of
        one article merged, at most `read_budget_words` words); the
        windows of the first `first_read` passages are read first. `passages_read` counts the retrieved
        passages whose text was read."""
        articles: dict[str, Document | None] = {}  # each article asked of the store once per question

        def article(document_id: str) -> Document | None:
            if document_id not in articles:
                articles[document_id] = index.document(document_id)
            return articles[document_id]

        def title_and_text(document_id: str) -> tuple[str, str] | None:
            document = article(document_id)
            return (document.title, document.text) if document is not None else None

        # The story evidence, once per candidate and article: asked of the first passages' candidates
        # (the calibrated stop) and again of all.
        evidence = StoryEvidence(question, title_and_text) if self.story_evidence else None

        def story(candidates: list[SpanCandidate]) -> list[SpanCandidate]:
            return evidence(candidates) if evidence is not None else candidates

        def settled(candidates: list[SpanCandidate]) -> bool:
            """Whether the answer shown first from the first passages is likely enough, calibrated."""
            calibration = self.reader.calibration
            best = max(story(candidates), key=calibration.rank_score, default=None)
            return best is not None and calibration.probability(best) >= self.first_read_confident

        first = self.first_read if first is None else first
        stop = settled if self.first_read_confident > 0 else None
        if not self.read_words:
            reading = self.reader.read_first(question, passages, first, self.first_read_enough, stop)
        else:
            windows = plan_windows(passages, lambda i: getattr(article(i), "text", None), self.read_words,
                                   self.read_budget_words or None, self.read_min_article_words)
            first = sum(1 for w in windows if min(w.hits) < first) if first else 0
            reading = self.reader.read_first(question, [w.passage for w in windows], first, self.first_read_enough,
                                             stop)
            reading = Reading(reading.candidates, sum(len(w.hits) for w in windows[:reading.passages_read]))
        return Reading(story(reading.candidates), reading.passages_read)

    def rank(self, candidates: list[SpanCandidate]) -> list[tuple[SpanCandidate, float]]:
        """Candidates with their calibrated probability, best first, each answer once: a span is dropped
        when a better one tells the same answer (`same_answer`: the same words, words within its
        words, or an overlapping span of the same article).

        "Best" is the calibration's ranking (`Calibration.rank_score`: fitted to put a right answer
        first, over each question's candidates together, or the probability's order). The first
        answer's probability is the calibrated chance that the answer shown first is right; each
        answer below it has its own (`Calibration.alternative_probability`), and is never shown as
        likelier than the one above it: its probability is capped there."""
        calibration = self.reader.calibration
        kept: list[SpanCandidate] = []
        for candidate in sorted(candidates, key=lambda c: -calibration.rank_score(c)):
            if not any(same_answer(candidate, other) for other in kept):
                kept.append(candidate)
        return list(zip(kept, calibration.shown_probabilities(kept)))

    def select(self, kept: list[tuple[SpanCandidate, float]], confident: bool, top_k: int,
               min_score: float) -> list[tuple[SpanCandidate, float]]:
        """The ranked candidates shown: at most `top_k`, none under `min_score`. When the best is
        `confident`, the confident answers and then the less likely ones of at least
        `ALTERNATIVE_FLOOR` (marked not confident); otherwise the best guesses of at least `GUESS_FLOOR`
        (never anything under it, whatever the threshold)."""
        floor = shown_floor(confident, self.threshold)
        chosen: list[tuple[SpanCandidate, float]] = []
        for candidate, probability in kept:  # probabilities never rise down the list
            if len(chosen) >= top_k or probability < max(min_score, floor):
                break
            chosen.append((candidate, probability))
        return chosen

    def cite(self, index: NewsIndex, candidate: SpanCandidate, probability: float,
             support: list[SpanCandidate] = ()) -> Answer:
        """The answer `candidate` gives, with its sentence, page and article metadata, and the
        citations of the other articles (`support`) that give the same answer."""
        document = index.document(candidate.document_id)
        cited = tuple(_support(index, other) for other in support)
        context, context_start = sentence_around(document.text, candidate.start, candidate.end)
        return Answer(
            text=candidate.text, score=round(probability, 4), document_id=candidate.document_id,
            title=document.title, start=candidate.start, end=candidate.end, context=context,
            context_start=context_start, confident=probability >= self.threshold, published=document.published,
            source=document.source, section=document.section, author=document.author, url=document.url,
            page=document.page_at(candidate.start), supporting=cited, agreeing_articles=1 + len(cited),
        )
