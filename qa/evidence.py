"""Evidence about a candidate answer beyond its own span score, for the calibration.

A news archive tells the same story several times, so a candidate's standing among the other
candidates of the question says much about whether it is right:

- `articles`: how many different articles give the same answer text (normalized as SQuAD
  scores it). Three reports naming the same person are likelier right than one.
- `other_probability`: the reader's best shared probability for a *different* answer text
  found in another article: a close rival from a neighbouring story is a reason for doubt.
- `type_fit`: whether the answer has the shape the question asks for: a number for "how many"
  or "how much", a date or year for "when", a capitalized name for "who" and "where". 1 when
  it fits, 0 when it does not, 0.5 when the question word says nothing about the shape.
- `words`: the answer's length in words (very long spans are rarely right).

`with_evidence` fills these fields on the reader's candidates; the reader calls it for every
question it reads, so `/ask`, the page, the command line and the evaluation see the same
features (and the same calibrated score) for the same question.

The reader's own features are wrong with it when it is confidently wrong. The story evidence
(`with_story_evidence`, issue #28) asks something the reader does not: whether the answer's
article, and the text around the answer, name the story the question asks about.

- `story_article`: the share of the question's words, each weighted by its rarity, that the
  answer's article (title and text) uses. "How long is the Caminito del Rey?" answered from an
  article that never names the Caminito scores low, however sure the reader is of its span.
- `story_near`: the same share in the text around the answer (`NEAR_BEFORE` characters before
  it, `NEAR_AFTER` after): the story named near the answer, not only somewhere in its article.
- `story_best`: the best `story_article` among the articles read for the question; an answer
  from an article that names the story less than another read article (`story_article` below
  `story_best`) may come from a neighbouring story.
- `echo`: the weighted share of the answer's own words that the question already uses: "Who
  heads the Quilliam Foundation?" is not answered by "the Quilliam Foundation".
- `detail`: the weighted share of the question's *detail* words that the answer's sentence uses
  (its own words aside). The detail words are those the article's title and first sentence do not
  use: what the question asks about the story, not the story's name. People name the story and
  the answer's sentence does not ("How long is the Izumo, Japan's largest warship?" is answered by
  "It is 241 meters long"), so the sentence's plain share of the question runs the wrong way; its
  share of the detail asked does not: "long" is in it. "How many people does LG Card employ?"
  answered by "seven million" from a sentence about customers scores 0. The answer's own words
  count as not found: an answer that only repeats the detail asked does not say it. 0.5 (nothing
  to tell) when the title and first sentence use every word of the question.

Words are the question's content words (`qa.coverage.content_words`) stemmed as the BM25 index
stems them ("requested" meets "request"), weighted by the inverse document frequency of
`rarity()`: a fixed table of general English prose (`scripts/build_word_rarity.py`), the same
for every store and every archive size, so the features mean the same in an archive of one
article as in one of thousands.

Plain Python and regular expressions on purpose: the question words and answer shapes are a
closed, small set, and a tagger model would cost more than the whole reader call.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from qa.chunking import split_sentences
from qa.coverage import WORD, WORD_CHARACTERS, content_word, content_words, folded, sentence_bounds

if TYPE_CHECKING:  # the reader imports this module; the type is only named here
    from qa.reader import SpanCandidate

_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|dozens|hundred|hundreds|"
                 "thousand|thousands|million|millions|billion|billions|half|quarter|third|several|few")
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_TIME_WORDS = "yesterday|today|tomorrow|tonight|morning|evening|week|weekend|month|year|decade|century"
_DATE = re.compile(rf"\b(?:1[5-9]\d\d|20\d\d|\d{{1,2}}(?:st|nd|rd|th)?|{_MONTHS}|{_DAYS}|{_TIME_WORDS}|"
                   r"(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?|\d{1,2}[:.]\d\d|[ap]\.m\.)\b",
                   re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][\w’'.-]*")

# (question pattern, answer shape), first match wins: "how many" before "how", "what year" before "what".
_EXPECTED = (
    (re.compile(r"\bhow (?:many|much|long|old|far|big|large|tall|often)\b", re.IGNORECASE), _NUMBER),
    (re.compile(r"\b(?:what|which) (?:year|month|day|date|time)\b|\bwhen\b", re.IGNORECASE), _DATE),
    (re.compile(r"\b(?:what|which) (?:percentage|proportion|number|amount|price|figure|rate)\b", re.IGNORECASE),
     _NUMBER),
    (re.compile(r"\bwho(?:m|se)?\b|\bwhere\b", re.IGNORECASE), _NAME),
)


def expected_shape(question: str) -> re.Pattern | None:
    """The answer shape the question asks for, or None when its words do not say."""
    for asks, shape in _EXPECTED:
        if asks.search(question):
            return shape
    return None


def type_fit(question: str, answer: str) -> float:
    """1.0 when `answer` has the shape `question` asks for, 0.0 when it does not, 0.5 when unknown."""
    return _fits(expected_shape(question), answer)


def _fits(shape: re.Pattern | None, answer: str) -> float:
    return 0.5 if shape is None else float(bool(shape.search(answer)))


def with_evidence(question: str, candidates: list[SpanCandidate]) -> list[SpanCandidate]:
    """`candidates` with `articles`, `other_probability`, `type_fit` and `words` filled in, same order."""
    documents: dict[str, set[str]] = defaultdict(set)  # answer key -> the articles giving it
    best: dict[str, float] = {}  # answer key -> its answer probability
    for candidate in candidates:
        key = candidate.normalized or candidate.text
        documents[key].add(candidate.document_id)
        best[key] = max(best.get(key, 0.0), candidate.answer_probability)
    ranked = sorted(best.items(), key=lambda item: -item[1])
    shape = expected_shape(question)
    result = []
    for candidate in candidates:
        key = candidate.normalized or candidate.text
        rival = next((p for other, p in ranked
                      if other != key and not documents[other] <= {candidate.document_id}), 0.0)
        result.append(replace(candidate, articles=len(documents[key]), other_probability=rival,
                              type_fit=_fits(shape, candidate.text), words=len(candidate.text.split())))
    return result


# -- the story evidence -------------------------------------------------------------------------
RARITY_FILE = Path(__file__).parent / "models" / "rarity.json.gz"
DETAIL_UNKNOWN = 0.5  # `detail` when the title and first sentence use every word of the question
NEAR_BEFORE, NEAR_AFTER = 400, 200  # characters around an answer that count as near it: more before,
# where the sentences that name the subject of an "it" or "he" usually are

_local = threading.local()  # a PyStemmer stemmer keeps a cache and is not safe to share between threads


def _stem_words(words: list[str]) -> list[str]:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer  # PyStemmer, the BM25 index's stemmer (qa.bm25)

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWords(words)


def stems(text: str) -> set[str]:
    """The stems of the content words of `text` (`qa.coverage.content_words`), each once."""
    return set(_stem_words(sorted(content_words(text))))


class Rarity:
    """Inverse document frequency of word stems in general prose (BM25's form, never negative)."""

    def __init__(self, documents: int, frequency: dict[str, int]) -> None:
        self.documents, self.frequency = documents, frequency

    def idf(self, stem: str) -> float:
        used = self.frequency.get(stem, 0)
        return math.log(1.0 + (self.documents - used + 0.5) / (used + 0.5))


@lru_cache(maxsize=1)
def rarity() -> Rarity:
    """The shipped table (`RARITY_FILE`), read once."""
    with gzip.open(RARITY_FILE, "rt", encoding="utf-8") as table:
        data = json.load(table)
    return Rarity(data["documents"], data["frequency"])


def story_weights(question: str, table: Rarity | None = None) -> dict[str, float]:
    """The question's stems, each with its rarity weight."""
    table = table or rarity()
    return {stem: table.idf(stem) for stem in stems(question)}


def named_share(weights: dict[str, float], found: set[str]) -> float:
    """The weighted share of `weights`' stems in `found`; 1.0 when the question has no content word."""
    total = sum(weights.values())
    return sum(w for stem, w in weights.items() if stem in found) / total if total else 1.0


class _Words:
    """An article's words, found and stemmed once (`_words_of`): where each is, the stem of each, and
    whether a word character runs straight into it (`joined`: see `_Article.found_between`)."""

    def __init__(self, text: str) -> None:
        lowered = folded(text)  # as `qa.coverage.content_words` reads it
        self.aligned = len(lowered) == len(text)  # else offsets in it are not the text's
        matches = list(WORD.finditer(lowered)) if self.aligned else []
        self.starts = array("i", (m.start() for m in matches))
        self.ends = array("i", (m.end() for m in matches))
        self.joined = bytes(m.start() > 0 and lowered[m.start() - 1] in WORD_CHARACTERS for m in matches)
        words = [content_word(m.group()) for m in matches]
        kept = sorted({w for w in words if w})
        stem_of = dict(zip(kept, _stem_words(kept)))
        where: dict[str, list[int]] = defaultdict(list)  # stem -> indices of its words, in order
        for index, word in enumerate(words):
            if word:
                where[stem_of[word]].append(index)
        self.where = {stem: array("i", indices) for stem, indices in where.items()}
        self.stems = frozenset(where) if self.aligned else frozenset(stems(text))
        self.sentences = split_sentences(text)


KEPT_ARTICLES, KEPT_ARTICLE_CHARACTERS = 512, 50_000  # the words of recent articles kept, and of none longer


@lru_cache(maxsize=KEPT_ARTICLES)  # the articles of recent questions: a story is asked about again and again
def _kept_words_of(text: str) -> _Words:
    return _Words(text)


def _words_of(text: str) -> _Words:
    """`_Words(text)`, kept for the next questions unless the text is long (an upload may be megabytes:
    512 of those would not fit in memory, and a long one costs its reading anyway)."""
    return _kept_words_of(text) if len(text) <= KEPT_ARTICLE_CHARACTERS else _Words(text)


class _Article:
    """What the story evidence reads of one article for one question: its stems, its sentences, the
    question's words (`weights`) its title and first sentence do not use (`detail`), and which of the
    question's stems occur in a stretch of it (`found_between`).

    `found_between(a, b)` is exactly `stems(text[a:b]) & wanted`, without stemming the stretch's words
    again for every candidate: the article's words are found and stemmed once (and kept for the next
    question, `_words_of`), and each stretch asks, per question stem, whether one of its words lies
    inside. Only the words cut by the stretch's ends are read again (a cut word may be another word:
    "warship" cut to "ship"). Where that shortcut could disagree with reading the stretch itself (a
    letter or an apostrophe running straight into the stretch's first whole word, as in "abc'd1" cut
    after "abc", where the stretch reads "d1"; text whose lower case changes length), it reads the
    stretch."""

    def __init__(self, title: str, text: str, weights: dict[str, float]) -> None:
        self.text, self.wanted = text, set(weights)
        words = self.words = _words_of(text)
        self.where = {stem: words.where[stem] for stem in self.wanted if stem in words.where}
        self.stems = words.stems | stems(title)
        first = text[words.sentences[0][0]:words.sentences[0][1]] if words.sentences else ""
        lead = stems(title + "\n" + first)  # the title and first sentence: the story's own words
        self.detail = {stem: w for stem, w in weights.items() if stem not in lead}  # the question's other words

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """Where the sentences the span [start, end) touches are (`qa.coverage.answer_sentence`)."""
        return sentence_bounds(self.words.sentences, len(self.text), start, end)

    def found_between(self, a: int, b: int) -> set[str]:
        """The question's stems (`wanted`) that `text[a:b]` uses: `stems(text[a:b]) & wanted` (a, b >= 0)."""
        if a < 0 or b < 0:
            raise ValueError(f"a stretch of an article starts and ends at 0 or after, not {a}..{b}")
        words, b = self.words, min(b, len(self.text))
        starts, ends = words.starts, words.ends
        first, last = bisect_left(starts, a), bisect_right(ends, b)  # words wholly inside: [first, last)
        if not words.aligned or first >= last or (starts[first] > a and words.joined[first]):
            return stems(self.text[a:b]) & self.wanted
        found = stems(self.text[a:starts[first]]) if starts[first] > a else set()
        if ends[last - 1] < b:
            found |= stems(self.text[ends[last - 1]:b])
        found &= self.wanted
        for stem, indices in self.where.items():
            if stem not in found:
                at = bisect_left(indices, first)
                if at < len(indices) and indices[at] < last:
                    found.add(stem)
        return found


class StoryEvidence:
    """The story evidence of one question's candidates (`with_story_evidence`), kept between calls:
    the pipeline asks it of the first passages' candidates (for the calibrated stop) and again of all
    the candidates read, and each article, and each candidate's own features, are worked out once.

    `article(document_id)` gives the (title, text) of the article a candidate comes from, or None
    when it is gone (its candidates then keep the neutral 1.0, and `detail` 0.5)."""

    def __init__(self, question: str, article: Callable[[str], tuple[str, str] | None],
                 table: Rarity | None = None) -> None:
        self.table = table or rarity()
        self.weights = story_weights(question, self.table)
        self.asked = set(self.weights)
        self.article = article
        self.texts: dict[str, _Article | None] = {}  # document id -> what is read of its article
        self.shares: dict[str, float] = {}  # document id -> its story_article
        self.answers: dict[str, dict[str, float]] = {}  # an answer's text -> its stems' weights (texts repeat)
        self.own: dict[tuple[str, int, int, str], dict[str, float]] = {}  # a span -> its features but story_best

    def __call__(self, candidates: list[SpanCandidate]) -> list[SpanCandidate]:
        """`candidates` with `story_article`, `story_near`, `story_best`, `echo` and `detail` filled in,
        same order; `story_best` is the best `story_article` among these candidates' articles."""
        for candidate in candidates:
            if candidate.document_id not in self.texts:
                found = self.article(candidate.document_id)
                self.texts[candidate.document_id] = read = None if found is None else _Article(*found, self.weights)
                if read is not None:
                    self.shares[candidate.document_id] = named_share(self.weights, read.stems)
        best = max((self.shares[c.document_id] for c in candidates if c.document_id in self.shares), default=1.0)
        return [replace(candidate, story_best=best, **self._own(candidate)) for candidate in candidates]

    def _own(self, candidate: SpanCandidate) -> dict[str, float]:
        key = (candidate.document_id, candidate.start, candidate.end, candidate.text)
        if key in self.own:
            return self.own[key]
        if candidate.text not in self.answers:
            self.answers[candidate.text] = story_weights(candidate.text, self.table)
        said = self.answers[candidate.text]
        features = {"echo": named_share(said, self.asked) if said else 0.0}
        read = self.texts[candidate.document_id]
        if read is not None:
            near = read.found_between(max(0, candidate.start - NEAR_BEFORE), candidate.end + NEAR_AFTER)
            sentence = read.found_between(*read.sentence(candidate.start, candidate.end)) - set(said)
            features.update(story_article=self.shares[candidate.document_id],
                            story_near=named_share(self.weights, near),
                            detail=named_share(read.detail, sentence) if read.detail else DETAIL_UNKNOWN)
        self.own[key] = features
        return features


def with_story_evidence(question: str, candidates: list[SpanCandidate],
                        article: Callable[[str], tuple[str, str] | None],
                        table: Rarity | None = None) -> list[SpanCandidate]:
    """`candidates` with `story_article`, `story_near`, `story_best`, `echo` and `detail` filled in,
    same order (`StoryEvidence`, once). Each article is read once."""
    return StoryEvidence(question, article, table)(candidates)
