"""Evaluation on SQuAD-format files: the reader alone, and the whole pipeline.

- `evaluate_reader`: the gold paragraph is given; EM/F1 with the official SQuAD
  normalisation, plus no-answer accuracy for SQuAD v2.0-style files.
- `evaluate_pipeline`: every article of the file becomes a document, every question
  goes through `Assistant.ask` (the code path behind `/ask`), and the report has
  EM/F1 of the top answer and of the best of the top 3, retrieval recall@k,
  no-answer accuracy and latency.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tqdm import tqdm

from qa.coverage import BUCKETS, bucket, coverage
from qa.evidence import with_story_evidence
from qa.ingestion import slugify
from qa.index import NewsIndex
from qa.pipeline import Assistant
from qa.reader import STORY_FEATURES, ExtractiveReader
from qa.squad import SquadArticle, SquadExample, best_over_truths, exact_match, f1_score, normalize_answer
from qa.types import Document, Passage

LOG = logging.getLogger(__name__)
PARAGRAPH_SEPARATOR = "\n\n"
RECALL_AT = (1, 3, 5, 8, 10)
CORRECT_F1 = 0.5  # an answer counts as right (accuracy, calibration labels) at token F1 >= 0.5


def documents_from_squad(articles: list[SquadArticle]) -> list[Document]:
    """One document per article: its paragraphs joined by blank lines, with the archive's own id
    when the file gives one (`document_id`), else one made from the title and position."""
    return [
        Document(id=a.document_id or f"{slugify(a.title)}-{i}", title=a.title.replace("_", " "),
                 text=PARAGRAPH_SEPARATOR.join(a.paragraphs))
        for i, a in enumerate(articles)
    ]


def with_crowd(documents: list[Document], crowd: list[Document]) -> list[Document]:
    """`documents` among `crowd`, each article once: a question file written on the crowd's own
    archive (the news question set) names the archive's ids, and the archive's copy (with its
    metadata) is indexed in its place."""
    archive = {d.id: d for d in crowd}
    own = [archive.get(d.id, d) for d in documents]
    ids = {d.id for d in own}
    return own + [d for d in crowd if d.id not in ids]


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


class ByCoverage:
    """F1 per coverage bucket (`qa.coverage`): how much of the question the gold answer's sentence
    repeats. Low-coverage questions name their story in words the answer's sentence does not hold,
    and are the ones a reader loses when it sees too little context."""

    def __init__(self) -> None:
        self.scores: dict[str, dict[str, list[float]]] = {b: {} for b in BUCKETS}

    @staticmethod
    def bucket_of(example: SquadExample) -> str | None:
        """The bucket of an answerable example, by its first gold answer; None when unanswerable or
        when the answer's place in the context is unknown."""
        if example.is_impossible or not example.answers:
            return None
        start = example.answer_starts[0] if example.answer_starts else example.context.find(example.answers[0])
        if start < 0:
            return None
        return bucket(coverage(example.question, example.context, start, start + len(example.answers[0])))

    def add(self, example: SquadExample, **scores: float) -> None:
        name = self.bucket_of(example)
        if name is not None:
            for metric, value in scores.items():
                self.scores[name].setdefault(metric, []).append(value)

    def report(self) -> dict:
        out = {}
        for name, metrics in self.scores.items():
            counts = [len(v) for v in metrics.values()]
            out[name] = {"questions": counts[0] if counts else 0,
                         **{m: round(100 * statistics.fmean(v), 2) for m, v in metrics.items()}}
        return {"coverage_buckets": out}


FUSIONS = {"dense": (1.0, 0.0), "bm25": (0.0, 1.0), "rrf": (1.0, 1.0), "rrf_dense_1.5": (1.5, 1.0),
           "rrf_bm25_1.5": (1.0, 1.5)}


