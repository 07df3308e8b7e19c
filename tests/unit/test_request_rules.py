"""The rules of a request are declared once (`web.schemas`): what /openapi.json documents is what
the server accepts. Every request model is checked against its own JSON schema, value by value,
with the validator schemathesis uses (jsonschema-rs): one accepts exactly what the other does."""

from __future__ import annotations

import sys

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from qa.validation import InvalidInput, check_text
from web.schemas import AskRequest, Day, DayOrTime, FeedbackRequest, FiltersIn, NewArticle, text_pattern

MODELS = (AskRequest, FiltersIn, NewArticle, FeedbackRequest)


def _accepts(model, value) -> bool:
    try:
        model.model_validate(value)
        return True
    except ValidationError:
        return False


def _documented(model):
    return jsonschema_rs.validator_for(model.model_json_schema(), validate_formats=True).is_valid


def _agree(model, value) -> None:
    documented, accepted = _documented(model)(value), _accepts(model, value)
    assert documented == accepted, f"{model.__name__}: schema {'accepts' if documented else 'refuses'} {value!r}, " \
                                   f"the model {'accepts' if accepted else 'refuses'} it"


def test_the_text_pattern_is_check_text_for_every_character():
    """`text_pattern` (what the schema says) and `qa.validation.check_text` (the shared check, with
    its messages) refuse the same characters; non-blank text is what `str.split` leaves words of."""
    import re

    text, words = re.compile(text_pattern()), re.compile(text_pattern(blank=False))
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue  # lone surrogates are not Unicode: pydantic refuses them as strings
        char = chr(code)
        try:
            check_text(char, "c")
            valid = True
        except InvalidInput:
            valid = False
        assert bool(text.fullmatch(char)) == valid, hex(code)
        assert bool(words.fullmatch(char)) == (valid and bool(char.strip())), hex(code)


# Text that hits the edges: control characters, every kind of whitespace, U+FFFD, astral characters.
EDGY = st.text(alphabet=st.one_of(st.sampled_from("\x00\x07\x1b\x7f\x85\x9f\t\n\x0b\r \xa0\u2028\u3000\ufffd"),
                                  st.characters(codec="utf-8", exclude_categories=("Cs",))), max_size=12)
DAYS = st.one_of(st.dates().map(str), st.sampled_from(["0000-01-01", "0713-09-11", "2005-02-30", "2005-1-01",
                                                      "20050301", "2005-03-01T10:00:00Z", ""]), EDGY)
TIMES = st.one_of(DAYS, st.datetimes().map(lambda d: d.isoformat() + "Z"), st.sampled_from([
    "2005-03-01T23:59:60Z", "2005-03-01T10:00:60Z", "2005-03-01t10:00:00z", "2005-03-01 10:00:00Z",
    "2005-03-01T10:00:00", "2005-03-01T24:00:00Z", "2005-03-01T10:00:00+24:00", "2005-03-01T10:00:00.5-01:30",
    "0999-03-01T10:00:00Z"]))
NUMBERS = st.one_of(st.integers(-3, 12), st.floats(allow_nan=False), st.sampled_from([3.0, True, "3", None]))
OPTIONAL_INT = st.one_of(st.none(), st.integers(-2, 50), st.sampled_from([1.0, "4", True]))


def _some(**fields) -> st.SearchStrategy[dict]:
    """Objects with some of `fields` (each may be missing)."""
    return st.fixed_dictionaries({}, optional=fields)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=st.one_of(
    _some(question=st.one_of(EDGY, st.just("Who?")), top_k=NUMBERS, min_score=NUMBERS,
          recency_half_life_days=NUMBERS, filters=st.one_of(st.none(), _some(date_from=DAYS, sources=st.lists(EDGY)))),
    st.sampled_from([[], "Who?", 42, None])))
@example(value={"question": "Who?", "top_k": 3.0})
@example(value={"question": " x ", "min_score": 1})
@example(value={"question": "Who?", "top_k": True})
def test_ask_requests_are_accepted_exactly_as_documented(value):
    _agree(AskRequest, value)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=_some(date_from=DAYS, date_to=DAYS, sources=st.lists(EDGY, max_size=3),
                   sections=st.one_of(st.lists(EDGY, max_size=3), st.just("politics")), document_ids=st.lists(EDGY)))
def test_filters_are_accepted_exactly_as_documented(value):
    _agree(FiltersIn, value)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=_some(title=EDGY, text=EDGY, published=st.one_of(TIMES, st.none(), st.integers()), source=EDGY,
                   section=st.one_of(EDGY, st.none()), author=EDGY, url=EDGY, extra=st.just(1)))
