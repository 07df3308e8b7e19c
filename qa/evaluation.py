"""Evaluation on SQuAD-format files: the reader alone, and the whole pipeline.

- `evaluate_reader`: the gold paragraph is given; EM/F1 with the official SQuAD
  normalisation, plus no-answer accuracy for SQuAD v2.0-style files.
- `evaluate_pipeline`: every article of the file becomes a document, every question
  goes through `Assistant.ask` (the code path behind `/ask`), and the report has
  EM/F1 of the top answer and of the best of the top 3, retrieval recall@k,
  no-answer accuracy and latency.
"""

from __future__ import annotations

import logging
import random
import statistics
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from qa.documents import Document, slugify
from qa.index import NewsIndex, Passage
from qa.pipeline import Assistant
from qa.reader import ExtractiveReader
from qa.squad import SquadArticle, SquadExample, best_over_truths, exact_match, f1_score, normalize_answer

LOG = logging.getLogger(__name__)
PARAGRAPH_SEPARATOR = "\n\n"
RECALL_AT = (1, 3, 5, 8)


def documents_from_squad(articles: list[SquadArticle]) -> list[Document]:
    """One document per article: its paragraphs joined by blank lines."""
    return [
        Document(id=f"{slugify(a.title)}-{i}", title=a.title.replace("_", " "), text=PARAGRAPH_SEPARATOR.join(a.paragraphs))
        for i, a in enumerate(articles)
    ]


def sample(examples: list[SquadExample], limit: int | None, seed: int = 0) -> list[SquadExample]:
    """A seeded random subset (all of them when `limit` is None), in file order."""
    if limit is None or limit >= len(examples):
        return examples
    chosen = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in chosen]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@dataclass
