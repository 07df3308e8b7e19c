"""The paired comparison of two dumps (scripts/compare_dumps.py), on hand-worked questions."""

import json

import pytest

from qa.reader import Calibration
from scripts.compare_dumps import first_f1, paired_change


def test_a_change_is_the_mean_of_the_questions_changes_with_a_paired_interval():
    before = {"a": 1.0, "b": 0.0, "c": 0.5, "d": 0.0}
    after = {"a": 1.0, "b": 1.0, "c": 0.5, "d": 0.0, "only-after": 1.0}  # asked by one side only: left out
    result = paired_change(before, after, samples=2000)
    assert (result["questions"], result["before"], result["after"], result["change"]) == (4, 37.5, 62.5, 25.0)
    assert (result["up"], result["down"]) == (1, 0)
    # one question of four moved: a resample holds it 0 to 4 times, so the interval spans 0 to 100,
    # and with 2,000 resamples its 2.5% ends are 0 (no copy: (3/4)^4 = 32%) and at least 50
    low, high = result["interval_95"]
    assert low == 0.0 and 50.0 <= high <= 100.0


def test_the_same_answers_change_nothing_and_no_shared_question_is_an_error():
    same = {"a": 0.4, "b": 1.0}
    assert paired_change(same, same, samples=100)["interval_95"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="share no answerable question"):
        paired_change({"a": 1.0}, {"b": 1.0})


def test_the_first_answer_is_the_one_the_calibration_ranks_first(tmp_path):
    def candidate(text, probability, f1):
        return {"text": text, "document_id": "d", "start": 0, "end": 1, "span_score": 1.0, "null_score": 0.0,
                "probability": probability, "no_answer_probability": 0.01, "dense_score": 0.5,
                "passage_score": 1.0, "passage_rank": 0, "f1": f1}

    dump = tmp_path / "dump.jsonl"
    rows = [{"id": "q1", "question": "Who?", "gold": ["Ann"],
             "candidates": [candidate("Bob", 0.2, 0.0), candidate("Ann", 0.7, 1.0)]},
            {"id": "q2", "question": "None?", "gold": [], "candidates": [candidate("Cy", 0.9, 0.0)]},
            {"id": "q3", "question": "When?", "gold": ["1999"], "candidates": []}]
    dump.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # weighing the probability, Ann (0.7) is first; the unanswerable question is left out
    assert first_f1(dump, Calibration(weights={"log_probability": 1.0})) == {"q1": 1.0, "q3": 0.0}
    # weighing it against, Bob is
    assert first_f1(dump, Calibration(weights={"log_probability": -1.0})) == {"q1": 0.0, "q3": 0.0}
