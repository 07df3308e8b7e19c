"""Sentence-aware chunking that keeps character offsets.

`split_sentences` finds sentence spans with a rule-based splitter tuned for news
prose (abbreviations, initials, decimals, quotes). `chunk_document` packs whole
sentences into chunks of at most `max_words` words, repeating the last
`overlap_sentences` sentences of one chunk at the start of the next. Only a
single sentence longer than the limit is cut, at a word boundary.
Every chunk satisfies `document.text[chunk.start:chunk.end] == chunk.text`.
"""

from __future__ import annotations

import re

from qa.types import Chunk, Document  # noqa: F401

# Words that end with a period without ending a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "gen", "lt", "col", "sgt", "capt", "cmdr", "adm", "gov",
    "sen", "rep", "rev", "hon", "pres", "amb", "maj", "messrs", "no", "vs", "etc", "inc", "ltd", "co", "corp",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "fig",
    "approx", "dept", "est", "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "d.c",
}
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+|$)")
_WORD = re.compile(r"\S+")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans `(start, end)` of `text`, leading and trailing whitespace excluded.

    Line breaks that separate paragraphs (a blank line, or a line break after a
    line with no final punctuation, as in headlines) also end a sentence.
    """
    spans: list[tuple[int, int]] = []
    for block in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*", text):
        for line_start, line_end in _lines_as_units(text, block.start(), block.end()):
            spans.extend(_split_block(text, line_start, line_end))
    return spans


def _lines_as_units(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a paragraph at line breaks that follow a line without end punctuation."""
    units, unit_start = [], start
    for match in re.finditer(r"\n", text[start:end]):
        pos = start + match.start()
        if not re.search(r"[.!?…:;,\"'”’)\]]\s*$", text[unit_start:pos]) or not text[unit_start:pos].strip():
            units.append((unit_start, pos))
            unit_start = pos + 1
    units.append((unit_start, end))
    return units


def _split_block(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, sentence_start = [], start
    for match in _BOUNDARY.finditer(text, start, end):
        before = text[sentence_start : match.start()].split()
        last_word = before[-1].lower().rstrip(".").lstrip("\"'“‘(") if before else ""
        after = text[match.end() : match.end() + 3].lstrip()
        if match.group().startswith(".") and len(match.group().rstrip("\"'”’)]")) == 1:
            if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
                continue  # "Mr. Smith", "J. Smith", "U.S. officials"
            if after and (after[0].islower() or after[0].isdigit()):
                continue  # "approx. 20", "the U.S. said" -> next word not a sentence start
        spans.append((sentence_start, match.end()))
        sentence_start = match.end()
    spans.append((sentence_start, end))
    return [s for s in (_strip(text, a, b) for a, b in spans) if s is not None]


def _strip(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def _cut_long_sentence(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    words = list(_WORD.finditer(text, start, end))
    return [(words[i].start(), words[min(i + max_words, len(words)) - 1].end()) for i in range(0, len(words), max_words)]


def chunk_document(document: Document, max_words: int = 100, overlap_sentences: int = 1) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_words` words, with overlap."""
    text = document.text
    units: list[tuple[int, int, int]] = []  # (start, end, words)
    for start, end in split_sentences(text):
        n_words = len(_WORD.findall(text, start, end))
        if n_words > max_words:
            units.extend((a, b, len(_WORD.findall(text, a, b))) for a, b in _cut_long_sentence(text, start, end, max_words))
        else:
            units.append((start, end, n_words))
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, words = i, 0
        while j < len(units) and (j == i or words + units[j][2] <= max_words):
            words += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        chunks.append(Chunk(document.id, start, end, text[start:end]))
        if j >= len(units):
            break
        i = max(i + 1, j - overlap_sentences)
    return chunks
