"""Milvus filter expressions, built from `Filters` and never from user text spliced into them.

Filters are Milvus boolean expressions with `{placeholders}` and `filter_params`. Milvus Lite
ignores `filter_params` (it has no expression templates), so for a `.db` URI the same template
is rendered with `_literal`, which quotes strings with the escapes both parsers define
(`\\"`, `\\\\`, `\\n`, `\\r`, `\\t`).

Dates stay strings: Milvus compares strings byte-wise, as Python does, so an inclusive
`published >= date_from and published <= date_to` selects exactly what `Filters.matches`
selects, for any string the API passes (an INT like 20050301 would need the filter parsed
and would diverge on a malformed one). A null never satisfies a comparison, which is the
rule "an article without a date never matches a date filter"; the same holds for sources
and sections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qa.types import Filters

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Expr:
    """A Milvus boolean expression: a template with `{name}` placeholders and their values."""

    template: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __and__(self, other: Expr) -> Expr:
        if not other.template:
            return self
        if not self.template:
            return other
        clash = set(self.params) & set(other.params)
        if clash:
            raise ValueError(f"expression parameters used twice: {sorted(clash)}")
        return Expr(f"({self.template}) and ({other.template})", {**self.params, **other.params})

    def rendered(self) -> str:
        """The template with every value written as a literal (for Milvus Lite, which has no templates)."""
        return _PLACEHOLDER.sub(lambda match: _literal(self.params[match[1]]), self.template)

    def arguments(self, templates: bool) -> dict:
        """Keyword arguments for `search`/`query`: `filter` (+ `filter_params` where the server has templates)."""
        if not self.template:
            return {"filter": ""}
        if templates:
            return {"filter": self.template, "filter_params": dict(self.params)}
        return {"filter": self.rendered()}


def _literal(value: Any) -> str:
    """A value as a Milvus expression literal. Strings are double-quoted with every character that
    could end the literal escaped, so no value can change the expression around it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
                   .replace("\t", "\\t"))
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    raise TypeError(f"no Milvus literal for {type(value).__name__}")


def filter_expression(filters: Filters | None) -> Expr:
    """The chunk rows of the documents `filters` selects (`Filters.matches` is the reference)."""
    if filters is None or not filters.active:
        return Expr()
    parts: list[str] = []
    params: dict[str, Any] = {}
    for name, values in (("document_id", filters.document_ids), ("source", filters.sources),
                         ("section", filters.sections)):
        if values:
            parts.append(f"{name} in {{{name}s}}")
            params[f"{name}s"] = [str(v) for v in values]
    if filters.date_from:
        parts.append("published >= {date_from}")
        params["date_from"] = str(filters.date_from)
    if filters.date_to:
        parts.append("published <= {date_to}")
        params["date_to"] = str(filters.date_to)
    return Expr(" and ".join(parts), params)


FIRST_PARTS = Expr("part == {first_part}", {"first_part": 0})  # one row per document


def _in(field_name: str, values: list, param: str = "values") -> Expr:
    return Expr(f"{field_name} in {{{param}}}", {param: list(values)})
