"""The reader's rules that need no model: span choice on hand-made logits, the shared
normalization across windows, reading in two steps, and the calibration."""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import replace

import numpy as np
import pytest

from qa.reader import (
    CALIBRATION_FILE,
    WEIGHTS_FILE,
    Calibration,
    ExtractiveReader,
    ReaderModelError,
    SharedNormalizer,
    SpanCandidate,
    _Windows,
)
from qa.types import Passage


class BareReader(ExtractiveReader):
    """`ExtractiveReader` without a model: `_forward` returns the windows a test made, by offset."""

    def __init__(self, windows: dict[int, _Windows] | None = None, max_answer_tokens: int = 30,
                 spans_per_window: int = 8) -> None:
        self.max_answer_tokens, self.spans_per_window = max_answer_tokens, spans_per_window
        self.windows = windows or {}
        self.forwarded: list[tuple[int, list[str]]] = []

    def _forward(self, question, passages, offset) -> _Windows:
        self.forwarded.append((offset, [p.document_id for p in passages]))
        return self.windows[offset]


def logits(*rows) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


# -- best_spans ---------------------------------------------------------------------------------
def test_spans_are_in_the_context_with_end_not_before_start():
    # [CLS] (9 + 9) is not context; (3, 2) would score 8 but ends before it starts.
    start, end = np.array([9, 1.5, 3, 6]), np.array([9, 0, 2, 1])
    context = np.array([False, True, True, True])
    spans = BareReader(max_answer_tokens=2, spans_per_window=3).best_spans(start, end, context)
    assert spans == [(3, 3, 7.0), (2, 2, 5.0), (2, 3, 4.0)]


@pytest.mark.parametrize("max_tokens, expected", [(2, [(2, 3, 7.0), (2, 2, 5.0), (3, 3, 4.0)]),
                                                  (3, [(2, 3, 7.0), (1, 3, 5.5), (2, 2, 5.0)])])
def test_spans_are_at_most_max_answer_tokens_long(max_tokens, expected):
    start, end = np.array([0, 1.5, 3, 0]), np.array([0, 0, 2, 4])
    context = np.array([False, True, True, True])
    assert BareReader(max_answer_tokens=max_tokens, spans_per_window=3).best_spans(start, end, context) == expected


def test_a_window_with_one_context_token_has_one_span_and_one_without_none():
    start, end = np.array([0, 1.5, 3, 0]), np.array([0, 0, 2, 4])
    reader = BareReader(max_answer_tokens=30, spans_per_window=3)
    assert reader.best_spans(start, end, np.array([False, True, False, False])) == [(1, 1, 1.5)]
    assert reader.best_spans(start, end, np.zeros(4, dtype=bool)) == []


# -- SharedNormalizer ---------------------------------------------------------------------------
def test_the_shared_no_answer_is_the_window_surest_it_holds_an_answer():
    # Window A: [CLS] 1 + 1, context tokens 0, 0. Window B: [CLS] -1 + -1, one context token 0
    # (its last token, 7, is outside the context). B's no-answer (-2) is shared, and the
    # normalizer sums exp over every context token and that one [CLS]: 3 + e^-1 for each end.
    start = logits([1, 0, 0, 0], [-1, 0, 0, 7])
    mask = np.array([[False, True, True, False], [False, True, False, False]])
    shared = SharedNormalizer.fit(start, start.copy(), mask)
    assert shared.null_score == -2.0
    assert shared.log_z_start == pytest.approx(math.log(3 + math.exp(-1)), abs=1e-6)  # 1.214283
    assert shared.log_z_end == pytest.approx(1.214283, abs=1e-6)
    assert shared.probability(0.0) == pytest.approx(0.088163, abs=1e-6)  # 1 / (3 + e^-1)^2
    assert shared.no_answer_probability == pytest.approx(0.011932, abs=1e-6)  # e^-2 / (3 + e^-1)^2
    assert shared.probability(10.0) == 1.0  # capped


def test_windows_of_several_passes_normalize_as_one():
    a_start, b_start = logits([1, 0, 0]), logits([-1, 0, 0, 7])
    a_mask, b_mask = np.array([[False, True, True]]), np.array([[False, True, False, False]])
    batches = SharedNormalizer.fit_batches([(a_start, a_start, a_mask), (b_start, b_start, b_mask)])
    padded = logits([1, 0, 0, -5], [-1, 0, 0, 7])
    together = SharedNormalizer.fit(padded, padded, np.concatenate([np.pad(a_mask, ((0, 0), (0, 1))), b_mask]))
    assert batches.log_z_start == pytest.approx(together.log_z_start, abs=1e-6)
    assert batches.null_score == together.null_score == -2.0