@example(value={"title": "A", "text": "B", "published": "2005-03-01T23:59:60Z"})
@example(value={"title": "A", "text": "B", "published": "0713-09-11"})
@example(value={"title": "A", "text": "B", "published": "2005-03-01 10:00:00Z"})
@example(value={"title": "A", "text": "B", "published": "2005-03-01T10:00:00"})
def test_new_articles_are_accepted_exactly_as_documented(value):
    _agree(NewArticle, value)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=_some(question=st.just("Who?"), answer=st.sampled_from(["", "x"]), document_id=st.sampled_from(["", "a"]),
                   start=OPTIONAL_INT, end=OPTIONAL_INT, verdict=st.sampled_from(["right", "wrong", "maybe"]),
                   corrected_start=OPTIONAL_INT, corrected_end=OPTIONAL_INT, note=st.one_of(st.none(), EDGY)))
@example(value={"question": "Who?", "answer": "x", "document_id": "a", "start": 0, "end": 1, "verdict": "right",
                "corrected_start": 0, "corrected_end": 1})
@example(value={"question": "Who?", "answer": "x", "document_id": "a", "start": 0, "end": 1, "verdict": "wrong",
                "corrected_start": 0, "corrected_end": None})
@example(value={"question": "Who?", "answer": "x", "document_id": "a", "start": 0, "end": 1, "verdict": "wrong",
                "corrected_start": 0, "corrected_end": 1})
@example(value={"question": "Who?", "answer": "x", "document_id": "a", "start": 4, "end": 4, "verdict": "right"})
@example(value={"question": "Who?", "answer": "x", "document_id": "a", "start": 0, "end": 1, "verdict": "wrong",
                "corrected_start": 9, "corrected_end": 2})
@example(value={"question": "Who?", "answer": "x", "document_id": "a", "start": 0, "end": 1, "verdict": "wrong",
                "corrected_start": 1, "corrected_end": 1.0})  # 1.0 is an integer to JSON Schema and to pydantic
def test_feedback_is_accepted_exactly_as_documented(value):
    if _backwards(value):  # the one rule JSON Schema cannot state (scripts/schemathesis.toml says so): 422
        assert not _accepts(FeedbackRequest, value)
        return
    _agree(FeedbackRequest, value)


def _backwards(value) -> bool:
    """A span of the feedback that ends where or before it starts: offsets that both schema and model read
    as integers (an int, or a float with no fraction such as 1.0: JSON Schema's "integer" and pydantic's
    lax int agree on it), the first not before the second."""
    spans = ((value.get("start"), value.get("end")), (value.get("corrected_start"), value.get("corrected_end")))
    return any(_integral(a) and _integral(b) and a >= b for a, b in spans)


def _integral(number) -> bool:
    return type(number) is int or (type(number) is float and number.is_integer())


@pytest.mark.parametrize(("kind", "value", "reason"), [
    (AskRequest, {"question": "Who\x07?"}, "question contains control character U+0007 at character 3"),
    (AskRequest, {"question": " \n "}, "question must not be empty"),
    (AskRequest, {"question": "why " * 300}, "question is longer than 1000 characters"),
    (FiltersIn, {"date_from": "2005-02-30"}, "date_from must be a date YYYY-MM-DD, not '2005-02-30'"),
    (FiltersIn, {"sources": ["BBC\x00"]}, "sources contains control character U+0000"),
    (NewArticle, {"title": "two\nlines", "text": "x"}, "title must be one line"),
    (NewArticle, {"title": "t", "text": "x", "published": "0713-09-11"}, "published must be a date from the year 1000"),
    (FeedbackRequest, {"question": "Who?", "answer": "x", "document_id": "a", "start": 0, "end": 1,
                       "verdict": "wrong", "corrected_start": 3}, "corrected_start and corrected_end go together"),
    (FeedbackRequest, {"question": "Who?", "answer": "x", "document_id": "a", "start": 0, "end": 1,
                       "verdict": "right", "corrected_start": 3, "corrected_end": 5}, "goes with verdict 'wrong'"),
    (FeedbackRequest, {"question": "Who?", "answer": "x", "document_id": "a", "start": 7, "end": 7,
                       "verdict": "right"}, "start must be before end; got 7 and 7"),
    (FeedbackRequest, {"question": "Who?", "answer": "x", "document_id": "a", "start": 0, "end": 1,
                       "verdict": "wrong", "corrected_start": 5, "corrected_end": 2},
     "corrected_start must be before corrected_end"),
])
def test_refusals_say_why_in_words(kind, value, reason):
    with pytest.raises(ValidationError) as refused:
        kind.model_validate(value)
    assert reason in str(refused.value)
    assert "should match pattern" not in str(refused.value)  # the reason, not the regular expression


def test_dates_are_dates_not_numbers_or_other_spellings():
    assert TypeAdapter(Day).validate_python("2005-03-01").isoformat() == "2005-03-01"
    for spelling in (20050301, "20050301", "2005-W09-2", 1109635200.0):
        with pytest.raises(ValidationError):
            TypeAdapter(Day).validate_python(spelling)
    when = "2005-03-01T10:00:00+01:00"
    assert TypeAdapter(DayOrTime).validate_python(when).isoformat() == when
