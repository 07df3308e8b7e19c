"""Checks of what people send (questions, ids, filter values), shared by the JSON API, the
pages and the command line. Plain Python: no web framework, so the CLI can use them.

A failed check raises `InvalidInput` (a ValueError) whose text says why; the web layer
answers it with 422 (`web.errors`), the CLI prints it.
"""

from __future__ import annotations

import re
from datetime import date

from qa.types import Filters

MAX_QUESTION_CHARS = 1000
MAX_TOP_K = 10
MAX_DOCUMENT_ID_CHARS = 1000
MAX_FILTER_VALUES = 100
MAX_ARTICLE_CHARS = 2_000_000
MAX_ANSWER_CHARS = 10_000
# C0 and C1 control characters except the ordinary whitespace \t \n \v \f \r (squeezed).
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DAY = r"^\d{4}-\d{2}-\d{2}$"


class InvalidInput(ValueError):
    """Input that no request may carry (bad text, an over-long id, dates the wrong way round)."""


class DocumentNotFound(LookupError):
    """No article has the id asked for."""

    def __init__(self, document_id: str) -> None:
        super().__init__(f"no document with id {document_id!r}")
        self.document_id = document_id


def check_text(value: str, what: str) -> str:
    """`value` unchanged if it is text a model may see; a ValueError that says why otherwise.

    A lone surrogate (JSON "\\ud800") cannot be encoded and makes the tokenizer raise;
    U+FFFD is what undecodable bytes in a URL become; control characters are no text.
    """
    if match := _SURROGATE.search(value):
        raise InvalidInput(f"{what} is not valid Unicode: lone surrogate U+{ord(match[0]):04X} "
                           f"at character {match.start()}")
    if (position := value.find("\ufffd")) >= 0:
        raise InvalidInput(f"{what} is not valid UTF-8: U+FFFD (undecodable bytes) at character {position}")
    if match := _CONTROL.search(value):
        raise InvalidInput(f"{what} contains control character U+{ord(match[0]):04X} at character {match.start()}")
    return value


def clean_question(question: str) -> str:
    """The question with whitespace squeezed; rejects invalid text, empty and over-long ones."""
    cleaned = " ".join(check_text(question, "question").split())
    if not cleaned:
        raise InvalidInput("question must not be empty")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise InvalidInput(f"question is longer than {MAX_QUESTION_CHARS} characters")
    return cleaned


def check_document_id(document_id: str) -> str:
    """The id if it could be one (valid text, bounded length); InvalidInput that says why otherwise."""
    check_text(document_id, "document id")
    if len(document_id) > MAX_DOCUMENT_ID_CHARS:
        raise InvalidInput(f"document id is longer than {MAX_DOCUMENT_ID_CHARS} characters")
    return document_id


def check_day(value: str | None, what: str) -> str | None:
    """`value` if it is a date YYYY-MM-DD (or None)."""
    if value is None:
        return None
    try:
        if not re.fullmatch(_DAY, value):  # fromisoformat alone also takes 2005W101 and 20050301
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a date YYYY-MM-DD, not {value[:30]!r}") from None
    return value


def check_filter_values(values: list[str], field: str) -> list[str]:
    """Values of one filter field (`sources`, `sections`, `document_ids`): valid, non-empty, bounded text."""
    for value in values:
        check_text(value, field[:-1])
        if not value.strip() or len(value) > MAX_DOCUMENT_ID_CHARS:
            raise InvalidInput(f"{field} values must be non-empty and at most {MAX_DOCUMENT_ID_CHARS} characters")
    return values


def checked_filters(date_from: str | None, date_to: str | None, sources=(), sections=(),
                    document_ids=()) -> Filters:
    """`Filters` of values checked one by one already; refuses a date range that ends before it starts."""
    if date_from and date_to and date_from > date_to:
        raise InvalidInput(f"date_from {date_from} is after date_to {date_to}")
    return Filters(date_from, date_to, tuple(sources), tuple(sections), tuple(document_ids))
