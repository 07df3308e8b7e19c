"""What any confidence score could reach on a set (scripts/trust_bounds.py), on hand-worked dumps."""

import json

import numpy as np
import pytest

from scripts.trust_bounds import bounds, ceiling, sampling_error


def test_no_score_can_be_right_more_often_than_the_first_answers_allow():
    # 10 questions, 6 first answers right: answering 7 of them, at most 6 of 7 are right
    assert ceiling(6, 10, 70) == pytest.approx(100 * 6 / 7)
    assert ceiling(8, 10, 70) == 100.0  # enough right first answers to fill the 70%
    assert ceiling(0, 3, 70) == 0.0
    assert ceiling(1, 1, 70) == 100.0  # at least one question is answered
    # 70% of 283 is 198.1: 199 are answered, as qa.evaluation.operating_points rounds up
    assert ceiling(166, 283, 70) == pytest.approx(100 * 166 / 199)


def _dump(tmp_path, rows):
    path = tmp_path / "dump.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _question(gold, *answers, about="d1"):
    return {"id": "q", "question": "?", "gold": gold, "gold_document": about if gold else None,
            "candidates": [{"text": "a", "document_id": document, "calibrated": score, "f1": f1}
                           for score, f1, document in answers]}


def test_the_trade_and_the_ceilings_count_each_question_once(tmp_path):
    dump = _dump(tmp_path, [
        _question(["x"], (0.9, 1.0, "d1")),  # right, answered at every threshold
        _question(["x"], (0.6, 0.0, "d2"), (0.5, 1.0, "d1")),  # wrong first, right second: only a re-ranking helps
        _question(["x"], (0.52, 0.4, "d1")),  # F1 under 0.5: wrong, from the article asked about
        _question([], (0.7, 0.0, "d1")),  # unanswerable, answered up to 0.7
        _question([], (0.3, 0.0, "d1")),  # unanswerable, rejected
        _question(["x"]),  # nothing found: score 0
    ])
    result = bounds(dump, coverage=50, target=90, simulations=50)
    assert (result["questions"], result["unanswerable"], result["first_right"], result["right_among_first_3"]) == (6, 2, 1, 2)
    assert (result["wrong_first"], result["wrong_first_in_own_article"]) == (3, 1)  # nothing found is wrong too
    assert result["ceiling"] == 33.3  # 3 answered, 1 right first answer
    assert result["ceiling_reranked"] == 66.7
    # the three most confident (0.9 right, 0.7 unanswerable, 0.6 wrong): 1 of 3 right
    assert result["right_at_50_answered"] == pytest.approx(33.33)
    trade = {point["threshold"]: point for point in result["trade"]}
    assert trade[0.5] == {"threshold": 0.5, "answered": 66.7, "right": 25.0, "rejected": 50.0}
    assert trade[0.65] == {"threshold": 0.65, "answered": 33.3, "right": 50.0, "rejected": 50.0}
    assert trade[0.7] == {"threshold": 0.7, "answered": 33.3, "right": 50.0, "rejected": 50.0}


def test_a_perfectly_calibrated_score_still_measures_a_calibration_error_on_a_small_set():
    # certain scores are drawn as they say: no error at all
    assert sampling_error(np.array([0.0, 1.0, 1.0, 0.0]), simulations=20) == {"mean": 0.0, "p95": 0.0,
                                                                               "share_at_most_target": 1.0}
    # four answers at 0.5: the share right is k/4 with k ~ Binomial(4, 1/2), so the error |k/4 - 1/2|
    # averages (2 * 1/16 * 0.5 + 2 * 4/16 * 0.25) = 0.1875, and is 0.5 one time in eight
    noise = sampling_error(np.full(4, 0.5), simulations=4000)
    assert noise["mean"] == pytest.approx(0.1875, abs=0.01)
    assert noise["p95"] == 0.5
    assert noise["share_at_most_target"] == pytest.approx(6 / 16, abs=0.03)  # only k = 2 gives an error under 0.05
    # the floor falls as the set grows
    assert sampling_error(np.full(400, 0.5), simulations=400)["mean"] < 0.03
