"""The rules of `Assistant.ask`, with a fake reader whose candidates and calibrated
probabilities each test chooses, over a tiny real folder store (no model is loaded)."""

from __future__ import annotations

import time

import pytest

from qa.config import Settings
from qa.pipeline import ALTERNATIVE_FLOOR, GUESS_FLOOR, NO_MATCH, Assistant, DeadlineExceeded
from qa.stores.base import IndexLoadError
from qa.types import Filters
from tests.unit.conftest import BUDGET, HARBOUR, NEW, OLD, REPORT
from tests.unit.fakes import FakeReader, span


def ask(index, candidates, threshold=0.5, question="Who is the head coach?", assistant_options=None, **options):
    reader = FakeReader(candidates, threshold=threshold)
    assistant = Assistant(index, reader, **(assistant_options or {}))
    return assistant.ask(question, **options), reader


def shown(result):
    """(text, article, score, confident) of each answer, in order."""
    return [(a.text, a.document_id, a.score, a.confident) for a in result.answers]


# -- de-duplication -----------------------------------------------------------------------------
def test_the_same_answer_from_overlapping_windows_and_articles_is_kept_once(tiny_index):
    anna = span(NEW, "Anna Berg", 0.9)
    anna_again = span(NEW, "Anna Berg", 0.8)  # the same span read in an overlapping chunk
    anna_longer = span(NEW, "Anna Berg as head coach", 0.7)  # overlaps it in the same article
    hale = span(NEW, "Tom Hale", 0.65)
    hale_elsewhere = span(OLD, "Tom Hale", 0.6)  # the same text in another article
    result, _ = ask(tiny_index, [anna_again, hale_elsewhere, anna_longer, anna, hale])
    assert shown(result) == [("Anna Berg", "coach-2024", 0.9, True), ("Tom Hale", "coach-2024", 0.65, True)]
    assert result.candidates == [(anna, 0.9), (hale, 0.65)]  # the best of each, best first
    assert not result.several_articles


def test_answers_with_no_normalized_text_are_told_apart_by_offsets_only(tiny_index):
    # "The" normalizes to "" (SQuAD drops articles): equal empty texts do not merge them, overlap does.
    result, _ = ask(tiny_index, [span(NEW, "The", 0.7), span(BUDGET, "The", 0.6), span(BUDGET, "The council", 0.55)])
    assert shown(result) == [("The", "coach-2024", 0.7, True), ("The", "budget", 0.6, True)]


def test_an_answer_whose_words_lie_within_a_better_one_is_the_same_answer(tiny_index):
    """"Tom Hale" below "Tom Hale was appointed" tells the same answer again, from any article."""
    from qa.pipeline import words_within

    candidates = [span(NEW, "Anna Berg", 0.9), span(OLD, "Tom Hale was appointed", 0.8), span(NEW, "Tom Hale", 0.7),
                  span(BUDGET, "nine to eight", 0.6)]
    result, _ = ask(tiny_index, candidates)
    assert [a.text for a in result.answers] == ["Anna Berg", "Tom Hale was appointed", "nine to eight"]
    assert words_within("12", "12 people") and words_within("12 people", "12")  # either way round
    assert not words_within("1", "12 people") and not words_within("hal", "tom hale")  # whole words only


def test_answers_differing_only_in_case_and_punctuation_are_one(tiny_index):
    result, _ = ask(tiny_index, [span(NEW, "Tom Hale,", 0.8), span(OLD, "Tom Hale", 0.75)])
    assert shown(result) == [("Tom Hale,", "coach-2024", 0.8, True)]


# -- ranking, top_k, min_score --------------------------------------------------------------------
def test_answers_from_several_articles_are_ordered_by_score(tiny_index):
    candidates = [span(REPORT, "Clara Voss", 0.55), span(OLD, "Tom Hale", 0.95), span(HARBOUR, "Friday morning", 0.7)]
    result, _ = ask(tiny_index, candidates)
    assert shown(result) == [("Tom Hale", "coach-2023", 0.95, True), ("Friday morning", "harbour", 0.7, True),
                             ("Clara Voss", "report", 0.55, True)]
    assert result.several_articles and not result.no_answer


