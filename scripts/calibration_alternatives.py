"""Other ways to fit the calibration, held out on its own questions (issue #28): measured, none shipped.

    python scripts/calibration_alternatives.py DUMP... [--folds 5] [--variants logistic trees weighted shapes trees-shapes]

DUMPs are the calibration's dumps (`newsqa calibrate` writes them to runs/calibration/; the news and
story halves are `newsqa evaluate --mode pipeline --dump` files). Each fit is held out by article
(`qa.fitting.folds_of`, `GroupKFold`), as `qa.fitting.cross_validate` does: fitted on the first
candidate of its training questions in the dump's order (as `qa.fitting.fit`), it scores every
candidate of a held-out question, and the one it scores highest is that question's first answer
(as the pipeline ranks). On the shipped calibration's features:

- `logistic`: the shipped recipe (`LogisticRegression(C=1)`), the baseline.
- `trees`: gradient-boosted trees of depth 3 (`HistGradientBoostingClassifier`), which can weigh
  one feature by another (the detail asked only where the article names the story, say).
- `weighted`: the logistic fit with each news and story question (dumps whose name starts `bbc-`)
  counted twice, nearer the archive the product serves.
- `shapes`: `type_fit` with finer answer shapes: a question about money ("how much ... pay", "what
  price") wants a currency, "how long" a duration or a length, "what percentage" a percentage.
- `trees-shapes`: the trees on the finer shapes.

Printed per dump and over all: the calibration error, the area under the ROC curve, the share
answered at 0.5, the share of those right (an answer to an unanswerable question is wrong), the
share of unanswerable questions rejected, the share right at 70% answered, and for each variant but
the baseline, the share of unanswerable questions the baseline rejects when it answers as many
questions (a threshold's worth of the same trade).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.evaluation import (CORRECT_F1, operating_points, reliability, risk_coverage,  # noqa: E402
                           unanswerable_rejected)
from qa.evidence import type_fit  # noqa: E402
from qa.fitting import EVEN_ODDS, _candidate, dump_groups, folds_of  # noqa: E402
from qa.reader import FEATURES, Calibration  # noqa: E402

MONEY = (re.compile(r"\bhow much\b.*\b(?:cost|costs|pay|paid|pays|earn|earns|earned|worth|spend|spent|raise|raised|"
                    r"price|salary|fee|fine|fined|sell|sold|buy|bought|charge|charged|money|cash|budget|invest|"
                    r"invested|profit|owe|owed|award|awarded|bid|value|valued|fund|funding|compensation|damages)\b|"
                    r"\b(?:what|which) (?:price|salary|fee|fine|sum)\b", re.IGNORECASE),
         re.compile(r"[£$€¥]|\b(?:pounds?|dollars?|euros?|yen|pence|cents?|francs?|rupees?|yuan)\b|\d(?:m|bn|k)\b",
                    re.IGNORECASE))
DURATION = (re.compile(r"\bhow long\b", re.IGNORECASE),
            re.compile(r"\b(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|century|centuries|"
                       r"metres?|meters?|km|kilometres?|miles?|feet|foot|inches|seasons?|terms?|nights?)\b|"
                       r"\d+(?:m|km|ft)\b", re.IGNORECASE))
PERCENTAGE = (re.compile(r"\b(?:what|which) (?:percentage|proportion|share)\b", re.IGNORECASE),
              re.compile(r"%|\bper ?cent\b", re.IGNORECASE))


# Each fit: its model, whether news and story questions count twice, whether `type_fit` has the finer shapes.
VARIANTS = {"logistic": ("logistic", False, False), "trees": ("trees", False, False),
            "weighted": ("logistic", True, False), "shapes": ("logistic", False, True),
            "trees-shapes": ("trees", False, True)}


def finer_type_fit(question: str, answer: str) -> float:
    """`type_fit`, but money, durations and percentages must have their own shape."""
    for asks, shape in (MONEY, DURATION, PERCENTAGE):
        if asks.search(question):
            return float(bool(shape.search(answer)))
    return type_fit(question, answer)


@dataclass
class Question:
    """One question of a dump: its candidates' features (in the dump's order), which are right, and
    what the held-out folds need to know of it."""
    rows: np.ndarray  # candidates x features
    right: np.ndarray  # per candidate: F1 >= CORRECT_F1 and some article answers the question
    unanswerable: bool
    source: str
    group: tuple[str, str]


def read_questions(dumps: list[Path], names: list[str], shapes: bool) -> list[Question]:
    questions = []
    for dump in dumps:
        for record, group in zip(map(json.loads, dump.open(encoding="utf-8")), dump_groups(dump)):
            rows, right = [], []
            for row in record["candidates"]:
                candidate = _candidate(row)
                if shapes:
                    candidate = replace(candidate, type_fit=finer_type_fit(record["question"], row["text"]))
                rows.append([FEATURES[name](candidate) for name in names])
                right.append(bool(record["gold"]) and row["f1"] >= CORRECT_F1)
            questions.append(Question(np.array(rows, dtype=float).reshape(len(rows), len(names)), np.array(right, bool),
                                      not record["gold"], dump.stem, group))
    return questions


def held_out(variant: str, questions: list[Question], folds: int, seed: int = 0) -> list[tuple[float, bool]]:
    """Per question, its first answer's held-out score and whether it is right. As `newsqa calibrate`
    fits (`qa.fitting.fit`), each model is fitted on the first candidate of its training questions in
    the dump's order; as the pipeline ranks (and `qa.fitting.cross_validate`), the first answer of a
    held-out question is its candidate that model scores highest. No candidate: (0, wrong)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    kind, twice, _ = VARIANTS[variant]
    tops: list[tuple[float, bool]] = [(0.0, False)] * len(questions)
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros((len(questions), 1)), groups=folds_of([q.group for q in questions])):
        fitted = [questions[i] for i in train if len(questions[i].right)]
        weights = np.array([2.0 if twice and q.source.startswith("bbc-") else 1.0 for q in fitted])
        model = (HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200, l2_regularization=1.0,
                                                min_samples_leaf=40, random_state=seed)
                 if kind == "trees" else LogisticRegression(C=1.0, max_iter=2000))
        model.fit(np.array([q.rows[0] for q in fitted]), np.array([q.right[0] for q in fitted]), sample_weight=weights)
        for i in test:
            if len(questions[i].right):
                scores = model.predict_proba(questions[i].rows)[:, 1]
                first = int(np.argmax(scores))  # ties: the earlier in the dump's order
                tops[i] = (float(scores[first]), bool(questions[i].right[first]))
    return tops