# -- reading in two steps -----------------------------------------------------------------------
def passage(i: int) -> Passage:
    return Passage(chunk_id=i, document_id=f"d{i}", title=f"t{i}", start=0, end=20, text="Anna Berg, Tom Hale.",
                   score=1.0 - i / 10)


def candidate(document_id: str, text: str, span_score: float, rank: int) -> SpanCandidate:
    return SpanCandidate(document_id=document_id, start=0, end=len(text), text=text, span_score=span_score,
                         null_score=0.0, passage_rank=rank, passage_score=1.0, normalized=text.lower())


# One window per pass, start and end logits [CLS] 0, then context tokens 2 and 0 / 0 and 2.
FIRST = _Windows(logits([0, 2, 0]), logits([0, 0, 2]), np.array([[False, True, True]]),
                 [candidate("d0", "Anna Berg", 4.0, 0)])
REST = _Windows(logits([0, 2, 0]), logits([0, 0, 2]), np.array([[False, True, True]]),
                [candidate("d1", "Tom Hale", 2.0, 1), candidate("d2", "Anna Berg", 4.0, 2)])


def test_the_first_passages_are_enough_when_an_answer_reaches_enough():
    # Alone, the first window gives "Anna Berg" e^4 / (e^2 + 2)^2 = 0.619347.
    reader = BareReader({0: FIRST, 1: REST})
    reading = reader.read_first("q", [passage(0), passage(1), passage(2)], first=1, enough=0.6)
    assert reader.forwarded == [(0, ["d0"])]
    assert reading.passages_read == 1
    [anna] = reading.candidates
    assert anna.probability == pytest.approx(0.619347, abs=1e-6)
    assert anna.answer_probability == anna.probability
    assert anna.no_answer_probability == pytest.approx(0.011344, abs=1e-6)  # 1 / (e^2 + 2)^2


def test_the_rest_is_read_when_the_first_passages_are_not_enough():
    # Over both windows each end normalizes over 2 e^2 + 3 = 17.778112: P(4) = 0.172745,
    # P(2) = 0.023379, and the two "Anna Berg" spans add up to 0.345491.
    reader = BareReader({0: FIRST, 1: REST})
    reading = reader.read_first("q", [passage(0), passage(1), passage(2)], first=1, enough=0.7)
    assert reader.forwarded == [(0, ["d0"]), (1, ["d1", "d2"])]
    assert reading.passages_read == 3
    assert [(c.document_id, c.span_score) for c in reading.candidates] == [("d0", 4.0), ("d2", 4.0), ("d1", 2.0)]
    anna, anna_again, hale = reading.candidates
    assert anna.probability == pytest.approx(0.172745, abs=1e-6)
    assert hale.probability == pytest.approx(0.023379, abs=1e-6)
    assert anna.answer_probability == anna_again.answer_probability == pytest.approx(0.345491, abs=1e-6)
    assert hale.answer_probability == hale.probability
    assert anna.no_answer_probability == pytest.approx(0.003164, abs=1e-6)


@pytest.mark.parametrize("verdict, forwarded, read", [(True, [(0, ["d0"])], 1),
                                                       (False, [(0, ["d0"]), (1, ["d1", "d2"])], 3)])
def test_settled_decides_when_the_readers_own_probability_does_not(verdict, forwarded, read):
    # "Anna Berg" alone is 0.619347 (above): under enough=0.7 the reader would read on, unless `settled`
    # says the first passages are enough. It is shown the first passages' candidates, evidence filled in.
    reader = BareReader({0: FIRST, 1: REST})
    shown = []
    reading = reader.read_first("Who?", [passage(0), passage(1), passage(2)], first=1, enough=0.7,
                                settled=lambda candidates: shown.append(candidates) or verdict)
    assert reader.forwarded == forwarded and reading.passages_read == read
    [[anna]] = shown
    assert (anna.text, anna.words) == ("Anna Berg", 2)  # with_evidence ran (`words` is 0 before)
    assert anna.probability == pytest.approx(0.619347, abs=1e-6)
    if verdict:
        assert reading.candidates == [anna]  # what `settled` judged is what is returned


def test_settled_is_not_asked_when_the_first_passages_are_enough_or_all_are_read():
    def never(candidates):
        raise AssertionError("settled asked")

    reader = BareReader({0: FIRST, 1: REST})
    assert reader.read_first("q", [passage(0), passage(1)], first=1, enough=0.6, settled=never).passages_read == 1
    reader = BareReader({0: REST})
    assert reader.read_first("q", [passage(0), passage(1)], first=0, enough=1.0, settled=never).passages_read == 2