def evaluate_retrieval(index: NewsIndex, examples: list[SquadExample], article_ids: list[str]) -> dict:
    """Document and answer recall@k of dense-only, BM25-only and fused retrieval."""
    report: dict = {"mode": "retrieval", "questions": len(examples), "chunks": index.stats().chunks}
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
    by_coverage = ByCoverage()
    story = reader.calibration.uses(STORY_FEATURES)
    for example in tqdm(examples, desc="reader", unit="q", mininterval=5):
        passage = Passage(0, "gold", example.title, 0, len(example.context), example.context, 1.0)
        started = time.perf_counter()
        candidates = reader.read(example.question, [passage])
        if story:  # as `Assistant.read` does: only when the calibration weighs it
            candidates = with_story_evidence(example.question, candidates, lambda _: (example.title, example.context))
        latencies.append((time.perf_counter() - started) * 1000)
        best = max(candidates, key=reader.calibration.rank_score, default=None)
        forced = best.text if best else ""
        probability = reader.calibration.probability(best) if best else 0.0
        decided = forced if probability >= threshold else ""
        if not example.is_impossible:
            tally.add("exact_match", best_over_truths(exact_match, forced, example.answers))
            f1 = best_over_truths(f1_score, forced, example.answers)
            tally.add("f1", f1)
            by_coverage.add(example, f1=f1)
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
            **by_coverage.report(),
            "latency_ms_p50": round(percentile(latencies, 0.5), 1),
            "latency_ms_p95": round(percentile(latencies, 0.95), 1)}


def risk_coverage(tops: list[tuple[float, float]], thresholds=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
                  digits: int = 1) -> list:
    """Share of questions answered and accuracy of the answers given, per confidence threshold.

    `tops`: per question, the calibrated probability of the best candidate and its F1 (0
    for any answer to an unanswerable question). An answer is right at F1 >= CORRECT_F1.
    """
    curve = []
    for threshold in thresholds:
        given = [f1 for p, f1 in tops if p >= threshold]
        right = round(100 * sum(f1 >= CORRECT_F1 for f1 in given) / len(given), digits) if given else None
        curve.append({"threshold": threshold, "coverage": round(100 * len(given) / max(1, len(tops)), digits),
                      "accuracy": right})
    return curve


def unanswerable_rejected(tops: list[tuple[float, float]], unanswerable: list[bool], threshold: float,
                          digits: int = 1) -> float | None:
    """The share (%) of the questions no article answers whose top answer scores under `threshold`
    (`tops` as for `risk_coverage`, `unanswerable` beside it); None when every question has an answer."""
    scores = [p for (p, _), none in zip(tops, unanswerable) if none]
    return round(100 * sum(p < threshold for p in scores) / len(scores), digits) if scores else None


def answered_count(questions: int, coverage: float) -> int:
    """How many of `questions` are answered when `coverage` % are: rounded up, and at least one."""
    return max(math.ceil(questions * coverage / 100), 1)


def operating_points(tops: list[tuple[float, float]], coverage: float = 70.0, accuracy: float = 90.0) -> dict:
    """Two points read off the risk-coverage curve of `tops` (as for `risk_coverage`): the share of
    answers that are right when the `coverage` % most confident questions are answered, and the
    largest share of questions that can be answered with `accuracy` % of the answers right."""
    ordered = [f1 >= CORRECT_F1 for _, f1 in sorted(tops, key=lambda t: -t[0])]
    if not ordered:
        return {f"right_at_{coverage:g}_answered": None, f"answered_at_{accuracy:g}_right": None}
    right = np.cumsum(ordered) / np.arange(1, len(ordered) + 1)
    answered = answered_count(len(ordered), coverage)
    meeting = np.nonzero(right >= accuracy / 100)[0]
    return {f"right_at_{coverage:g}_answered": round(100 * float(right[answered - 1]), 2),
            f"answered_at_{accuracy:g}_right": round(100 * (int(meeting[-1]) + 1) / len(ordered), 2)
            if len(meeting) else 0.0}