def test_a_ranking_chooses_the_first_answer_and_no_answer_below_is_shown_likelier(tiny_index):
    """With a calibration that has a ranking, candidates are ordered by it, not by their probability,
    and an answer ranked lower shows at most the probability of the one above it."""
    from dataclasses import replace as with_fields

    from qa.reader import Calibration

    sure_shape = with_fields(span(NEW, "Anna Berg", 0.0, span_score=1.0), type_fit=1.0)  # margin 1: p 0.7311
    larger = with_fields(span(OLD, "Tom Hale", 0.0, span_score=2.0), type_fit=0.0)  # margin 2: p 0.8808
    reader = FakeReader([larger, sure_shape], threshold=0.5)
    reader.calibration = Calibration({"margin": 1.0}, threshold=0.5, ranking={"type_fit": 3.0, "margin": 1.0})
    result = Assistant(tiny_index, reader).ask("Who is the head coach?")
    assert shown(result) == [("Anna Berg", "coach-2024", 0.7311, True), ("Tom Hale", "coach-2023", 0.7311, True)]
    assert reader.calibration.probability(larger) == pytest.approx(0.8808, abs=1e-4)  # capped, not recomputed


def test_scores_are_rounded_to_four_digits(tiny_index):
    result, _ = ask(tiny_index, [span(NEW, "Anna Berg", 0.123456)], threshold=0.1)
    assert result.answers[0].score == 0.1235
    assert result.candidates[0][1] == 0.123456  # the candidates keep the exact probability


def test_top_k_caps_the_answers_not_the_candidates(tiny_index):
    candidates = [span(NEW, "Anna Berg", 0.9), span(OLD, "Tom Hale", 0.8), span(BUDGET, "Tuesday", 0.7),
                  span(HARBOUR, "Friday", 0.6)]
    result, _ = ask(tiny_index, candidates, top_k=2)
    assert [a.text for a in result.answers] == ["Anna Berg", "Tom Hale"]
    assert len(result.candidates) == 4


def test_the_reader_gets_enough_passages_for_top_k(tiny_index):
    _, reader = ask(tiny_index, [], top_k=4, assistant_options={"passages_to_read": 2})
    assert len(reader.calls[0]["passages"]) == 4  # max(passages_to_read, top_k)
    _, reader = ask(tiny_index, [], top_k=1, assistant_options={"passages_to_read": 2})
    assert len(reader.calls[0]["passages"]) == 2


def test_min_score_drops_answers_under_it(tiny_index):
    candidates = [span(NEW, "Anna Berg", 0.9), span(OLD, "Tom Hale", 0.7), span(BUDGET, "Tuesday", 0.6)]
    result, _ = ask(tiny_index, candidates, min_score=0.65)
    assert [a.score for a in result.answers] == [0.9, 0.7]
    result, _ = ask(tiny_index, candidates, min_score=0.9)  # inclusive
    assert [a.score for a in result.answers] == [0.9]


def test_min_score_also_cuts_hedged_guesses(tiny_index):
    candidates = [span(NEW, "Anna Berg", 0.5), span(OLD, "Tom Hale", 0.3)]
    result, _ = ask(tiny_index, candidates, threshold=0.95, min_score=0.4)
    assert shown(result) == [("Anna Berg", "coach-2024", 0.5, False)]
    assert result.no_answer


# -- the no-answer threshold ---------------------------------------------------------------------
def test_an_answer_at_the_threshold_is_confident_and_a_less_likely_one_is_shown_not_confident(tiny_index):
    result, _ = ask(tiny_index, [span(NEW, "Anna Berg", 0.5), span(OLD, "Tom Hale", 0.45)], threshold=0.5)
    assert shown(result) == [("Anna Berg", "coach-2024", 0.5, True), ("Tom Hale", "coach-2023", 0.45, False)]
    assert not result.no_answer and result.several_articles  # the other article's answer is not hidden


