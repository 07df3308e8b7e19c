"""Retrieve small, read big: the windows the reader reads around the retrieved chunks.

The retriever ranks short chunks (100 words), which keeps its ranking precise. But the
sentence that holds an answer often refers to its story as "it", "he" or "the club", and
names it a few sentences earlier: a 100-word chunk separates the two, and the reader, seeing
only "It is 241 meters long", cannot tell which "it" the question means. So each retrieved
chunk is read inside a window grown from its neighbours in the same article:

- the window is the chunk grown by whole sentences of its article, mostly backwards (where a
  pronoun's antecedent is), up to `words` words;
- windows of one article that overlap or touch are merged into one, so no text is read twice;
- windows come in the order of their best chunk, and the reading stops adding windows once
  `budget` words are planned (a chunk already inside a window costs nothing);
- every window keeps exact offsets: `window.text == document.text[window.start:window.end]`.

`plan_windows` is a pure function of the retrieved passages and their articles' texts, so it
is tested on hand-worked cases; `qa.pipeline.Assistant.read` calls it between retrieval and
the reader.

Search within the story: in a long article the chunk that holds the answer may name neither the
story nor anything else of the question but what is asked ("It is 241 meters long"), and ranks
below the article's other chunks and other articles' in a search of the whole archive. Searched
within the article of the best passage alone (the story the question most likely names), it
ranks high. `with_story_chunks` places the best such chunks not yet retrieved among the passages
read first, in place of the last ones the archive-wide search returned (what a question reads, and
so its cost, stays the same).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from qa.chunking import split_sentences
from qa.types import Passage

_WORD = re.compile(r"\S+")
# Share of a window's growth spent before its chunk: a pronoun's antecedent comes before it.
BEFORE_SHARE = 0.7


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    words: int


@dataclass(frozen=True)
class Window:
    """A window to read: its passage (text with exact offsets, rank and scores of its best chunk)
    and the ranks of the retrieved chunks it covers."""

    passage: Passage
    hits: tuple[int, ...]


def _units(text: str) -> list[_Unit]:
    return [_Unit(a, b, len(_WORD.findall(text, a, b))) for a, b in split_sentences(text)]


def _grow(units: list[_Unit], first: int, last: int, words: int) -> tuple[int, int]:
    """Grow the unit range [first, last] by whole units to at most `words` words (never shrink)."""
    have = sum(u.words for u in units[first:last + 1])
    spare = max(0, words - have)
    before = int(spare * BEFORE_SHARE)
    while first > 0 and units[first - 1].words <= before:
        first -= 1
        before -= units[first].words
        spare -= units[first].words
    while last + 1 < len(units) and units[last + 1].words <= spare:  # what the start left, after
        last += 1
        spare -= units[last].words
    while first > 0 and units[first - 1].words <= spare:  # the article ended: spend the rest before
        first -= 1
        spare -= units[first].words
    return first, last


def plan_windows(passages: list[Passage], text_of: Callable[[str], str | None], words: int,
                 budget: int | None = None, min_article_words: int = 0) -> list[Window]:
    """The windows to read for `passages` (the retriever's order), each grown to about `words` words.

    `text_of(document_id)` gives an article's stored text (None when unknown: the chunk is read
    as it is). A chunk of an article under `min_article_words` words is read as it is too. Windows
    of one article that overlap or touch are merged; a window is not added once `budget` words are
    planned (None: no budget), except the first, which is always read.
    """
    windows: list[dict] = []  # {"doc", "first", "last", "passage", "hits"}, in reading order
    texts: dict[str, str | None] = {}  # each article asked for once, however many of its chunks were retrieved
    units_of: dict[str, list[_Unit]] = {}
    planned = 0  # words in the windows planned so far

    def span_words(doc: str, first: int, last: int) -> int:
        return sum(u.words for u in units_of[doc][first:last + 1])

    for rank, hit in enumerate(passages):
        if hit.document_id not in texts:
            text = text_of(hit.document_id)
            short = text is not None and min_article_words and len(_WORD.findall(text)) < min_article_words
            texts[hit.document_id] = None if short else text
        text = texts[hit.document_id]
        inside: list[int] = []
        if text is not None and text[hit.start:hit.end] == hit.text:
            units = units_of.setdefault(hit.document_id, _units(text))
            inside = [i for i, u in enumerate(units) if u.start < hit.end and u.end > hit.start]
        if not inside:  # an article the store cannot give back: read the chunk as retrieved
            cost = len(_WORD.findall(hit.text))
            if budget is None or not windows or planned + cost <= budget:
                windows.append({"doc": None, "passage": hit, "hits": [rank]})
                planned += cost
            continue
        doc = hit.document_id
        container = next((w for w in windows if w["doc"] == doc
                          and w["first"] <= inside[0] and inside[-1] <= w["last"]), None)
        if container is not None:  # read already, inside an earlier window
            container["hits"].append(rank)
            continue
        for first, last in (_grow(units_of[doc], inside[0], inside[-1], words), (inside[0], inside[-1])):
            same = [w for w in windows if w["doc"] == doc and w["first"] <= last + 1 and first <= w["last"] + 1]
            merged = (min([first] + [w["first"] for w in same]), max([last] + [w["last"] for w in same]))
            cost = span_words(doc, *merged) - sum(span_words(doc, w["first"], w["last"]) for w in same)
            if budget is None or not windows or planned + cost <= budget:
                break
        else:
            continue  # over the budget even ungrown: not read
        planned += cost
        keep = same[0] if same else {"doc": doc, "passage": hit, "hits": []}
        keep.update(first=merged[0], last=merged[1],
                    hits=sorted({rank, *keep["hits"], *(r for w in same[1:] for r in w["hits"])}))
        for other in same[1:]:
            windows.remove(other)
        if not same:
            windows.append(keep)
    return [_window(w, units_of, texts) for w in windows]


def with_story_chunks(passages: list[Passage], story: list[Passage], first: int,
                      limit: int) -> tuple[list[Passage], int]:
    """`passages` (the retriever's order) with up to `limit` chunks of `story` (a search within the best
    passage's article, best first) that are not among them, placed right after the first `first`
    passages so that they are read with those, in place of the last retrieved passages: a question
    reads as many passages as before. Also how many passages to read first now (0 stays 0: everything
    at once)."""
    have = {p.chunk_id for p in passages}
    extra = [p for p in story if p.chunk_id not in have][:max(0, min(limit, len(passages) - 1))]
    if not extra:
        return passages, first
    split = first if 0 < first < len(passages) else len(passages)
    head, tail = passages[:split], passages[split:]
    if len(extra) <= len(tail):
        tail = tail[:len(tail) - len(extra)]
    else:
        head, tail = head[:len(passages) - len(extra)], []
    return head + extra + tail, (len(head) + len(extra) if first else 0)


def _window(plan: dict, units_of: dict[str, list[_Unit]], texts: dict[str, str | None]) -> Window:
    best: Passage = plan["passage"]
    if plan["doc"] is None:
        return Window(best, tuple(plan["hits"]))
    units = units_of[plan["doc"]]
    start, end = units[plan["first"]].start, units[plan["last"]].end
    return Window(replace(best, start=start, end=end, text=texts[plan["doc"]][start:end]), tuple(plan["hits"]))
