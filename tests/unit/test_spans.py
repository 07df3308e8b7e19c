"""The span-edge rule (qa.spans.clean_edges) on hand-worked cases, both quote styles."""

import pytest

from qa.spans import clean_edges

CASES = [
    # (sentence, raw span, expected cleaned span)
    ("He spoke of a “deficit of trust” between them.", "a “deficit of trust", "deficit of trust"),
    ("It was “unintentional” and regrettable.", "unintentional”", "unintentional"),
    ('He spoke of a "deficit of trust" between them.', 'a "deficit of trust', "deficit of trust"),
    ('It was "unintentional" and regrettable.', 'unintentional"', "unintentional"),
    ("The meeting is at 3 p.m. ET Sunday.", "3 p.m. ET Sunday.", "3 p.m. ET Sunday"),
    ("Shares fell 5%, the firm said.", "5%,", "5%"),
    ("The talks were held in the U.S.", "the U.S.", "the U.S."),
    ("It was bought by Acme Inc. last year.", "Acme Inc.", "Acme Inc."),
    ("The firm (Acme) rose.", "The firm (Acme", "Acme"),
    ("The firm (Acme) rose.", "Acme) rose", "Acme"),
    ("The firm (Acme) rose.", "firm (Acme)", "firm (Acme)"),
    ("They called it “a ‘fair’ deal” today.", "“a ‘fair’ deal”", "“a ‘fair’ deal”"),
    ("Britain’s prime minister spoke.", "Britain’s prime minister", "Britain’s prime minister"),
    ("The Smiths’ home was sold.", "The Smiths’ home", "The Smiths’ home"),
    ("The word was ‘sorry’ and nothing more.", "‘sorry", "sorry"),
    ("Prices fell; the index dropped.", "; the index", "the index"),
    ("He won — narrowly.", "He won —", "He won"),
    ("The temperature was -5 degrees.", "-5 degrees", "-5 degrees"),
    ("  padded answer  ", "  padded answer  ", "padded answer"),
]


@pytest.mark.parametrize("sentence,raw,expected", CASES)
def test_clean_edges(sentence: str, raw: str, expected: str) -> None:
    start = sentence.index(raw)
    new_start, new_end = clean_edges(sentence, start, start + len(raw))
    assert sentence[new_start:new_end] == expected
    assert start <= new_start <= new_end <= start + len(raw)  # cleaning only moves edges inward


def test_a_span_of_punctuation_only_cleans_to_nothing() -> None:
    text = "He said: “”."
    start = text.index("“")
    new_start, new_end = clean_edges(text, start, len(text))
    assert new_start == new_end
