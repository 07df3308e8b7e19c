"""The finer answer shapes measured in scripts/calibration_alternatives.py, on hand-worked answers."""

import pytest

from scripts.calibration_alternatives import finer_type_fit


@pytest.mark.parametrize(("question", "answer", "fit"), [
    ("How much will GM pay Fiat to dissolve their alliance?", "10%", 0.0),  # a share, not money
    ("How much will GM pay Fiat to dissolve their alliance?", "$2bn", 1.0),
    ("How much was Luis Aragones fined for his remarks?", "3000 euros", 1.0),
    ("How much will the Xiluodu dam cost to build?", "12,600 MW of electricity", 0.0),
    ("How long is the Izumo, Japan's largest warship?", "241 meters", 1.0),
    ("How long is Harry Redknapp's contract?", "2007", 0.0),  # a year, not a duration
    ("What percentage of voters turned out?", "61.3%", 1.0),
    ("What percentage of voters turned out?", "61.3", 0.0),
    ("How many people does LG Card employ?", "seven million", 1.0),  # not a finer shape: type_fit's number
    ("Who requested the meeting?", "the United States, Britain and France", 1.0),  # type_fit's name
])
def test_money_durations_and_percentages_need_their_own_shape(question, answer, fit):
    assert finer_type_fit(question, answer) == fit


def test_the_summary_counts_what_a_person_sees_at_even_odds():
    import numpy as np

    from scripts.calibration_alternatives import rejected_when_answering, summary

    scores = np.array([0.9, 0.6, 0.4, 0.2])
    right = np.array([True, False, False, False])
    unanswerable = np.array([False, True, False, True])
    result = summary(scores, right, unanswerable, baseline=np.array([0.1, 0.2, 0.3, 0.4]))
    assert result == {"questions": 4, "calibration_error": result["calibration_error"], "auc": 1.0,
                      "answered": 50.0, "right": 50.0, "unanswerable": 2, "rejected": 50.0,
                      "right_at_70_answered": 33.33,  # the three most confident: right, wrong, wrong
                      # the baseline, answering two questions as this fit does, answers 0.4 and 0.3:
                      # one unanswerable question of two left out
                      "baseline_rejected_answering_as_many": 50.0}
    assert rejected_when_answering(np.array([0.9, 0.8, 0.3, 0.2]), np.array([False, True, True, False]), 2) == 50.0
    assert rejected_when_answering(scores, np.zeros(4, bool), 2) is None


def test_a_held_out_fit_puts_first_the_candidate_it_scores_highest():
    import numpy as np

    from scripts.calibration_alternatives import Question, held_out

    # one feature that tells right from wrong. Half the questions have their right answer first in
    # the dump, half second, behind a wrong one: fitted on the dump's first candidates, the model
    # learns the feature, and every held-out question's first answer becomes its right one.
    questions = []
    for i in range(20):
        rows, right = ([[1.0]], [True]) if i % 2 else ([[-1.0], [1.0]], [False, True])
        questions.append(Question(np.array(rows), np.array(right), False, "set", (f"article-{i}", f"q{i}")))
    questions.append(Question(np.zeros((0, 1)), np.zeros(0, bool), True, "set", ("none", "q-none")))
    tops = held_out("logistic", questions, folds=5)
    assert [is_right for _, is_right in tops[:20]] == [True] * 20
    assert all(score > 0.5 for score, _ in tops[:20])
    assert tops[20] == (0.0, False)  # nothing found: scored 0, wrong