def test_below_a_confident_answer_only_alternatives_of_at_least_the_floor_are_shown(tiny_index):
    assert ALTERNATIVE_FLOOR == 0.2
    candidates = [span(NEW, "Anna Berg", 0.8), span(OLD, "Tom Hale", 0.2), span(BUDGET, "Tuesday", 0.1999)]
    result, _ = ask(tiny_index, candidates)
    assert shown(result) == [("Anna Berg", "coach-2024", 0.8, True), ("Tom Hale", "coach-2023", 0.2, False)]
    result, _ = ask(tiny_index, candidates, min_score=0.5)  # min_score cuts the alternatives too
    assert shown(result) == [("Anna Berg", "coach-2024", 0.8, True)]
    # A threshold under the floor: every confident answer is shown, and nothing under it.
    low = [span(NEW, "Anna Berg", 0.3), span(OLD, "Tom Hale", 0.15), span(BUDGET, "Tuesday", 0.05)]
    result, _ = ask(tiny_index, low, threshold=0.1)
    assert shown(result) == [("Anna Berg", "coach-2024", 0.3, True), ("Tom Hale", "coach-2023", 0.15, True)]
    # A threshold of 0: nothing under the guess floor is shown all the same.
    result, _ = ask(tiny_index, [span(NEW, "Anna Berg", 0.3), span(OLD, "Tom Hale", 0.0099)], threshold=0.0)
    assert shown(result) == [("Anna Berg", "coach-2024", 0.3, True)]


def test_answers_below_the_first_take_the_alternatives_calibration_capped_at_the_one_above(tiny_index):
    """The first answer's probability comes from the calibration's weights; the others' from its
    alternatives (their own features and the first answer's log odds), never above the one before."""
    import math

    from qa.reader import Calibration

    first, second, third = (span(doc, text, 0.0, span_score=score) for doc, text, score in
                            ((NEW, "Anna Berg", 2.0), (OLD, "Tom Hale", 1.5), (BUDGET, "Tuesday", 1.0)))
    reader = FakeReader([third, first, second], threshold=0.5)
    reader.calibration = Calibration({"margin": 1.0}, threshold=0.5, alternatives={"margin": 2.0},
                                     alternatives_bias=-1.0, alternatives_first=-0.5)
    result = Assistant(tiny_index, reader).ask("Who is the head coach?")
    p_first = 1 / (1 + math.exp(-2.0))  # 0.8808
    p_second = 1 / (1 + math.exp(-(-1.0 - 0.5 * math.log(p_first / (1 - p_first)) + 2.0 * 1.5)))  # 0.7311
    p_third = 1 / (1 + math.exp(-(-1.0 - 0.5 * 2.0 + 2.0 * 1.0)))  # 0.5
    assert [c.text for c, _ in result.candidates] == ["Anna Berg", "Tom Hale", "Tuesday"]
    assert [p for _, p in result.candidates] == pytest.approx([p_first, p_second, p_third])
    assert reader.calibration.probability(second) == pytest.approx(0.8176, abs=1e-4)  # as a first answer
    capped = Calibration({"margin": 1.0}, alternatives={"margin": 5.0})  # would show the second as likelier
    reader.calibration = capped
    result = Assistant(tiny_index, reader).ask("Who is the head coach?")
    assert result.candidates[1][1] == pytest.approx(p_first)  # capped at the first


def test_below_the_threshold_the_best_guesses_come_back_hedged(tiny_index):
    result, _ = ask(tiny_index, [span(NEW, "Anna Berg", 0.4999), span(OLD, "Tom Hale", 0.45)], threshold=0.5)
    assert result.no_answer
    assert shown(result) == [("Anna Berg", "coach-2024", 0.4999, False), ("Tom Hale", "coach-2023", 0.45, False)]
    assert [c for _, c in result.candidates] == [0.4999, 0.45]


def test_guesses_under_the_guess_floor_are_not_shown(tiny_index):
    assert GUESS_FLOOR == 0.01
    candidates = [span(NEW, "Anna Berg", 0.3), span(OLD, "Tom Hale", 0.01), span(BUDGET, "Tuesday", 0.0099)]
    for min_score in (0.0, 0.001):  # a min_score under the floor does not lower it
        result, _ = ask(tiny_index, candidates, min_score=min_score)
        assert [(a.text, a.score) for a in result.answers] == [("Anna Berg", 0.3), ("Tom Hale", 0.01)]
        assert result.no_answer and len(result.candidates) == 3


def test_nothing_read_is_no_answer_with_the_passages_still_reported(tiny_index):
    result, _ = ask(tiny_index, [])
    assert result.no_answer and result.answers == [] and result.candidates == []
    assert result.message is None and len(result.passages) == 5


