"""SQuAD-format data: loading examples and the official EM/F1 scoring.

Used by the reader training script and by the evaluation script, so that both
read data and score answers the same way.
"""

from __future__ import annotations

import collections
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SquadExample:
    """One question about one paragraph; `answers` is empty when unanswerable."""

    id: str
    title: str
    context: str
    question: str
    answers: tuple[str, ...] = ()
    answer_starts: tuple[int, ...] = ()
    is_impossible: bool = False
    article_index: int = 0
    paragraph_index: int = 0
    # Other articles' answers to the same question, when the file records that articles disagree
    # (the news question set's `conflicts`): the same story reported with other figures.
    alternatives: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        """What counts as right in the pipeline, where every article is searched: this article's
        answers or another article's report of the same story."""
        return self.answers + tuple(a for a in self.alternatives if a not in self.answers)


@dataclass(frozen=True)
class SquadArticle:
    """An article of a SQuAD file: its title and paragraphs, in order."""

    title: str
    paragraphs: tuple[str, ...] = field(default_factory=tuple)
    document_id: str | None = None  # the archive's own id, when the file names it (the news question set)


def load_squad(path: str | Path) -> tuple[list[SquadArticle], list[SquadExample]]:
    """Read a SQuAD v1.1/v2.0 JSON file into articles and flat examples."""
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    articles: list[SquadArticle] = []
    examples: list[SquadExample] = []
    # The news question set marks a question whose answer differs between articles with
    # "-grp-<group>" in its id, and lists every article's answer under `conflicts`.
    conflicts = {c["group"]: tuple(a["text"] for a in c["answers"]) for c in raw.get("conflicts", [])}
    for a_idx, article in enumerate(raw["data"]):
        paragraphs = []
        for p_idx, paragraph in enumerate(article["paragraphs"]):
            context = paragraph["context"]
            paragraphs.append(context)
            for qa in paragraph["qas"]:
                answers = qa.get("answers", [])
                examples.append(
                    SquadExample(
                        id=str(qa["id"]),
                        title=article.get("title", f"article-{a_idx}"),
                        context=context,
                        question=qa["question"],
                        answers=tuple(a["text"] for a in answers),
                        answer_starts=tuple(int(a["answer_start"]) for a in answers),
                        is_impossible=bool(qa.get("is_impossible", False)) or not answers,
                        article_index=a_idx,
                        paragraph_index=p_idx,
                        alternatives=conflicts.get(str(qa["id"]).partition("-grp-")[2], ()),
                    )
                )
        articles.append(SquadArticle(title=article.get("title", f"article-{a_idx}"), paragraphs=tuple(paragraphs),
                                     document_id=article.get("document_id")))
    return articles, examples


_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, squeeze whitespace (official SQuAD rule)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def f1_score(prediction: str, truth: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    truth_tokens = normalize_answer(truth).split()
    if not pred_tokens or not truth_tokens:
        # Both empty (a correct "no answer") scores 1, otherwise 0.
        return float(pred_tokens == truth_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(truth_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def best_over_truths(metric, prediction: str, truths: tuple[str, ...] | list[str]) -> float:
    """The metric against the closest gold answer; an empty gold list means 'no answer'."""
    if not truths:
        return float(prediction == "")
    return max(metric(prediction, truth) for truth in truths)
