"""What any confidence score could reach on a set, given the answers the pipeline shows (issue #28).

    python scripts/trust_bounds.py DUMP... [--coverage 70] [--target 90] [--simulations 2000]

Each DUMP is a `newsqa evaluate --mode pipeline --dump` file, its candidates in the order the
pipeline showed them and `calibrated` the score of each. For each set it prints:

- **The ceiling of "right at 70% answered".** Used as a threshold, a confidence score chooses which
  questions to answer; it does not make a wrong first answer right. Answering the 70% most
  confident questions (`qa.evaluation.operating_points`, rounded up) can be right at most
  min(first answers right, answered) / answered of the time, whatever score orders the questions,
  as long as the first answers stay these. (The shipped calibration also ranks each question's
  candidates, so a new fit may change a first answer: that is re-ranking.) The same ceiling is
  printed as if a right answer among the first three ranked had been put first: what a perfect
  re-ranking of what the reader already found could add. Not all three are shown to a person:
  an answer below the first is shown only above a floor (`qa.pipeline.shown_floor`).
- **Where wrong first answers come from.** How many of the answerable questions' wrong first
  answers come from the very article the question is about (`gold_document`): those no evidence of
  which story an article tells can catch.
- **The trade at each threshold.** Share answered, share of answers right (an answer to a question
  no article answers is wrong) and share of unanswerable questions rejected, at thresholds 0.5 to
  0.7 of the score as recorded.
- **The calibration error of a perfectly calibrated score.** Draw each question's "right" with the
  probability its score states, many times over, and measure the expected calibration error
  (`qa.evaluation.reliability`, ten bins) of those draws: the error that sampling alone gives a set
  of this size, with this spread of scores, and how often it is at most 0.05. A measured error
  inside that band cannot be told from sampling noise (which does not show that the score is
  calibrated); one above the 95th percentile is real at that level. A sharper score, or a larger set, has a lower floor.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.evaluation import (CORRECT_F1, answered_count, operating_points, reliability, risk_coverage,  # noqa: E402
                           unanswerable_rejected)

THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7)
ERROR_TARGET = 0.05  # the calibration error
FIRST = 3  # the first answer and the two ranked below it (a person sees those above a floor)


def first_answers(dump: Path) -> list[dict]:
    """Per question: its first answer's score, whether it is right, whether one of the first
    `FIRST` ranked is, whether any article answers the question, and whether a wrong first answer
    comes from the very article the question is about."""
    rows = []
    for record in map(json.loads, dump.open(encoding="utf-8")):
        candidates, answerable = record["candidates"], bool(record["gold"])
        top = candidates[0] if candidates else None
        right = answerable and top is not None and top["f1"] >= CORRECT_F1
        rows.append({"score": top["calibrated"] if top else 0.0, "right": right,
                     "right_in_first": answerable and any(c["f1"] >= CORRECT_F1 for c in candidates[:FIRST]),
                     "unanswerable": not answerable,
                     "wrong_in_own_article": answerable and top is not None and not right
                     and top["document_id"] == record.get("gold_document")})
    return rows


def ceiling(right: int, questions: int, coverage: float) -> float:
    """The largest share right among the `coverage`% of `questions` answered, with `right` right first answers."""
    answered = answered_count(questions, coverage)
    return 100 * min(right, answered) / answered


def sampling_error(scores: np.ndarray, simulations: int, seed: int = 0, target: float = ERROR_TARGET) -> dict:
    """The calibration error of draws in which each answer is right with exactly its stated probability."""
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(simulations):
        drawn = rng.random(len(scores)) < scores
        errors.append(reliability([(float(p), float(r)) for p, r in zip(scores, drawn)])["expected_calibration_error"])
    return {"mean": round(float(np.mean(errors)), 3), "p95": round(float(np.percentile(errors, 95)), 3),
            "share_at_most_target": round(float(np.mean(np.array(errors) <= target)), 3)}


def bounds(dump: Path, coverage: float, target: float, simulations: int) -> dict:
    rows = first_answers(dump)
    tops = [(row["score"], float(row["right"])) for row in rows]  # as `qa.evaluation.risk_coverage` reads them
    unanswerable = [row["unanswerable"] for row in rows]
    right, among = sum(row["right"] for row in rows), sum(row["right_in_first"] for row in rows)
    measured = operating_points(tops, coverage, target)
    return {"set": dump.name, "questions": len(rows), "unanswerable": sum(unanswerable),
            "first_right": right, f"right_among_first_{FIRST}": among,
            "wrong_first": sum(not row["unanswerable"] and not row["right"] for row in rows),
            "wrong_first_in_own_article": sum(row["wrong_in_own_article"] for row in rows),
            f"right_at_{coverage:g}_answered": measured[f"right_at_{coverage:g}_answered"],
            "ceiling": round(ceiling(right, len(rows), coverage), 1),
            "ceiling_reranked": round(ceiling(among, len(rows), coverage), 1),
            "calibration_error": reliability(tops)["expected_calibration_error"],
            "perfect_calibration_error": sampling_error(np.array([score for score, _ in tops]), simulations),
            "trade": [{"threshold": point["threshold"], "answered": point["coverage"], "right": point["accuracy"],
                       "rejected": unanswerable_rejected(tops, unanswerable, point["threshold"])}
                      for point in risk_coverage(tops, THRESHOLDS)]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dumps", nargs="+", type=Path)
    parser.add_argument("--coverage", type=float, default=70.0, help="%% of questions answered")
    parser.add_argument("--target", type=float, default=90.0, help="%% of answers right (the issue's target)")
    parser.add_argument("--simulations", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    results = [bounds(dump, args.coverage, args.target, args.simulations) for dump in args.dumps]
    for r in results:
        key = f"right_at_{args.coverage:g}_answered"
        print(f"{r['set']}: {r['questions']} questions, {r['unanswerable']} unanswerable; first answer right "
              f"{r['first_right']}, a right one among the first {FIRST} ranked {r[f'right_among_first_{FIRST}']}")
        print(f"  answerable questions answered wrong first: {r['wrong_first']}, "
              f"{r['wrong_first_in_own_article']} of them from the article the question is about")
        print(f"  right at {args.coverage:g}% answered: measured {r[key]}, ceiling {r['ceiling']} "
              f"(re-ranked: {r['ceiling_reranked']}); target {args.target:g}"
              f"{'' if r['ceiling'] >= args.target else ': out of reach of any score that keeps these first answers'}")
        noise = r["perfect_calibration_error"]
        print(f"  calibration error {r['calibration_error']}; a perfectly calibrated score would measure "
              f"{noise['mean']} on average, {noise['p95']} at the 95th percentile, "
              f"at most {ERROR_TARGET:g} in {100 * noise['share_at_most_target']:.0f}% of draws")
        for point in r["trade"]:
            print(f"  threshold {point['threshold']:.2f}: answered {point['answered']}%, right {point['right']}%, "
                  f"unanswerable rejected {point['rejected']}%")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
