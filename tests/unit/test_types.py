"""The domain types: filter semantics, dates of coarse `published` values, PDF pages."""

from __future__ import annotations

import pytest

from qa.types import Document, Filters, Passage


def doc(published=None, source="BBC News", section="politics", id="a", pages=None) -> Document:
    return Document(id=id, title="T", text="x" * 300, published=published, source=source, section=section,
                    pages=pages)


# -- Document.date --------------------------------------------------------------------------------
@pytest.mark.parametrize("published, day", [
    ("2005-03-01", "2005-03-01"), ("2005", "2005-01-01"), ("2005-03", "2005-03-01"),
    ("2005-03-01T23:30:00+01:00", "2005-03-01"), (None, None), ("", None),
])
def test_the_date_of_a_published_value(published, day):
    assert doc(published).date == day


# -- Filters.matches ------------------------------------------------------------------------------
def test_no_filter_matches_everything_even_undated():
    assert not Filters().active
    assert Filters().matches(doc(None, source=None, section=None))


@pytest.mark.parametrize("published, expected", [
    ("2005-03-01", True), ("2005-03-31", True),  # both ends inclusive
    ("2005-02-28", False), ("2005-04-01", False),
    ("2005-03-31T23:59:59Z", True),  # a date-time counts as its day, not as later than the day
    ("2005-03", True),  # a month counts as its first day
    ("2005", False),  # 2005-01-01
    (None, False),  # an undated article never matches a date filter
])
def test_a_date_range(published, expected):
    assert Filters(date_from="2005-03-01", date_to="2005-03-31").matches(doc(published)) is expected


@pytest.mark.parametrize("filters, expected", [
    (Filters(date_from="2005-01-01"), True), (Filters(date_from="2005-01-02"), False),
    (Filters(date_to="2004-12-31"), False), (Filters(date_to="2005-01-01"), True),
])
def test_one_date_end_on_a_bare_year(filters, expected):
    assert filters.matches(doc("2005")) is expected


def test_values_of_one_field_are_alternatives_and_fields_combine():
    filters = Filters(sources=("BBC News", "Reuters"), sections=("politics",))
    assert filters.active
    assert filters.matches(doc(source="Reuters", section="politics"))
    assert not filters.matches(doc(source="Reuters", section="sport"))  # AND across fields
    assert not filters.matches(doc(source="AP", section="politics"))
    assert not filters.matches(doc(source=None, section="politics"))


def test_sources_and_sections_match_case_sensitively():
    assert not Filters(sources=("bbc news",)).matches(doc(source="BBC News"))
    assert not Filters(sections=("Politics",)).matches(doc(section="politics"))


def test_document_ids_and_dates_combine():
    filters = Filters(document_ids=("a", "b"), date_to="2005-12-31")
    assert filters.matches(doc("2005-06-01", id="b"))
    assert not filters.matches(doc("2005-06-01", id="c"))
    assert not filters.matches(doc("2006-01-01", id="a"))


def test_filters_as_json_drop_empty_fields():
    assert Filters(date_from="2005-01-01", sources=("A", "B")).to_dict() == {"date_from": "2005-01-01",
                                                                               "sources": ["A", "B"]}
    assert Filters().to_dict() == {}


# -- Document.page_at ------------------------------------------------------------------------------
@pytest.mark.parametrize("offset, page", [(0, 1), (99, 1), (100, 2), (249, 2), (250, 3), (10_000, 3)])
def test_the_page_holding_an_offset(offset, page):
    assert doc(pages=(0, 100, 250)).page_at(offset) == page


def test_text_before_the_first_page_start_is_page_one_and_no_pages_is_none():
    assert doc(pages=(5, 100)).page_at(2) == 1
    assert doc(pages=None).page_at(50) is None
    assert doc(pages=()).page_at(50) is None


def test_a_document_round_trips_through_json_with_its_pages():
    document = doc("2005", pages=(0, 100))
    data = document.to_dict()
    assert data["pages"] == [0, 100]
    assert Document.from_dict(data) == document
    assert Document.from_dict(doc().to_dict()).pages is None


def test_a_passage_as_json_hides_retrieval_internals():
    passage = Passage(chunk_id=7, document_id="a", title="T", start=0, end=3, text="abc", score=0.5, dense_rank=1,
                      sparse_rank=2, dense_score=0.9)
    assert passage.to_dict() == {"document_id": "a", "title": "T", "start": 0, "end": 3, "text": "abc", "score": 0.5}
