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