def rejected_when_answering(scores: np.ndarray, unanswerable: np.ndarray, answered: int) -> float | None:
    """The share of unanswerable questions left out when the `answered` most confident are answered."""
    if not unanswerable.any():
        return None
    chosen = np.zeros(len(scores), bool)
    chosen[np.argsort(-scores, kind="stable")[:answered]] = True
    return round(100 * float((~chosen[unanswerable]).mean()), 1)


def summary(scores: np.ndarray, right: np.ndarray, unanswerable: np.ndarray,
            baseline: np.ndarray | None = None) -> dict:
    """What a person sees of these first answers at even odds; with `baseline` (another fit's scores
    of the same questions), the share of unanswerable questions that fit rejects when it answers as
    many questions as this one: what a threshold alone would have given."""
    from sklearn.metrics import roc_auc_score

    tops = [(float(p), float(r)) for p, r in zip(scores, right)]
    (point,) = risk_coverage(tops, thresholds=(EVEN_ODDS,))
    result = {"questions": len(tops), "calibration_error": reliability(tops)["expected_calibration_error"],
              "auc": round(float(roc_auc_score(right, scores)), 3) if 0 < right.sum() < len(right) else None,
              "answered": point["coverage"], "right": point["accuracy"], "unanswerable": int(unanswerable.sum()),
              "rejected": unanswerable_rejected(tops, list(unanswerable), EVEN_ODDS),
              "right_at_70_answered": operating_points(tops)["right_at_70_answered"]}
    if baseline is not None:
        result["baseline_rejected_answering_as_many"] = rejected_when_answering(baseline, unanswerable,
                                                                                int((scores >= EVEN_ODDS).sum()))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dumps", nargs="+", type=Path)
    parser.add_argument("--reader-dir", type=Path, default=Path("qa/models/reader"),
                        help="the calibration whose features are fitted")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    names = list(Calibration.load(args.reader_dir).weights)
    results, baseline, read = {}, None, {}
    for variant in args.variants:
        shapes = VARIANTS[variant][2]
        if shapes not in read:  # the dumps are read once for each way of computing `type_fit`
            read[shapes] = read_questions(args.dumps, names, shapes)
        questions = read[shapes]
        scored = held_out(variant, questions, args.folds)
        scores = np.array([score for score, _ in scored])
        right = np.array([is_right for _, is_right in scored])
        unanswerable = np.array([q.unanswerable for q in questions])
        sources = np.array([q.source for q in questions])
        if variant == "logistic":
            baseline = scores
        results[variant] = {
            source: summary(scores[mask], right[mask], unanswerable[mask],
                            None if baseline is None or variant == "logistic" else baseline[mask])
            for source, mask in [*((s, sources == s) for s in dict.fromkeys(sources)),
                                 ("all", np.ones(len(right), bool))]}
        print(f"== {variant} (held out, {args.folds} folds, features: {' '.join(names)})")
        for source, row in results[variant].items():
            print(f"  {source[:44]:44s} " + "  ".join(f"{key} {value}" for key, value in row.items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
