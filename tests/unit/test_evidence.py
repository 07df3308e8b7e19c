"""Evidence features for the calibration (qa.evidence), on hand-built candidates."""

import pytest

from qa.evidence import type_fit, with_evidence
from qa.reader import SpanCandidate
from qa.squad import normalize_answer


def candidate(document_id: str, text: str, answer_probability: float) -> SpanCandidate:
    return SpanCandidate(document_id=document_id, start=0, end=len(text), text=text, span_score=0.0, null_score=0.0,
                         passage_rank=0, passage_score=0.0, probability=answer_probability,
                         answer_probability=answer_probability, normalized=normalize_answer(text))


@pytest.mark.parametrize("question,answer,expected", [
    ("How many passengers were injured?", "23", 1.0),
    ("How many passengers were injured?", "twenty-three", 1.0),  # "three" is a number word
    ("How many passengers were injured?", "the pilots", 0.0),
    ("How many passengers were injured?", "three", 1.0),
    ("How many passengers were injured?", "the crew", 0.0),
    ("How much did the shares fall?", "5%", 1.0),
    ("When will the Security Council meet?", "Sunday", 1.0),
    ("When will the Security Council meet?", "3 p.m. ET Sunday", 1.0),
    ("When did the strike start?", "the union", 0.0),
    ("In what year was the firm founded?", "1998", 1.0),
    ("Who requested the meeting?", "the United States, Britain and France", 1.0),
    ("Who requested the meeting?", "the delegates", 0.0),
    ("Where did the flight depart from?", "Atlanta", 1.0),
    ("What did the minister announce?", "a review", 0.5),  # "what" says nothing about the shape
])
def test_type_fit(question: str, answer: str, expected: float) -> None:
    assert type_fit(question, answer) == expected


def test_agreement_rival_and_length() -> None:
    candidates = [
        candidate("a", "Ban Ki-moon", 0.5),
        candidate("b", "Ban Ki-moon", 0.5),  # the same answer from a second article
        candidate("c", "Ban Ki-moon.", 0.5),  # normalizes to the same text: a third article
        candidate("a", "Kofi Annan", 0.3),  # a rival, but only from article a
        candidate("d", "Javier Solana", 0.1),  # a rival from another article
    ]
    out = with_evidence("Who is the secretary general?", candidates)
    assert [c.articles for c in out] == [3, 3, 3, 1, 1]
    # Ban's best rival from another article: Kofi Annan counts for b and c (a gives it), not for a.
    assert [c.other_probability for c in out] == [0.1, 0.3, 0.3, 0.5, 0.5]
    assert [c.words for c in out] == [2, 2, 2, 2, 2]
    assert [c.type_fit for c in out] == [1.0] * 5
    assert [c.text for c in out] == [c.text for c in candidates]  # same order, same spans


def test_no_rival_in_a_one_article_archive() -> None:
    out = with_evidence("How many were hurt?", [candidate("a", "23", 0.6), candidate("a", "24 people", 0.2)])
    assert [c.other_probability for c in out] == [0.0, 0.0]
    assert [c.articles for c in out] == [1, 1]
    assert [c.words for c in out] == [1, 2]