def reliability(tops: list[tuple[float, float]], bins: int = 10) -> dict:
    """The reliability diagram of the top answers' scores, and the expected calibration error.

    `tops` as for `risk_coverage` (every question counts; any answer to an unanswerable
    question is wrong). Scores fall into `bins` equal bins of 0..1; each bin reports its mean
    score, the share of its answers that are right (F1 >= CORRECT_F1) and its size. The
    expected calibration error is the size-weighted mean gap between the two.
    """
    edges = [i / bins for i in range(bins + 1)]
    diagram, gap = [], 0.0
    for low, high in zip(edges, edges[1:]):
        members = [(p, f1) for p, f1 in tops if low <= p < high or (high == 1.0 and p == 1.0)]
        mean_score = statistics.fmean(p for p, _ in members) if members else None
        right = statistics.fmean(float(f1 >= CORRECT_F1) for _, f1 in members) if members else None
        if members:
            gap += len(members) * abs(mean_score - right)
        diagram.append({"bin": [round(low, 2), round(high, 2)], "count": len(members),
                        "mean_score": None if mean_score is None else round(mean_score, 4),
                        "right": None if right is None else round(right, 4)})
    return {"reliability": diagram, "expected_calibration_error": round(gap / max(1, len(tops)), 4)}


def candidate_features(candidate, probability: float) -> dict:
    """What `--dump` records of one candidate, for fitting the calibration offline."""
    return {"text": candidate.text, "document_id": candidate.document_id, "start": candidate.start,
            "end": candidate.end, "calibrated": round(probability, 5),
            "span_score": round(candidate.span_score, 4), "null_score": round(candidate.null_score, 4),
            "probability": candidate.probability, "no_answer_probability": candidate.no_answer_probability,
            "dense_score": round(candidate.dense_score, 5), "passage_score": candidate.passage_score,
            "answer_probability": candidate.answer_probability,
            "passage_rank": candidate.passage_rank, "articles": candidate.articles,
            "other_probability": candidate.other_probability, "type_fit": candidate.type_fit,
            "words": candidate.words, "story_article": round(candidate.story_article, 5),
            "story_near": round(candidate.story_near, 5), "story_best": round(candidate.story_best, 5),
            "echo": round(candidate.echo, 5), "detail": round(candidate.detail, 5)}


def _tally_question(tally: Tally, example: SquadExample, result, top: str, article_ids: list[str],
                    has_impossible: bool, by_coverage: ByCoverage) -> None:
    """Add one question's scores (`result`: its `AskResult`; `top`: the answer given, "" for none)."""
    truths = () if example.is_impossible else example.accepted
    if not example.is_impossible:
        forced = result.candidates[0][0].text if result.candidates else ""
        confident = [a.text for a in result.answers if a.confident]
        tally.add("top1_exact_match", best_over_truths(exact_match, top, truths))
        top_f1 = best_over_truths(f1_score, top, truths)
        tally.add("top1_f1", top_f1)
        tally.add("top3_exact_match", max([best_over_truths(exact_match, a, truths) for a in confident],
                                          default=0.0))
        tally.add("top3_f1", max([best_over_truths(f1_score, a, truths) for a in confident], default=0.0))
        forced_f1 = best_over_truths(f1_score, forced, truths)
        tally.add("forced_top1_exact_match", best_over_truths(exact_match, forced, truths))
        tally.add("forced_top1_f1", forced_f1)
        by_coverage.add(example, forced_top1_f1=forced_f1, top1_f1=top_f1)
        tally.add("forced_top3_f1", max([best_over_truths(f1_score, c.text, truths)
                                         for c, _ in result.candidates[:3]], default=0.0))
        # What a person sees: the answers shown (confident or hedged guesses), up to three.
        tally.add("right_among_shown", float(max([best_over_truths(f1_score, a.text, truths)
                                                  for a in result.answers[:3]], default=0.0) >= CORRECT_F1))
        _tally_recall(tally, result.passages, article_ids[example.article_index], truths)
        tally.add("answered", float(not result.no_answer))
        if not result.no_answer:
            tally.add("confident_accuracy", float(best_over_truths(f1_score, top, truths) >= CORRECT_F1))
    if has_impossible:
        tally.add("with_no_answer_f1", best_over_truths(f1_score, top, truths))
        tally.add("no_answer_accuracy", float(result.no_answer == example.is_impossible))
        if example.is_impossible:
            tally.add("unanswerable_rejected", float(result.no_answer))