def test_the_threshold_comes_from_the_reader_unless_given(tiny_index):
    assert Assistant(tiny_index, FakeReader(threshold=0.37)).threshold == 0.37
    assert Assistant(tiny_index, FakeReader(threshold=0.37), threshold=0.8).threshold == 0.8


def test_from_settings_takes_the_settings_and_overrides_win(tiny_index):
    settings = Settings(passages_to_read=4, first_read=1, first_read_enough=0.3, no_answer_threshold=0.7)
    assistant = Assistant.from_settings(tiny_index, FakeReader(threshold=0.37), settings, first_read=2)
    assert (assistant.passages_to_read, assistant.first_read, assistant.first_read_enough, assistant.threshold) == (
        4, 2, 0.3, 0.7)


# -- reading in two steps ------------------------------------------------------------------------
def test_the_reader_is_asked_to_read_the_first_passages_first(tiny_index):
    reader = FakeReader([span(NEW, "Anna Berg", 0.9)], passages_read=2)
    assistant = Assistant(tiny_index, reader, passages_to_read=5, first_read=2, first_read_enough=0.25)
    result = assistant.ask("  Who   is the\thead coach? ")
    assert result.question == "Who is the head coach?"
    call = reader.calls[0]
    assert (call["question"], call["first"], call["enough"]) == ("Who is the head coach?", 2, 0.25)
    assert call["passages"] == result.passages and len(result.passages) == 5
    assert result.passages_read == 2  # what the reader read, reported as is


@pytest.mark.parametrize("probabilities, enough", [([0.62], True), ([0.58], False), ([0.58, 0.61], True),
                                                    ([], False)])
def test_the_first_passages_are_settled_by_the_calibrated_probability_of_the_answer_shown_first(
        tiny_index, probabilities, enough):
    reader = FakeReader([span(NEW, "Anna Berg", 0.9)])
    Assistant(tiny_index, reader, passages_to_read=5, first_read=2, first_read_confident=0.6).ask("Who is the coach?")
    settled = reader.calls[0]["settled"]
    names = ["Anna Berg", "Tom Hale"]
    assert settled([span(NEW if i == 0 else OLD, names[i], p) for i, p in enumerate(probabilities)]) is enough


@pytest.mark.parametrize("read_words", [0, 120])
def test_the_answer_that_settles_is_the_one_the_ranking_shows_first(tiny_index, read_words):
    # The calibration ranks by span score here, not by probability: "Tom Hale" (0.5) is shown first, so the
    # first passages are not enough at 0.6, though "Anna Berg" has 0.9. The same with windows read.
    reader = FakeReader([span(NEW, "Anna Berg", 0.9)])
    reader.calibration.rank_score = lambda candidate: candidate.span_score
    Assistant(tiny_index, reader, passages_to_read=5, first_read=2, first_read_confident=0.6,
              read_words=read_words).ask("Who is the coach?")
    settled = reader.calls[0]["settled"]
    assert settled([span(NEW, "Anna Berg", 0.9, span_score=0.0), span(OLD, "Tom Hale", 0.5, span_score=5.0)]) is False
    assert settled([span(NEW, "Anna Berg", 0.9, span_score=5.0), span(OLD, "Tom Hale", 0.5, span_score=0.0)]) is True


def test_at_first_read_confident_zero_the_reader_alone_decides(tiny_index):
    reader = FakeReader([span(NEW, "Anna Berg", 0.9)])
    Assistant(tiny_index, reader, passages_to_read=5, first_read=2, first_read_confident=0).ask("Who is the coach?")
    assert reader.calls[0]["settled"] is None
    Assistant(tiny_index, reader, passages_to_read=5, first_read=2).ask("Who is the coach?")  # the default: 0.8
    assert reader.calls[1]["settled"]([span(NEW, "Anna Berg", 0.8)]) is True  # at the threshold: enough
    assert reader.calls[1]["settled"]([span(NEW, "Anna Berg", 0.79)]) is False
    assistant = Assistant.from_settings(tiny_index, reader, Settings(first_read_confident=0.75))
    assert assistant.first_read_confident == 0.75


# -- recency ------------------------------------------------------------------------------------
@pytest.mark.parametrize("old_score, order", [(0.61, ["coach-2023", "coach-2024"]),
                                              (0.59, ["coach-2024", "coach-2023"])])