@pytest.mark.parametrize("first", [0, 3, 5])
def test_all_passages_are_read_at_once_when_first_is_zero_or_covers_them(first):
    reader = BareReader({0: REST})
    reading = reader.read_first("q", [passage(0), passage(1), passage(2)], first=first, enough=1.0)
    assert reader.forwarded == [(0, ["d0", "d1", "d2"])]
    assert reading.passages_read == 3 and len(reading.candidates) == 2


def test_no_passages_read_nothing():
    reader = BareReader()
    reading = reader.read_first("q", [], first=2, enough=0.5)
    assert (reading.candidates, reading.passages_read, reader.forwarded) == ([], 0, [])


# -- Calibration --------------------------------------------------------------------------------
def test_the_default_calibration_is_a_sigmoid_of_half_the_margin():
    assert candidate("d", "x", 3.0, 0).margin == 3.0
    spanned = SpanCandidate("d", 0, 1, "x", span_score=3.0, null_score=1.0, passage_rank=0, passage_score=0.0)
    assert Calibration().probability(spanned) == pytest.approx(0.7310585786, abs=1e-9)  # sigmoid(1)
    assert Calibration().threshold == 0.5


def test_a_calibration_weighs_the_named_features():
    spanned = SpanCandidate("d", 0, 1, "x", span_score=0.0, null_score=0.0, passage_rank=0, passage_score=0.0,
                            probability=math.exp(-1), dense_score=0.5)
    calibration = Calibration({"log_probability": 1.0, "dense_score": 2.0}, bias=-1.0)
    assert calibration.probability(spanned) == pytest.approx(0.2689414214, abs=1e-9)  # sigmoid(-1 + 1 - 1)


def test_extreme_evidence_is_clamped_not_an_overflow():
    sure = SpanCandidate("d", 0, 1, "x", span_score=1000.0, null_score=0.0, passage_rank=0, passage_score=0.0)
    unsure = SpanCandidate("d", 0, 1, "x", span_score=-1000.0, null_score=0.0, passage_rank=0, passage_score=0.0)
    assert Calibration({"margin": 1.0}).probability(sure) == 1.0
    assert Calibration({"margin": 1.0}).probability(unsure) == pytest.approx(1 / (1 + math.exp(50)), rel=1e-9)


def test_a_zero_probability_counts_as_one_in_a_trillion():
    nothing = SpanCandidate("d", 0, 1, "x", span_score=0.0, null_score=0.0, passage_rank=0, passage_score=0.0)
    z = -27.631021  # log(1e-12)
    assert Calibration({"log_probability": 1.0}).probability(nothing) == pytest.approx(1 / (1 + math.exp(-z)),
                                                                                       rel=1e-6)


def test_calibration_files(tmp_path):
    assert Calibration.load(tmp_path) == Calibration()  # none: the uncalibrated defaults
    (tmp_path / WEIGHTS_FILE).write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    old_format = {"w_margin": 0.25, "w_span": 0.5, "w_retrieval": 2.0, "bias": -1.0, "threshold": 0.4,
                  "weights_sha256": digest}
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps(old_format))
    assert Calibration.load(tmp_path) == Calibration({"margin": 0.25, "span_score": 0.5, "retrieval": 2.0}, -1.0, 0.4)
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps({**old_format, "weights_sha256": "0" * 64}))
    with pytest.raises(ReaderModelError, match="stale"):
        Calibration.load(tmp_path)
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps({"weights": {"shoe_size": 1.0}, "bias": 0, "threshold": 0.5,
                                                         "weights_sha256": digest}))
    with pytest.raises(ValueError, match="unknown calibration features"):
        Calibration.load(tmp_path)
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps({"weights": {"margin": 1.0}, "bias": 0, "threshold": 0.5,
                                                         "ranking": {"weights": {"type_fit": 2.0, "dense_score": 1.0}},
                                                         "weights_sha256": digest}))
    assert Calibration.load(tmp_path).ranking == {"type_fit": 2.0, "dense_score": 1.0}
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps({"weights": {"margin": 1.0}, "bias": 0, "threshold": 0.5,
                                                         "ranking": {"weights": {"shoe_size": 1.0}},
                                                         "weights_sha256": digest}))
    with pytest.raises(ValueError, match="unknown calibration features"):
        Calibration.load(tmp_path)


# -- the ranking ----------------------------------------------------------------------------------
def _typed(span_score: float, type_fit: float, dense: float = 0.5) -> SpanCandidate:
    return SpanCandidate("d", 0, 1, "x", span_score=span_score, null_score=0.0, passage_rank=0, passage_score=0.0,
                         dense_score=dense, type_fit=type_fit)


