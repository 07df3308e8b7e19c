#!/usr/bin/env python
"""Fit the reader's answer probability and no-answer threshold on held-out questions.

    python scripts/calibrate_reader.py                       # TyDi QA English (never trained on)
    python scripts/calibrate_reader.py --file other.json --questions 1500

The held-out file's articles are split in two seeded halves; only the first half
is indexed. Questions about indexed articles should be answered, questions about
the other half should get "no answer" (their articles are not in the index). Every
question goes through the pipeline (`Assistant.ask`), and its top distinct
candidates are labelled correct when their F1 with a gold answer is at least 0.5.

A logistic regression on (margin over the window's no-answer score, span score,
retrieval score) gives P(correct); the threshold is the probability that maximises
the SQuAD v2-style F1 (abstaining scores 1 on unanswerable questions, 0 otherwise).
Writes `calibration.json` into the reader directory.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa.config import PROJECT_ROOT, Settings  # noqa: E402
from qa.evaluation import documents_from_squad  # noqa: E402
from qa.index import Embedder, NewsIndex  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402
from qa.reader import CALIBRATION_FILE, ExtractiveReader  # noqa: E402
from qa.squad import SquadExample, best_over_truths, f1_score, load_squad  # noqa: E402

DEFAULT_FILE = PROJECT_ROOT.parent / "shared" / "data" / "qa" / "tydiqa-en-train.json"
CANDIDATES_PER_QUESTION = 5


def features(candidate) -> list[float]:
    return [candidate.margin, candidate.span_score, candidate.passage_score]


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="held-out SQuAD-format file")
    parser.add_argument("--reader-model", type=Path, default=settings.reader_model)
    parser.add_argument("--reader-backend", choices=["auto", "onnx", "torch"], default=settings.reader_backend)
    parser.add_argument("--questions", type=int, default=1200, help="answerable questions to ask")
    parser.add_argument("--unanswerable-share", type=float, default=0.33)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from sklearn.linear_model import LogisticRegression
    from tqdm import tqdm

    rng = random.Random(args.seed)
    articles, examples = load_squad(args.file)
    order = list(range(len(articles)))
    rng.shuffle(order)
    indexed = set(order[: len(order) // 2])
    kept = [articles[i] for i in sorted(indexed)]
    answerable = [e for e in examples if e.article_index in indexed]
    unanswerable = [e for e in examples if e.article_index not in indexed]
    n_unanswerable = int(args.questions * args.unanswerable_share / (1 - args.unanswerable_share))
    questions: list[SquadExample] = rng.sample(answerable, min(args.questions, len(answerable)))
    questions += [SquadExample(**{**e.__dict__, "answers": (), "is_impossible": True})
                  for e in rng.sample(unanswerable, min(n_unanswerable, len(unanswerable)))]

    embedder = Embedder(settings.embedding_model_path(), settings.embedding_model_name)
    reader = ExtractiveReader(args.reader_model, backend=args.reader_backend)
    index = NewsIndex.build(documents_from_squad(kept), embedder, progress=True)
    assistant = Assistant(index, reader, settings.passages_to_read, threshold=0.0)

    rows, labels, per_question = [], [], []
    for example in tqdm(questions, desc="calibration", unit="q", mininterval=5):
        result = assistant.ask(example.question, top_k=CANDIDATES_PER_QUESTION)
        scored = []
        for candidate, _ in result.candidates[:CANDIDATES_PER_QUESTION]:
            f1 = best_over_truths(f1_score, candidate.text, example.answers) if example.answers else 0.0
            rows.append(features(candidate))
            labels.append(int(f1 >= 0.5))
            scored.append((features(candidate), f1))
        per_question.append((example.is_impossible, scored))

    x, y = np.array(rows), np.array(labels)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    w_margin, w_span, w_retrieval = (float(v) for v in model.coef_[0])
    bias = float(model.intercept_[0])

    def probability(row: list[float]) -> float:
        return float(1 / (1 + np.exp(-(w_margin * row[0] + w_span * row[1] + w_retrieval * row[2] + bias))))

    tops = []  # (probability of the best candidate, its F1, unanswerable?)
    for impossible, scored in per_question:
        best = max(scored, key=lambda s: probability(s[0]), default=None)
        tops.append((probability(best[0]) if best else 0.0, best[1] if best else 0.0, impossible))

    def squad2_f1(threshold: float) -> float:
        return float(np.mean([(f1 if p >= threshold else 0.0) if not imp else float(p < threshold)
                              for p, f1, imp in tops]))

    grid = np.linspace(0.02, 0.98, 49)
    scores = [squad2_f1(t) for t in grid]
    threshold = float(grid[int(np.argmax(scores))])
    answered_right = np.mean([p >= threshold and f1 >= 0.5 for p, f1, imp in tops if not imp])
    rejected = np.mean([p < threshold for p, _, imp in tops if imp])
    calibration = {
        "w_margin": round(w_margin, 5), "w_span": round(w_span, 5), "w_retrieval": round(w_retrieval, 5),
        "bias": round(bias, 5), "threshold": round(threshold, 3),
        "fitted_on": args.file.name, "questions": len(questions), "candidates": len(rows),
        "unanswerable_questions": sum(imp for imp, _ in per_question),
        "held_out_squad2_f1_at_threshold": round(100 * max(scores), 2),
        "answerable_answered_correctly": round(100 * float(answered_right), 2),
        "unanswerable_rejected": round(100 * float(rejected), 2),
        "reader_backend": reader.backend, "date": time.strftime("%Y-%m-%d"),
    }
    (args.reader_model / CALIBRATION_FILE).write_text(json.dumps(calibration, indent=2) + "\n")
    print(json.dumps(calibration, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