class Tally:
    """Running sums of per-question scores, reported as percentages."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, value: float) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + value
        self.counts[name] = self.counts.get(name, 0) + 1

    def report(self) -> dict[str, float]:
        return {name: round(100 * self.sums[name] / self.counts[name], 2) for name in self.sums}


FUSIONS = {"dense": (1.0, 0.0), "bm25": (0.0, 1.0), "rrf": (1.0, 1.0), "rrf_dense_1.5": (1.5, 1.0),
           "rrf_bm25_1.5": (1.0, 1.5)}


def evaluate_retrieval(index: NewsIndex, examples: list[SquadExample], article_ids: list[str]) -> dict:
    """Document and answer recall@k of dense-only, BM25-only and fused retrieval."""
    report: dict = {"mode": "retrieval", "questions": len(examples), "chunks": len(index.chunks)}
    answerable = [e for e in examples if not e.is_impossible]
    for name, (dense_weight, sparse_weight) in FUSIONS.items():
        tally = Tally()
        for example in tqdm(answerable, desc=name, unit="q", mininterval=5):
            passages = index.search(example.question, k=max(RECALL_AT), dense_weight=dense_weight,
                                    sparse_weight=sparse_weight)
            _tally_recall(tally, passages, article_ids[example.article_index], example.answers)
        report[name] = tally.report()
    return report


def _tally_recall(tally: Tally, passages: list[Passage], gold_id: str, answers: tuple[str, ...]) -> None:
    ranked_docs = [p.document_id for p in passages]
    gold_answers = [normalize_answer(a) for a in answers]
    for k in RECALL_AT:
        tally.add(f"document_recall@{k}", float(gold_id in ranked_docs[:k]))
        tally.add(f"answer_recall@{k}", float(any(
            any(g and g in normalize_answer(p.text) for g in gold_answers) for p in passages[:k])))


def evaluate_reader(reader: ExtractiveReader, examples: list[SquadExample], threshold: float | None = None) -> dict:
    """Reader on the gold paragraph: forced-answer EM/F1, and no-answer decisions if any."""
    threshold = reader.calibration.threshold if threshold is None else threshold
    tally = Tally()
    latencies = []
    has_impossible = any(e.is_impossible for e in examples)
    for example in tqdm(examples, desc="reader", unit="q", mininterval=5):
        passage = Passage(0, "gold", example.title, 0, len(example.context), example.context, 1.0)
        started = time.perf_counter()
        candidates = reader.read(example.question, [passage])
        latencies.append((time.perf_counter() - started) * 1000)
        best = max(candidates, key=reader.calibration.probability, default=None)
        forced = best.text if best else ""
        probability = reader.calibration.probability(best) if best else 0.0
        decided = forced if probability >= threshold else ""
        if not example.is_impossible:
            tally.add("exact_match", best_over_truths(exact_match, forced, example.answers))
            tally.add("f1", best_over_truths(f1_score, forced, example.answers))
        if has_impossible:
            truths = () if example.is_impossible else example.answers
            tally.add("with_threshold_exact_match", best_over_truths(exact_match, decided, truths))
            tally.add("with_threshold_f1", best_over_truths(f1_score, decided, truths))
            tally.add("no_answer_accuracy", float((decided == "") == example.is_impossible))
            if example.is_impossible:
                tally.add("unanswerable_rejected", float(decided == ""))
            else:
                tally.add("answerable_answered", float(decided != ""))
    return {"mode": "reader", "questions": len(examples), "threshold": threshold, **tally.report(),
            "latency_ms_p50": round(percentile(latencies, 0.5), 1),
            "latency_ms_p95": round(percentile(latencies, 0.95), 1)}


def evaluate_pipeline(assistant: Assistant, documents: list[Document], examples: list[SquadExample],
                      article_ids: list[str], details: bool = False) -> dict:
    """Questions through `Assistant.ask` against an index of `documents`.

    `article_ids[e.article_index]` is the id of the document an example came from.
    With `details`, the report lists each question's top answer beside the gold ones.
    """
    tally = Tally()
    latencies = []
    predictions = []
    has_impossible = any(e.is_impossible for e in examples)
    for example in tqdm(examples, desc="pipeline", unit="q", mininterval=5):
        result = assistant.ask(example.question, top_k=3)
        latencies.append(result.took_ms)
        truths = () if example.is_impossible else example.answers
        top = result.answers[0].text if result.answers else ""
        if details:
            predictions.append({"id": example.id, "question": example.question, "answer": top,
                                "score": result.answers[0].score if result.answers else None, "gold": list(truths),
                                "f1": round(100 * best_over_truths(f1_score, top, truths), 1)})
        if not example.is_impossible:
            forced = result.candidates[0][0].text if result.candidates else ""
            tally.add("top1_exact_match", best_over_truths(exact_match, top, truths))
            tally.add("top1_f1", best_over_truths(f1_score, top, truths))
            tally.add("top3_exact_match", max([best_over_truths(exact_match, a.text, truths) for a in result.answers],
                                              default=0.0))
            tally.add("top3_f1", max([best_over_truths(f1_score, a.text, truths) for a in result.answers],
                                     default=0.0))
            tally.add("forced_top1_f1", best_over_truths(f1_score, forced, truths))
            _tally_recall(tally, result.passages, article_ids[example.article_index], truths)
            tally.add("answered", float(bool(result.answers)))
        if has_impossible:
            tally.add("with_no_answer_f1", best_over_truths(f1_score, top, truths))
            tally.add("no_answer_accuracy", float(result.no_answer == example.is_impossible))
            if example.is_impossible:
                tally.add("unanswerable_rejected", float(result.no_answer))
    return {"mode": "pipeline", "questions": len(examples), "documents": len(documents), **tally.report(),
            "latency_ms_p50": round(percentile(latencies, 0.5), 1),
            "latency_ms_p95": round(percentile(latencies, 0.95), 1),
            "latency_ms_mean": round(statistics.fmean(latencies), 1) if latencies else 0.0,
            **({"predictions": predictions} if details else {})}