def test_without_a_ranking_candidates_rank_by_their_calibrated_probability():
    calibration = Calibration({"margin": 1.0, "dense_score": 2.0}, bias=-1.0)
    candidates = [_typed(2.0, 1.0, 0.0), _typed(0.5, 0.0, 0.9), _typed(1.0, 0.0, 0.6)]
    by_rank = sorted(candidates, key=calibration.rank_score, reverse=True)
    assert by_rank == sorted(candidates, key=calibration.probability, reverse=True)
    assert [c.margin for c in by_rank] == [0.5, 1.0, 2.0]  # 2.3, 2.2 and 2.0 before the bias


def test_a_ranking_orders_by_its_own_weights_and_leaves_the_probability_alone():
    calibration = Calibration({"margin": 1.0}, ranking={"type_fit": 3.0, "margin": 1.0})
    fits, larger = _typed(1.0, 1.0), _typed(3.0, 0.0)
    assert calibration.rank_score(fits) == 4.0 and calibration.rank_score(larger) == 3.0
    assert calibration.probability(larger) > calibration.probability(fits)  # the calibrated chance is its own


def test_the_ranking_fit_learns_which_candidate_of_a_question_is_right():
    """Per question, the right candidate has the answer shape the question asks for, but a wrong one
    has the larger margin: the ranking must learn to put the shape first."""
    from qa.fitting import fit, fit_ranking

    rng = random.Random(3)
    questions = []
    for number in range(300):
        right = _typed(rng.uniform(2, 4), 1.0)
        decoy = _typed(right.span_score + rng.uniform(0.1, 1.0), 0.0)  # a larger margin, the wrong shape
        weak = _typed(rng.uniform(-2, 0), 0.0)
        if number % 4:
            questions.append((False, [(decoy, 0.0), (right, 1.0), (weak, 0.0)]))
        else:  # the archive does not answer it
            questions.append((True, [(decoy, 0.0), (weak, 0.0)]))
    ranking = fit_ranking(questions, ("margin", "type_fit"))
    assert ranking["type_fit"] > 0
    ranked = Calibration(ranking=ranking)
    firsts = [max(scored, key=lambda cf: ranked.rank_score(cf[0])) for _, scored in questions]
    assert sum(f1 for _, f1 in firsts) >= 0.95 * 225  # of the 225 answerable ones
    calibrated = fit(questions, ("margin", "type_fit"), per_question=1, ranking=ranking)
    assert calibrated.ranking == ranking
    right_first, wrong_first = questions[1][1][1][0], questions[0][1][0][0]
    assert calibrated.probability(right_first) > 0.9
    assert calibrated.probability(wrong_first) < 0.2


def test_a_kept_ranking_keeps_the_first_answer_and_fits_only_its_probability():
    """`newsqa calibrate --keep-ranking`: the candidates keep the current order (here the margin's,
    which puts the wrong-shaped decoy first), and the fit learns how likely that first answer is
    from a feature the order does not use (its shape)."""
    from qa.fitting import cross_validate, fit, ranked, shown

    rng = random.Random(4)
    questions = []
    for _ in range(400):
        first = _typed(rng.uniform(2, 4), float(rng.random() < 0.5))
        other = _typed(first.span_score - 1.0, 1.0 - first.type_fit)
        questions.append((False, [(first, first.type_fit), (other, other.type_fit)]))  # right when it fits
    kept = {"margin": 1.0}
    calibrated = fit(questions, ("margin", "type_fit"), per_question=1, ranking=kept)
    assert calibrated.ranking == kept and calibrated.weights["type_fit"] > 1.0
    for _, scored in questions[:50]:
        probability, f1 = shown(calibrated, scored)[0]
        assert ranked(calibrated, scored)[0][0] is scored[0][0]  # the first stays first
        assert (probability > 0.5) == (f1 == 1.0)
    groups = [(f"article-{n // 4}", f"q{n}") for n in range(len(questions))]
    report = cross_validate(questions, groups, ["news.jsonl"] * len(questions), ("margin", "type_fit"), 1,
                            ranking=kept)
    assert report["ranking"] == "kept"
    assert report["held_out"]["all"]["top1_f1"] == pytest.approx(100 * sum(s[0][1] for _, s in questions) / 400)
    assert report["held_out"]["all"]["right"] >= 95.0