def evaluate_pipeline(assistant: Assistant, documents: list[Document], examples: list[SquadExample],
                      article_ids: list[str], details: bool = False, dump=None) -> dict:
    """Questions through `Assistant.ask` against an index of `documents`.

    `article_ids[e.article_index]` is the id of the document an example came from.
    With `details`, the report lists each question's top answer beside the gold ones.
    """
    tally = Tally()
    latencies = []
    read_counts: list[int] = []  # passages the reader read per question (fewer when the first were enough)
    predictions = []
    has_impossible = any(e.is_impossible for e in examples)
    dump_file = open(dump, "w", encoding="utf-8") if dump else None
    tops: list[tuple[float, float]] = []  # per question: calibrated probability and F1 of the best candidate
    below: list[tuple[float, float]] = []  # the same of the second and third candidates (`Assistant.rank`)
    by_coverage = ByCoverage()
    for example in tqdm(examples, desc="pipeline", unit="q", mininterval=5):
        result = assistant.ask(example.question, top_k=3)
        latencies.append(result.took_ms)
        read_counts.append(result.passages_read)
        truths = () if example.is_impossible else example.accepted
        best = result.candidates[0] if result.candidates else None
        tops.append((best[1] if best else 0.0, best_over_truths(f1_score, best[0].text, truths) if best else 0.0))
        below += [(p, best_over_truths(f1_score, c.text, truths)) for c, p in result.candidates[1:3]]
        top = result.answers[0].text if result.answers and not result.no_answer else ""
        if dump_file:
            dump_file.write(json.dumps({
                "id": example.id, "question": example.question, "gold": list(truths),
                "gold_document": article_ids[example.article_index] if not example.is_impossible else None,
                "candidates": [{**candidate_features(c, p), "f1": round(best_over_truths(f1_score, c.text, truths), 4)}
                               for c, p in result.candidates[:10]]}) + "\n")
        if details:
            predictions.append({"id": example.id, "question": example.question, "answer": top,
                                "score": result.answers[0].score if result.answers else None, "gold": list(truths),
                                "f1": round(100 * best_over_truths(f1_score, top, truths), 1)})
        _tally_question(tally, example, result, top, article_ids, has_impossible, by_coverage)
    if dump_file:
        dump_file.close()
    disagreeing = sum(1 for e in examples if e.alternatives)
    return {"mode": "pipeline", "questions": len(examples), "documents": len(documents), **tally.report(),
            **by_coverage.report(),
            # questions whose articles disagree: another article's answer counts as right too
            **({"questions_with_disagreeing_articles": disagreeing} if disagreeing else {}),
            "threshold": assistant.threshold, "risk_coverage": risk_coverage(tops), **reliability(tops),
            "alternatives_calibration_error": reliability(below)["expected_calibration_error"] if below else None,
            "latency_ms_p50": round(percentile(latencies, 0.5), 1),
            "latency_ms_p95": round(percentile(latencies, 0.95), 1),
            "latency_ms_mean": round(statistics.fmean(latencies), 1) if latencies else 0.0,
            "passages_read_mean": round(statistics.fmean(read_counts), 2) if read_counts else 0.0,
            **({"predictions": predictions} if details else {})}


# -- the crowded archive ------------------------------------------------------------------
BBC_ARCHIVE = "bbc-news-2004-2005.jsonl"
SQUAD_TRAIN = "squad-train-v1.1.json"