def test_recency_an_answer_a_half_life_older_needs_twice_the_score(tiny_index, old_score, order):
    # OLD is 365 days older than NEW, the archive's newest article: its weight is halved.
    candidates = [span(OLD, "Tom Hale", old_score), span(NEW, "Anna Berg", 0.3)]
    result, _ = ask(tiny_index, candidates, threshold=0.2, recency_half_life_days=365)
    assert [a.document_id for a in result.answers] == order
    assert sorted(a.score for a in result.answers) == [0.3, old_score]  # scores are unchanged
    plain, _ = ask(tiny_index, candidates, threshold=0.2)
    assert [a.document_id for a in plain.answers] == ["coach-2023", "coach-2024"]


# -- the deadline -------------------------------------------------------------------------------
def test_a_passed_deadline_stops_before_retrieval(tiny_index):
    reader = FakeReader([span(NEW, "Anna Berg", 0.9)])
    with pytest.raises(DeadlineExceeded, match=r"\(before retrieval\)"):
        Assistant(tiny_index, reader).ask("Who is the coach?", deadline=time.monotonic() - 1)
    assert reader.calls == []


class SlowIndex:
    """The tiny index, with a search that takes `delay` seconds."""

    def __init__(self, index, delay: float) -> None:
        self.index, self.delay = index, delay

    def search(self, *args, **kwargs):
        time.sleep(self.delay)
        return self.index.search(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.index, name)


def test_a_deadline_passed_during_retrieval_stops_before_reading(tiny_index):
    reader = FakeReader([span(NEW, "Anna Berg", 0.9)])
    with pytest.raises(DeadlineExceeded, match=r"\(after retrieval\)"):
        Assistant(SlowIndex(tiny_index, 0.2), reader).ask("Who is the coach?", deadline=time.monotonic() + 0.1)
    assert reader.calls == []


def test_a_deadline_passed_during_reading_stops_after_it(tiny_index):
    reader = FakeReader([span(NEW, "Anna Berg", 0.9)], delay=0.2)
    with pytest.raises(DeadlineExceeded, match=r"\(after reading\)"):
        Assistant(tiny_index, reader).ask("Who is the coach?", deadline=time.monotonic() + 0.1)
    assert len(reader.calls) == 1


def test_a_deadline_not_reached_changes_nothing(tiny_index):
    result, _ = ask(tiny_index, [span(NEW, "Anna Berg", 0.9)], deadline=time.monotonic() + 60)
    assert shown(result) == [("Anna Berg", "coach-2024", 0.9, True)]


def test_no_index_is_an_index_load_error():
    with pytest.raises(IndexLoadError, match="no index is loaded"):
        Assistant(None, FakeReader()).ask("Who is the coach?")


def test_an_index_given_to_ask_is_used_instead_of_the_assistants(tiny_index):
    reader = FakeReader([span(NEW, "Anna Berg", 0.9)])
    result = Assistant(None, reader).ask("Who is the coach?", index=tiny_index)
    assert shown(result) == [("Anna Berg", "coach-2024", 0.9, True)]


# -- filters ------------------------------------------------------------------------------------
@pytest.mark.parametrize("filters", [Filters(sources=("Nobody",)), Filters(date_from="2030-01-01"),
                                     Filters(sections=("sport",), sources=("Gazette",))])
def test_filters_that_match_no_article_say_so_without_reading(tiny_index, filters):
    result, reader = ask(tiny_index, [span(NEW, "Anna Berg", 0.9)], filters=filters)
    assert result.message == NO_MATCH
    assert result.no_answer and result.answers == [] and result.passages == [] and result.candidates == []
    assert result.passages_read == 0 and reader.calls == []


def test_filters_restrict_the_passages_read(tiny_index):
    # From 2024-01-01 on: NEW, HARBOUR, and REPORT (published "2024-01", counted as its first day).
    result, reader = ask(tiny_index, [], filters=Filters(date_from="2024-01-01"))
    assert result.message is None
    assert sorted(p.document_id for p in reader.calls[0]["passages"]) == ["coach-2024", "harbour", "report"]