def test_operating_points_are_read_off_the_ranked_answers():
    from qa.evaluation import operating_points

    tops = [(0.9, 1.0), (0.8, 0.6), (0.7, 0.0), (0.6, 1.0), (0.1, 0.0)]  # F1 0.6 counts as right
    # 70% answered is the best 4 (3 of them right); 90% right holds up to the best 2 of 5.
    assert operating_points(tops) == {"right_at_70_answered": 75.0, "answered_at_90_right": 40.0}
    assert operating_points([(0.9, 0.0)])["answered_at_90_right"] == 0.0


def test_cross_validation_scores_each_question_once_by_a_fit_that_never_saw_its_article(monkeypatch):
    """Right exactly when the margin is positive, in 60 articles of 10 questions each: every
    question is held out once, by a fit on other articles only, and the held-out answers reflect
    what the fit learned (almost all confident answers right, about half the questions answered)."""
    from qa import fitting

    rng = random.Random(5)
    questions, groups, sources = [], [], []
    for article in range(60):
        for _ in range(10):
            margin = rng.uniform(-4, 4)
            questions.append((False, [(_typed(margin, 0.5), float(margin > 0))]))
            groups.append((f"article-{article}", f"question {len(questions)}"))
            sources.append("news.jsonl" if article % 2 else "squad.jsonl")
    seen: list[set[str]] = []
    real_fit = fitting.fit

    def recording_fit(fitted, *args, **kwargs):
        seen.append({groups[questions.index(q)][0] for q in fitted})
        return real_fit(fitted, *args, **kwargs)

    monkeypatch.setattr(fitting, "fit", recording_fit)
    report = fitting.cross_validate(questions, groups, sources, ("margin",), per_question=1, folds=5)
    assert len(seen) == 5 and all(len(trained) == 48 for trained in seen)  # 12 articles held out each time
    articles = {article for article, _ in groups}
    assert set.union(*[articles - trained for trained in seen]) == articles  # each held out once
    held_out = report["held_out"]
    assert [held_out[s]["questions"] for s in ("news.jsonl", "squad.jsonl", "all")] == [300, 300, 600]
    assert held_out["all"]["right"] >= 95.0 and 40.0 <= held_out["all"]["answered"] <= 60.0
    assert held_out["all"]["answered_at_90_right"] >= 45.0


def test_questions_about_one_article_or_with_one_text_share_a_fold_group():
    from qa.fitting import folds_of

    groups = [("a", "who won?"), ("b", "who won?"), ("b", "when?"), ("c", "where?"), ("d", "why?"), ("d", "how?")]
    folds = folds_of(groups)
    assert folds[0] == folds[1] == folds[2]  # a and b are linked by the same question
    assert len({folds[0], folds[3], folds[4]}) == 3 and folds[4] == folds[5]


def test_the_alternatives_are_fitted_on_the_answers_below_the_first_and_saved(tmp_path):
    """The second and third candidates are right when their dense score is high, whatever their margin:
    the alternatives' fit learns that, the first answer's calibration is untouched, and
    `calibration.json` carries them."""
    from qa.fitting import fit, fit_alternatives, shown

    rng = random.Random(11)
    questions = []
    for _ in range(400):
        first = _typed(rng.uniform(1, 4), 0.5, dense=0.5)
        # from other articles: spans of one article that overlap are one answer (`same_answer`)
        others = [replace(_typed(rng.uniform(-2, 1), 0.5, dense=rng.choice([0.1, 0.9])), document_id=f"other-{i}")
                  for i in range(2)]
        questions.append((False, [(first, float(rng.random() < 0.7))]
                          + [(c, float(c.dense_score > 0.5)) for c in others]))
    base = fit(questions, ("margin", "dense_score"), per_question=1)
    calibration = fit_alternatives(questions, base)
    assert (calibration.weights, calibration.bias) == (base.weights, base.bias)
    assert calibration.alternatives["dense_score"] > 2.0
    high, low = _typed(0.0, 0.5, dense=0.9), _typed(0.0, 0.5, dense=0.1)
    assert calibration.alternative_probability(high, 0.7) > 0.8
    assert calibration.alternative_probability(low, 0.7) < 0.2
    for _, scored in questions[:50]:
        probabilities = [p for p, _ in shown(calibration, scored)]
        assert probabilities == sorted(probabilities, reverse=True)  # never likelier than the one above
        first = max(scored, key=lambda cf: calibration.rank_score(cf[0]))[0]
        assert probabilities[0] == calibration.probability(first)  # the first is scored as a first answer
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps({
        "weights": calibration.weights, "bias": calibration.bias, "threshold": 0.5,
        "alternatives": {"weights": calibration.alternatives, "bias": calibration.alternatives_bias,
                         "first_log_odds": calibration.alternatives_first}}))
    assert Calibration.load(tmp_path, weights="any") == replace(calibration, threshold=0.5)
