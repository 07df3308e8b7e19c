"""Shared-normalization training groups (multi-passage training): each question read with several
windows at once, as the pipeline reads it. No torch here (the loss is in `qa.training.loop`).

The negatives are the top passages of the project's own BM25 retriever (`qa.bm25`), and the
question is cut at the reader's serving cap (`qa.reader.MAX_QUESTION_TOKENS`). Both are imported
only when the caller hands in none: the bare GPU path (`qa.training.table`) hands in a ranker that
reads a precomputed table and the cap recorded beside it, so it runs without the serving stack.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Callable

from tqdm import tqdm

from qa.squad import SquadExample
from qa.training.data import training_paragraphs
from qa.training.features import token_span, window_ids

LOG = logging.getLogger("train_reader")
NEGATIVE_SLACK = 8  # BM25 passages asked beyond `negatives`, as some hold a gold answer or are the gold one

Ranker = Callable[[list[str]], Callable[[str, int], list[tuple[int, float]]]]


@dataclass
class Group:
    """One question read with several windows at once, as the pipeline reads it.

    `windows` are (input_ids, token_type_ids) pairs: the gold paragraph's window that
    holds the answer (unless the group teaches "no answer") and windows of passages
    that the project's BM25 retriever returns for the question from other paragraphs
    and articles. `answer` is (window, start, end) in token positions, or None.
    """

    windows: list[tuple[list[int], list[int]]]
    answer: tuple[int, int, int] | None

    @property
    def length(self) -> int:
        return sum(len(ids) for ids, _ in self.windows)


@dataclass
class _Grouper:
    paragraphs: list[str]
    tokens: dict[str, tuple[list[int], list[tuple[int, int]]]]
    top_bm25: Callable[[str, int], list[tuple[int, float]]]
    rng: random.Random
    max_length: int
    negatives: int
    no_answer_rate: float
    cls: int
    sep: int

    def group(self, example: SquadExample, question_ids: list[int]) -> Group | None:
        """The question's group, or None when its answer does not fit a window or too few windows remain."""
        room = self.max_length - len(question_ids) - 3
        ids, offsets = self.tokens[example.context]
        span = None
        if example.answers:
            start = example.answer_starts[0]
            span = token_span(offsets, start, start + len(example.answers[0]))
        if span is None or span[1] - span[0] >= room:
            return None
        windows: list[tuple[list[int], list[int]]] = []
        answer = None
        if self.rng.random() >= self.no_answer_rate:
            lo, hi = max(0, span[1] - room + 1), min(span[0], max(0, len(ids) - room))
            begin = self.rng.randint(lo, max(lo, hi))
            windows.append(window_ids(question_ids, ids[begin: begin + room], self.cls, self.sep))
            prefix = 2 + len(question_ids)
            answer = (0, prefix + span[0] - begin, prefix + span[1] - begin)
        self._add_negatives(example, question_ids, room, windows, wanted=self.negatives + (answer is not None))
        if len(windows) < 2:
            return None
        order = list(range(len(windows)))
        self.rng.shuffle(order)  # the gold window's place must teach nothing
        if answer is not None:
            answer = (order.index(0), answer[1], answer[2])
        return Group([windows[i] for i in order], answer)

    def _add_negatives(self, example: SquadExample, question_ids: list[int], room: int,
                       windows: list[tuple[list[int], list[int]]], wanted: int) -> None:
        """BM25's best other paragraphs that hold no gold answer, a random window of each, until `wanted`."""
        golds = [a.lower() for a in example.answers]
        for index, _ in self.top_bm25(example.question, self.negatives + NEGATIVE_SLACK):
            if len(windows) >= wanted:
                break
            text = self.paragraphs[index]
            if text == example.context or any(g in text.lower() for g in golds):
                continue
            other, _ = self.tokens[text]
            begin = self.rng.randint(0, max(0, len(other) - room))
            windows.append(window_ids(question_ids, other[begin: begin + room], self.cls, self.sep))


def build_groups(examples: list[SquadExample], paragraphs_by_article: dict[int, list[str]], tokenizer,
                 rng: random.Random, max_length: int, negatives: int, no_answer_rate: float, *,
                 ranker: Ranker | None = None, question_tokens: int | None = None) -> list[Group]:
    """Shared-normalization training groups: gold window + retrieved negatives per question.

    Windows and question lengths match serving (`max_length` tokens, questions cut at
    `question_tokens`, by default the reader's MAX_QUESTION_TOKENS). Negatives are the top
    passages of `ranker` (by default the project's sparse retriever, `qa.bm25.bm25_ranker`)
    that do not contain a gold answer: the near-misses that a crowded archive puts beside
    the right passage.
    """
    if ranker is None:
        from qa.bm25 import bm25_ranker as ranker
    if question_tokens is None:
        from qa.reader import MAX_QUESTION_TOKENS as question_tokens

    paragraphs = training_paragraphs(paragraphs_by_article, examples)
    LOG.info("BM25 over %d paragraphs; tokenizing", len(paragraphs))
    top_bm25 = ranker(paragraphs)
    encoded = tokenizer(paragraphs, add_special_tokens=False, return_offsets_mapping=True)
    tokens = {p: (ids, offs) for p, ids, offs in zip(paragraphs, encoded["input_ids"], encoded["offset_mapping"])}
    questions = tokenizer([e.question for e in examples], add_special_tokens=False)["input_ids"]
    grouper = _Grouper(paragraphs, tokens, top_bm25, rng, max_length, negatives, no_answer_rate,
                       tokenizer.cls_token_id, tokenizer.sep_token_id)
    groups: list[Group] = []
    skipped = 0
    for example, question_ids in tqdm(list(zip(examples, questions)), desc="groups", unit="q", mininterval=10):
        group = grouper.group(example, question_ids[:question_tokens])
        if group is None:
            skipped += 1
            continue
        groups.append(group)
    LOG.info("built %d groups (%d questions skipped)", len(groups), skipped)
    return groups