class CachingEmbedder:
    """An `Embedder` whose chunk vectors are kept on disk between evaluation runs.

    Building a crowded evaluation archive embeds ~20,000 chunks (minutes on two
    cores); every experiment after the first reuses them. The cache is keyed by the
    sha1 of each text and stored per embedder fingerprint (a hash of the weights and
    the back end), so another model never sees these vectors. Evaluation only: the product's own incremental reuse
    lives in `NewsIndex.build`.
    """

    def __init__(self, embedder, cache_dir) -> None:
        self.embedder = embedder
        self.name, self.dimension, self.fingerprint = embedder.name, embedder.dimension, embedder.fingerprint
        self.path = Path(cache_dir) / f"{embedder.name}-{embedder.fingerprint}.npz"
        self.vectors: dict[str, object] = {}
        if self.path.exists():
            data = np.load(self.path)
            self.vectors = dict(zip(data["keys"].tolist(), data["vectors"]))
        self._dirty = False

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False):
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self.vectors}.items(), key=lambda kt: len(kt[1]))
        if len(missing) > 1:
            vectors = self.embedder.encode([t for _, t in missing], batch_size=batch_size, progress=progress)
            self.vectors.update({k: v for (k, _), v in zip(missing, vectors)})
            self._dirty = True
        elif missing:  # a single question: do not grow the cache with every question asked
            return self.embedder.encode(texts, batch_size=batch_size)
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(self.vectors)), vectors=np.stack(list(self.vectors.values())))
        tmp.replace(self.path)
        self._dirty = False


def crowd_documents(shared_dir, squad_train_articles: int = 20, seed: int = 7) -> list[Document]:
    """Distractor articles for a crowded archive: the BBC news archive plus Wikipedia neighbours.

    The 2,225 BBC articles (loaded exactly as `newsqa build` would load them) stand
    for a newsroom's own archive; a seeded sample of SQuAD *train* articles adds
    encyclopaedic neighbours (never a dev article: train and dev share none).
    """
    from qa.ingestion import load_articles
    from qa.squad import load_squad

    shared_dir = Path(shared_dir)
    documents = load_articles([shared_dir / "corpus" / BBC_ARCHIVE])
    if squad_train_articles:
        articles, _ = load_squad(shared_dir / "data" / "qa" / SQUAD_TRAIN)
        chosen = crowd_train_articles(len(articles), squad_train_articles, seed)
        for document in documents_from_squad([articles[i] for i in chosen]):
            documents.append(Document(id=f"squad-train-{document.id}", title=document.title, text=document.text))
    return documents


def crowd_train_articles(total: int, count: int, seed: int = 7) -> list[int]:
    """Which SQuAD train articles (by position in the file) `crowd_documents` indexes."""
    return sorted(random.Random(seed).sample(range(total), count))


# The split `newsqa calibrate` uses unless told otherwise (calibration.json records it).
CALIBRATION_SPLIT_DEFAULTS = {"seed": 13, "questions": 1200, "unanswerable_share": 0.33}


@dataclass
class CalibrationSplit:
    """How `newsqa calibrate` divides a held-out file, and what it never asked.

    `indexed` are the articles put in the archive; `asked` the questions the calibration
    was fitted on (answerable ones about indexed articles, and questions about the other
    articles, made unanswerable because those articles are absent); `unseen` the rest,
    labelled the same way, for a report on questions the calibration has not seen.
    """

    indexed: list[int]
    asked: list[SquadExample]
    unseen: list[SquadExample]


def calibration_split(articles: list[SquadArticle], examples: list[SquadExample], rng: random.Random,
                      questions: int, unanswerable_share: float) -> CalibrationSplit:
    """The seeded split both scripts agree on; it consumes `rng` exactly as the calibration always has,
    so that a calibration fitted before this function existed keeps its split."""
    order = list(range(len(articles)))
    rng.shuffle(order)
    indexed = set(order[: len(order) // 2])
    answerable = [e for e in examples if e.article_index in indexed]
    unanswerable = [e for e in examples if e.article_index not in indexed]
    n_unanswerable = int(questions * unanswerable_share / (1 - unanswerable_share))
    asked_answerable = rng.sample(answerable, min(questions, len(answerable)))
    asked_unanswerable = rng.sample(unanswerable, min(n_unanswerable, len(unanswerable)))
    asked_ids = {e.id for e in asked_answerable + asked_unanswerable}

    def absent(example: SquadExample) -> SquadExample:
        return SquadExample(**{**example.__dict__, "answers": (), "answer_starts": (), "is_impossible": True})

    unseen = [e if e.article_index in indexed else absent(e) for e in examples if e.id not in asked_ids]
    return CalibrationSplit(indexed=sorted(indexed), asked=asked_answerable + [absent(e) for e in asked_unanswerable],
                            unseen=unseen)
