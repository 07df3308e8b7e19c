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

Plain Python and regular expressions on purpose: the question words and answer shapes are a
closed, small set, and a tagger model would cost more than the whole reader call.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING

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