# -- citations ----------------------------------------------------------------------------------
def test_an_answer_cites_its_sentence_page_and_article(tiny_index):
    result, _ = ask(tiny_index, [span(REPORT, "Clara Voss", 0.9), span(NEW, "Tom Hale", 0.8)])
    voss, hale = result.answers
    assert (voss.start, voss.end) == (52, 62)
    assert (voss.context, voss.context_start) == ("Page two names the auditor, Clara Voss, who signed the accounts.", 24)
    assert voss.page == 2
    assert (voss.title, voss.published, voss.source, voss.section, voss.url, voss.author) == (
        "Annual report", "2024-01", "Gazette", "business", None, None)
    assert (hale.context, hale.context_start, hale.page) == ("She replaces Tom Hale, who left in May.", 50, None)
    for answer in result.answers:
        text = tiny_index.document(answer.document_id).text
        assert text[answer.start:answer.end] == answer.text
        assert text[answer.context_start:answer.context_start + len(answer.context)] == answer.context


def test_the_result_as_json(tiny_index):
    result, _ = ask(tiny_index, [span(NEW, "Anna Berg", 0.9)], top_k=1)
    data = result.to_dict()
    assert list(data) == ["question", "answers", "passages", "no_answer", "message", "took_ms", "passages_read",
                          "articles_disagree"]
    assert data["answers"][0]["text"] == "Anna Berg" and data["passages_read"] == 5
    assert list(data["answers"][0]["supporting"]) == [] and data["answers"][0]["agreeing_articles"] == 1
    assert data["articles_disagree"] is False
    assert set(data["passages"][0]) == {"document_id", "title", "start", "end", "text", "score"}


# -- answers grouped by story ------------------------------------------------------------------
def test_articles_that_give_the_same_answer_are_cited_as_support(tiny_index):
    hale_new = span(NEW, "Tom Hale", 0.8, span_score=5.0)
    hale_old = span(OLD, "Tom Hale", 0.6, span_score=4.0)  # the same answer, another article
    hale_old_weaker = span(OLD, "Tom Hale", 0.5, occurrence=0, span_score=1.0)  # that article again: cited once
    anna = span(NEW, "Anna Berg", 0.55, span_score=3.0)
    result, _ = ask(tiny_index, [hale_new, hale_old, hale_old_weaker, anna])
    best = result.answers[0]
    assert (best.text, best.document_id, best.agreeing_articles) == ("Tom Hale", "coach-2024", 2)
    assert [(s.document_id, s.start, s.end, s.text, s.published, s.title) for s in best.supporting] == [
        ("coach-2023", 0, 8, "Tom Hale", "2023-06-02", "Hale appointed")]
    assert OLD.text[best.supporting[0].start:best.supporting[0].end] == best.supporting[0].text
    assert result.answers[1].supporting == () and result.answers[1].agreeing_articles == 1
    assert not result.several_articles  # both answers from the same article: no disagreement


def test_disagreeing_articles_are_flagged_and_shown_newest_first(tiny_index):
    from qa.pipeline import newest_first

    candidates = [span(OLD, "Tom Hale", 0.9), span(BUDGET, "nine to eight", 0.8), span(NEW, "Anna Berg", 0.7),
                  span(REPORT, "Clara Voss", 0.6)]
    result, _ = ask(tiny_index, candidates, top_k=4)
    assert result.several_articles and result.to_dict()["articles_disagree"] is True
    assert [a.document_id for a in result.answers] == ["coach-2023", "budget", "coach-2024", "report"]  # by score
    # Dated newest first (2024-06-01, "2024-01", 2023-06-02), then the undated one.
    assert [a.document_id for a in newest_first(result.answers)] == ["coach-2024", "report", "coach-2023", "budget"]
    # The confident ones first, then the less likely ones, each newest first (older first as ranked).
    candidates = [span(OLD, "Tom Hale", 0.9), span(NEW, "Anna Berg", 0.8), span(BUDGET, "nine to eight", 0.3),
                  span(REPORT, "Clara Voss", 0.25)]
    result, _ = ask(tiny_index, candidates, top_k=4)
    assert [(a.document_id, a.confident) for a in result.answers] == [
        ("coach-2023", True), ("coach-2024", True), ("budget", False), ("report", False)]
    assert [a.document_id for a in newest_first(result.answers)] == ["coach-2024", "coach-2023", "report", "budget"]
    # "Newer first" asked for: all by date, each still marked as it is.
    assert [a.document_id for a in newest_first(result.answers, confident_first=False)] == [
        "coach-2024", "report", "coach-2023", "budget"]
