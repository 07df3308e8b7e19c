"""Single-window training features: each question with one window of its paragraph that holds
the answer, and hard negatives ("no answer", labelled on [CLS]); length-bucketed batches.
No torch here: `qa.training.loop` turns features into tensors."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from qa.squad import SquadExample

LOG = logging.getLogger("train_reader")
MAX_QUESTION_TOKENS = 40  # single-window training; shared-norm groups cut questions as served (qa.reader)


@dataclass
class Feature:
    input_ids: list[int]
    token_type_ids: list[int]
    start: int
    end: int

    @property
    def length(self) -> int:
        return len(self.input_ids)


def token_span(offsets: list[tuple[int, int]], char_start: int, char_end: int) -> tuple[int, int] | None:
    """Token indices covering the characters [char_start, char_end) of the context."""
    start = end = None
    for i, (s, e) in enumerate(offsets):
        if start is None and e > char_start:
            start = i
        if s < char_end:
            end = i
    if start is None or end is None or end < start:
        return None
    return start, end


def window_ids(question_ids: list[int], piece: list[int], cls: int, sep: int) -> tuple[list[int], list[int]]:
    """[CLS] question [SEP] piece [SEP], and its token types (0 question, 1 passage)."""
    prefix = 2 + len(question_ids)
    return [cls] + question_ids + [sep] + piece + [sep], [0] * prefix + [1] * (len(piece) + 1)


@dataclass
class _Cutter:
    """Cuts a window of a random length from a tokenized paragraph (`context_tokens`: ids, offsets)."""

    context_tokens: dict[str, tuple[list[int], list[tuple[int, int]]]]
    rng: random.Random
    min_length: int
    max_length: int
    cls: int
    sep: int

    def _bounds(self, n: int, room: int, answer: tuple[int, int] | None,
                exclude: tuple[int, int] | None) -> tuple[int, int] | None:
        """The range of first tokens a window of `room` tokens may start at."""
        if n <= room:
            return 0, 0
        if answer is not None:
            return max(0, answer[1] - room + 1), min(answer[0], n - room)
        if exclude is not None:  # a window of the gold paragraph that leaves the answer out
            choices = list(range(0, exclude[0] - room + 1)) + list(range(exclude[1] + 1, n - room + 1))
            if not choices:
                return None
            chosen = self.rng.choice(choices)
            return chosen, chosen
        return 0, n - room

    def cut(self, question_ids: list[int], context: str, answer: tuple[int, int] | None,
            exclude: tuple[int, int] | None) -> tuple[Feature, int, int] | None:
        """A feature (labelled with `answer`, or on [CLS] without one) and, for a negative, the
        character range of the context it shows."""
        ids, offsets = self.context_tokens[context]
        room = self.rng.randint(self.min_length, self.max_length) - len(question_ids) - 3
        if room < 8:
            return None
        bounds = self._bounds(len(ids), room, answer, exclude)
        if bounds is None or bounds[1] < bounds[0]:
            return None
        begin = self.rng.randint(*bounds)
        piece = ids[begin: begin + room]
        prefix = 2 + len(question_ids)
        input_ids, token_types = window_ids(question_ids, piece, self.cls, self.sep)
        if answer is None:
            return Feature(input_ids, token_types, 0, 0), offsets[begin][0], offsets[begin + len(piece) - 1][1]
        return Feature(input_ids, token_types, prefix + answer[0] - begin, prefix + answer[1] - begin), 0, 0


def _hard_negative(example: SquadExample, question_ids: list[int], answer: tuple[int, int], cutter: _Cutter,
                   paragraphs_by_article: dict[int, list[str]], negative_rate: float) -> Feature | None:
    """Now and then (`negative_rate`) a "no answer" window: another paragraph of the same article
    (what a retriever tends to return), or the gold paragraph without the answer; dropped when
    any gold answer string occurs in it."""
    if cutter.rng.random() >= negative_rate:
        return None
    golds = [a.lower() for a in example.answers]
    others = [p for p in paragraphs_by_article.get(example.article_index, []) if p != example.context]
    if others and cutter.rng.random() < 0.7:
        negative_context = cutter.rng.choice(others)
        made = cutter.cut(question_ids, negative_context, None, None)
    else:
        negative_context = example.context
        made = cutter.cut(question_ids, negative_context, None, answer)
    if made is None:
        return None
    feature, char_start, char_end = made
    text = negative_context[char_start:char_end].lower()
    if any(g in text for g in golds):
        return None
    return feature


def _example_features(example: SquadExample, question_ids: list[int], cutter: _Cutter,
                      paragraphs_by_article: dict[int, list[str]], negative_rate: float) -> list[Feature] | None:
    """The positive window of one question and maybe a hard negative; None when its answer cannot
    be located in tokens or no window holds it."""
    answer = None
    if example.answers:
        start = example.answer_starts[0]
        answer = token_span(cutter.context_tokens[example.context][1], start, start + len(example.answers[0]))
    if answer is None:
        return None
    made = cutter.cut(question_ids, example.context, answer, None)
    if made is None:
        return None
    negative = _hard_negative(example, question_ids, answer, cutter, paragraphs_by_article, negative_rate)
    return [made[0]] if negative is None else [made[0], negative]


def build_features(
    examples: list[SquadExample],
    paragraphs_by_article: dict[int, list[str]],
    tokenizer,
    rng: random.Random,
    min_length: int,
    max_length: int,
    negative_rate: float,
) -> list[Feature]:
    """Turn examples into single-window training features (positives and hard negatives)."""
    contexts = sorted({e.context for e in examples} | {p for ps in paragraphs_by_article.values() for p in ps})
    LOG.info("tokenizing %d paragraphs and %d questions", len(contexts), len(examples))
    encoded = tokenizer(contexts, add_special_tokens=False, return_offsets_mapping=True)
    context_tokens = {c: (ids, offs) for c, ids, offs in zip(contexts, encoded["input_ids"], encoded["offset_mapping"])}
    questions = tokenizer([e.question for e in examples], add_special_tokens=False)["input_ids"]
    cutter = _Cutter(context_tokens, rng, min_length, max_length, tokenizer.cls_token_id, tokenizer.sep_token_id)
    features: list[Feature] = []
    skipped = 0
    for example, question_ids in zip(examples, questions):
        made = _example_features(example, question_ids[:MAX_QUESTION_TOKENS], cutter, paragraphs_by_article,
                                 negative_rate)
        if made is None:
            skipped += 1
            continue
        features.extend(made)
    LOG.info("built %d features (%d questions skipped: answer not locatable)", len(features), skipped)
    return features


def make_batches(features: list, batch_size: int, seed: int) -> list[list[int]]:
    """Length-bucketed batches of features or groups (anything with a `length`): shuffle, sort
    inside mega-batches, shuffle the batches."""
    rng = random.Random(seed)
    order = list(range(len(features)))
    rng.shuffle(order)
    mega = batch_size * 50
    batches: list[list[int]] = []
    for i in range(0, len(order), mega):
        chunk = sorted(order[i : i + mega], key=lambda j: features[j].length)
        batches.extend(chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches
