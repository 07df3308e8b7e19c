"""Other ways to fit the calibration, held out on its own questions (issue #28): measured, none shipped.

    python scripts/calibration_alternatives.py DUMP... [--folds 5] [--variants logistic trees weighted shapes trees-shapes]

DUMPs are the calibration's dumps (`newsqa calibrate` writes them to runs/calibration/; the news and
story halves are `newsqa evaluate --mode pipeline --dump` files). Each question's first answer (in
the dump's order, as `qa.fitting.fit` takes it) is scored by a model fitted without its article's
questions (`qa.fitting.folds_of`, `GroupKFold`), on the shipped calibration's features:

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
share of unanswerable questions rejected and the share right at 70% answered.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.evaluation import CORRECT_F1, operating_points, reliability  # noqa: E402
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


def finer_type_fit(question: str, answer: str) -> float:
    """`type_fit`, but money, durations and percentages must have their own shape."""
    for asks, shape in (MONEY, DURATION, PERCENTAGE):
        if asks.search(question):
            return float(bool(shape.search(answer)))
    return type_fit(question, answer)


def first_answers(dumps: list[Path], names: list[str], shapes: bool):
    """Features, right?, unanswerable?, source and fold group of each question's first answer."""
    rows, right, unanswerable, sources, groups = [], [], [], [], []
    for dump in dumps:
        for record, group in zip(map(json.loads, dump.open(encoding="utf-8")), dump_groups(dump)):
            if not record["candidates"]:
                continue
            top = record["candidates"][0]
            candidate = _candidate(top)
            if shapes:
                candidate = replace(candidate, type_fit=finer_type_fit(record["question"], top["text"]))
            rows.append([FEATURES[name](candidate) for name in names])
            right.append(bool(record["gold"]) and top["f1"] >= CORRECT_F1)
            unanswerable.append(not record["gold"])
            sources.append(dump.stem)
            groups.append(group)
    return np.array(rows), np.array(right), np.array(unanswerable), np.array(sources), groups


def held_out(variant: str, rows, right, sources, groups, folds: int, seed: int = 0) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    weights = np.where(np.char.startswith(sources.astype(str), "bbc-"), 2.0, 1.0) if variant == "weighted" \
        else np.ones(len(right))
    scores = np.zeros(len(right))
    for train, test in GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(rows, right, folds_of(groups)):
        model = (HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200, l2_regularization=1.0,
                                                min_samples_leaf=40, random_state=seed)
                 if variant.startswith("trees") else LogisticRegression(C=1.0, max_iter=2000))
        model.fit(rows[train], right[train], sample_weight=weights[train])
        scores[test] = model.predict_proba(rows[test])[:, 1]
    return scores


def summary(scores, right, unanswerable) -> dict:
    from sklearn.metrics import roc_auc_score

    tops = [(float(p), float(r)) for p, r in zip(scores, right)]
    confident = scores >= EVEN_ODDS
    return {"questions": len(tops), "calibration_error": reliability(tops)["expected_calibration_error"],
            "auc": round(float(roc_auc_score(right, scores)), 3),
            "answered": round(100 * float(confident.mean()), 1),
            "right": round(100 * float(right[confident].mean()), 1) if confident.any() else None,
            "rejected": round(100 * float((~confident[unanswerable]).mean()), 1) if unanswerable.any() else None,
            "right_at_70_answered": operating_points(tops)["right_at_70_answered"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dumps", nargs="+", type=Path)
    parser.add_argument("--reader-dir", type=Path, default=Path("qa/models/reader"),
                        help="the calibration whose features are fitted")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=["logistic", "trees", "weighted", "shapes", "trees-shapes"],
                        choices=["logistic", "trees", "weighted", "shapes", "trees-shapes"])
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    names = list(Calibration.load(args.reader_dir).weights)
    results = {}
    for variant in args.variants:
        rows, right, unanswerable, sources, groups = first_answers(args.dumps, names, shapes=variant.endswith("shapes"))
        scores = held_out(variant, rows, right, sources, groups, args.folds)
        results[variant] = {source: summary(scores[mask], right[mask], unanswerable[mask])
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
