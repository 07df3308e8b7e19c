"""Clean answer edges: a span never starts or ends inside an unbalanced quote or bracket,
nor on punctuation that only belongs to the sentence around it.

The reader proposes spans on token boundaries, and its tokenizer makes every quote mark
and comma a token of its own, so a span can come out as `a “deficit of trust` or
`unintentional”`. `clean_edges` moves the offsets inward until the span is clean; the
reader calls it on every span it proposes, before probabilities are shared by answer text,
so the score belongs to the cleaned span (two raw spans that clean to the same text add up).

Plain Python on purpose: the rule is about characters, not tokens, and no library here
knows which quote a reader's span cut in two.
"""

from __future__ import annotations

import re

# Marks that come in pairs: opening -> closing. Straight double quotes are their own pair.
PAIRS = {"“": "”", "‘": "’", "(": ")", "[": "]", "{": "}", "«": "»"}
CLOSING = {closing: opening for opening, closing in PAIRS.items()}
STRAIGHT = '"'
# What a span never ends on: the sentence's punctuation, dashes, openers.
TRAILING = set(",;:!?-–—/") | set(PAIRS)
# What a span never starts on: the sentence's punctuation and closers.
LEADING = set(",;:.!?–—/") | set(CLOSING)  # not "-": a minus sign
# A final period that belongs to the word: initials and abbreviations ("U.S.", "a.m.", "Inc.").
_ABBREVIATION = re.compile(r"(?:\b[A-Za-z]\.(?:[A-Za-z]\.)*|\b(?:Inc|Ltd|Co|Corp|Jr|Sr|St|Bros|No|plc)\.)$")


def clean_edges(text: str, start: int, end: int) -> tuple[int, int]:
    """The cleaned `(start, end)` of the span `text[start:end]`; `start == end` when nothing is left.

    Rules, applied until none changes the span:
    - whitespace at either edge goes;
    - a span does not start on a closing mark or sentence punctuation, nor end on an opening
      mark, a comma, colon, semicolon, dash, `!` or `?`; a final `.` goes unless it ends an
      abbreviation or initials;
    - a quote or bracket opened in the span and not closed in it: when the span starts with
      it, it goes; otherwise the span starts after it (the quoted words are the answer);
    - a quote or bracket closed in the span and not opened in it: when the span ends with it,
      it goes; otherwise the span ends before it.
    - straight double quotes count as balanced when even in number; an odd one opens when
      a space or the span's start comes before it, else it closes;
    - a span with no letter or digit is empty.
    """
    if not any(char.isalnum() for char in text[start:end]):
        return start, start
    while start < end:
        cleaned = _one_pass(text, start, end)
        if cleaned == (start, end):
            break
        start, end = cleaned
    return (start, end) if start < end else (start, start)


def _one_pass(text: str, start: int, end: int) -> tuple[int, int]:
    span = text[start:end]
    stripped = span.strip()
    if stripped != span:
        lead = len(span) - len(span.lstrip())
        return start + lead, start + lead + len(stripped)
    first, last = span[0], span[-1]
    if first in LEADING:
        return start + 1, end
    if last in TRAILING:
        return start, end - 1
    if last == "." and not _ABBREVIATION.search(span):
        return start, end - 1
    return _balance(span, start, end)


def _apostrophe(span: str, i: int, stack: list[int]) -> bool:
    """Whether the `’` at `i` is an apostrophe ("Britain’s", "the Smiths’ home"), not a closing quote."""
    if any(span[j] == "‘" for j in stack):
        return False
    before = span[i - 1] if i > 0 else " "
    after = span[i + 1] if i + 1 < len(span) else " "
    return before.isalnum() and (after.isalnum() or (before in "sS" and not after.isalnum()))


def _balance(span: str, start: int, end: int) -> tuple[int, int]:
    """Offsets that leave out the first unbalanced quote or bracket of the span."""
    stack: list[int] = []  # positions of openers not yet closed
    for i, char in enumerate(span):
        if char in PAIRS:
            stack.append(i)
        elif char in CLOSING:
            if char == "’" and _apostrophe(span, i, stack):
                continue
            if stack and span[stack[-1]] == CLOSING[char]:
                stack.pop()
            else:  # closed, never opened in the span
                return start, start + i
    if stack:  # opened, never closed: the words after it are the answer
        return start + stack[-1] + 1, end
    straight = [i for i, char in enumerate(span) if char == STRAIGHT]
    if len(straight) % 2:  # the odd one opens when a space (or the span's start) comes before it
        odd = straight[-1] if straight[-1] == 0 or span[straight[-1] - 1].isspace() else straight[0]
        opens = odd == 0 or span[odd - 1].isspace()
        return (start + odd + 1, end) if opens else (start, start + odd)
    return start, end
