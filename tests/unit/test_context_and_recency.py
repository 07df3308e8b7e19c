"""The citation context (`sentence_around`) and the recency order (`by_recency`) of the pipeline."""

from __future__ import annotations

import pytest

from qa.pipeline import CONTEXT_MARGIN, by_recency, sentence_around
from qa.types import Answer, ArchiveStats


# -- sentence_around ----------------------------------------------------------------------------
def test_the_sentence_holding_the_answer():
    text = "First one. The answer is here. Last one."
    start = text.index("answer")
    assert sentence_around(text, start, start + 6) == ("The answer is here.", 11)


def test_an_answer_across_two_sentences_gets_both():
    text = "First one. The answer is here. Last one."
    assert sentence_around(text, text.index("here"), text.index("Last") + 4) == ("The answer is here. Last one.", 11)


def test_a_line_without_final_punctuation_is_its_own_sentence():
    text = "Headline\nThe answer is here."
    start = text.index("answer")
    assert sentence_around(text, start, start + 6) == ("The answer is here.", 9)


def test_a_span_in_no_sentence_is_its_own_context():
    assert sentence_around("One.  Two.", 4, 6) == ("  ", 4)


def test_a_sentence_longer_than_the_margin_is_cut_at_the_margin():
    # "Start. " then one sentence of 300 + 300 words around ANSWER: the search margin (800
    # characters each side) ends inside it, on word starts, so the context is exactly the margin.
    assert CONTEXT_MARGIN == 800
    text = "Start. " + "word " * 300 + "ANSWER" + " word" * 300 + "."
    start = text.index("ANSWER")
    assert start == 1507
    context, context_start = sentence_around(text, start, start + 6)
    assert context_start == 707 and context == text[707:2313]


# -- by_recency ---------------------------------------------------------------------------------
def answer(name: str, score: float, published: str | None) -> Answer:
    return Answer(text=name, score=score, document_id=name, title=name, start=0, end=len(name), context=name,
                  context_start=0, published=published)


def stats(first_date: str | None, last_date: str | None) -> ArchiveStats:
    return ArchiveStats(documents=2, chunks=2, sections={}, sources={}, first_date=first_date, last_date=last_date,
                        undated=0)


def order(answers, half_life, archive) -> list[str]:
    return [a.text for a in by_recency(answers, half_life, archive)]


@pytest.mark.parametrize("old_score, expected", [(0.61, ["old", "new"]), (0.59, ["new", "old"])])
def test_an_answer_one_half_life_older_needs_twice_the_score(old_score, expected):
    archive = stats("2023-06-02", "2024-06-01")  # 365 days apart (2024 is a leap year)
    answers = [answer("new", 0.3, "2024-06-01"), answer("old", old_score, "2023-06-02")]
    assert order(answers, 365, archive) == expected


@pytest.mark.parametrize("published, half_life", [("2024", 152), ("2024-05", 31)])
def test_a_bare_year_or_month_counts_as_its_first_day(published, half_life):
    # 2024-01-01 is 152 days before 2024-06-01, 2024-05-01 31 days: a weight of score / 2.
    archive = stats("2020-01-01", "2024-06-01")
    assert order([answer("coarse", 0.5, published), answer("dated", 0.26, "2024-06-01")], half_life,
                 archive) == ["dated", "coarse"]
    assert order([answer("coarse", 0.5, published), answer("dated", 0.24, "2024-06-01")], half_life,
                 archive) == ["coarse", "dated"]


@pytest.mark.parametrize("published", [None, "", "some day"])
@pytest.mark.parametrize("score, expected", [(0.61, ["undated", "new"]), (0.59, ["new", "undated"])])
def test_an_undated_or_unreadable_date_counts_as_the_oldest_article(published, score, expected):
    archive = stats("2023-06-02", "2024-06-01")
    answers = [answer("new", 0.3, "2024-06-01"), answer("undated", score, published)]
    assert order(answers, 365, archive) == expected


def test_a_date_after_the_newest_article_gets_no_bonus():
    archive = stats("2023-06-02", "2024-06-01")
    answers = [answer("future", 0.4, "2025-06-01"), answer("new", 0.5, "2024-06-01")]
    assert order(answers, 365, archive) == ["new", "future"]


def test_a_date_time_counts_as_its_day():
    archive = stats("2023-06-02", "2024-06-01")
    answers = [answer("old", 0.61, "2023-06-02T23:59:00+00:00"), answer("new", 0.3, "2024-06-01T00:00:00Z")]
    assert order(answers, 365, archive) == ["old", "new"]


def test_an_archive_without_dates_keeps_the_order():
    answers = [answer("b", 0.2, "2024-06-01"), answer("a", 0.9, None)]
    assert by_recency(answers, 365, stats(None, None)) == answers


def test_scores_are_not_changed():
    archive = stats("2023-06-02", "2024-06-01")
    answers = [answer("old", 0.59, "2023-06-02"), answer("new", 0.3, "2024-06-01")]
    assert [(a.text, a.score) for a in by_recency(answers, 365, archive)] == [("new", 0.3), ("old", 0.59)]
