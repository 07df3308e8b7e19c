"""What any confidence score could reach on a set, given the answers the pipeline shows (issue #28).

    python scripts/trust_bounds.py DUMP... [--coverage 70] [--target 90] [--simulations 2000]

Each DUMP is a `newsqa evaluate --mode pipeline --dump` file, its candidates in the order the
pipeline showed them and `calibrated` the score of each. For each set it prints:

- **The ceiling of "right at 70% answered".** A confidence score only chooses which questions to
  answer; it cannot make a wrong first answer right. Answering the 70% most confident questions
  (`qa.evaluation.operating_points`, rounded up) can be right at most min(first answers right,
  answered) / answered of the time, whatever the score. The same ceiling is printed as if the right
  answer among the first three shown had been put first: what a perfect re-ranking of what the
  reader already found could add.
- **The trade at each threshold.** Share answered, share of answers right (an answer to a question
  no article answers is wrong) and share of unanswerable questions rejected, at thresholds 0.5 to
  0.7 of the score as recorded.
- **The calibration error of a perfectly calibrated score.** Draw each question's "right" with the
  probability its score states, many times over, and measure the expected calibration error
  (`qa.evaluation.reliability`, ten bins) of those draws: the error that sampling alone gives a set
  of this size, with this spread of scores. Its mean and 95th percentile are the noise floor under
  which a measured calibration error tells nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.evaluation import CORRECT_F1, operating_points, reliability  # noqa: E402

THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7)
SHOWN = 3  # the answers a person sees: the first and two alternatives


def first_answers(dump: Path) -> list[dict]:
    """Per question: its first answer's score, whether it is right, whether one of the first
    `SHOWN` is, and whether any article answers the question."""
    rows = []
    for record in map(json.loads, dump.open(encoding="utf-8")):
        candidates, answerable = record["candidates"], bool(record["gold"])
        rows.append({"score": candidates[0]["calibrated"] if candidates else 0.0,
                     "right": answerable and bool(candidates) and candidates[0]["f1"] >= CORRECT_F1,
                     "shown_right": answerable and any(c["f1"] >= CORRECT_F1 for c in candidates[:SHOWN]),
                     "unanswerable": not answerable})
    return rows


def ceiling(right: int, questions: int, coverage: float) -> float:
    """The largest share right among the `coverage`% of `questions` answered, with `right` right first answers."""
    answered = max(math.ceil(questions * coverage / 100), 1)
    return 100 * min(right, answered) / answered


def trade(rows: list[dict], threshold: float) -> dict:
    given = [row for row in rows if row["score"] >= threshold]
    unanswerable = [row for row in rows if row["unanswerable"]]
    return {"threshold": threshold, "answered": round(100 * len(given) / len(rows), 1),
            "right": round(100 * sum(row["right"] for row in given) / len(given), 1) if given else None,
            "rejected": round(100 * sum(row["score"] < threshold for row in unanswerable) / len(unanswerable), 1)
            if unanswerable else None}


def sampling_error(scores: np.ndarray, simulations: int, seed: int = 0) -> dict:
    """The calibration error of draws in which each answer is right with exactly its stated probability."""
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(simulations):
        drawn = rng.random(len(scores)) < scores
        errors.append(reliability([(float(p), float(r)) for p, r in zip(scores, drawn)])["expected_calibration_error"])
    return {"mean": round(float(np.mean(errors)), 3), "p95": round(float(np.percentile(errors, 95)), 3)}


def bounds(dump: Path, coverage: float, target: float, simulations: int) -> dict:
    rows = first_answers(dump)
    scores = np.array([row["score"] for row in rows])
    right, shown = sum(row["right"] for row in rows), sum(row["shown_right"] for row in rows)
    measured = operating_points([(row["score"], float(row["right"])) for row in rows], coverage, target)
    return {"set": dump.name, "questions": len(rows), "unanswerable": sum(row["unanswerable"] for row in rows),
            "first_right": right, "right_among_shown": shown,
            f"right_at_{coverage:g}_answered": measured[f"right_at_{coverage:g}_answered"],
            "ceiling": round(ceiling(right, len(rows), coverage), 1),
            "ceiling_reranked": round(ceiling(shown, len(rows), coverage), 1),
            "calibration_error": reliability([(row["score"], float(row["right"])) for row in rows])
            ["expected_calibration_error"],
            "perfect_calibration_error": sampling_error(scores, simulations),
            "trade": [trade(rows, threshold) for threshold in THRESHOLDS]}


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
              f"{r['first_right']}, a right one among the first {SHOWN} {r['right_among_shown']}")
        print(f"  right at {args.coverage:g}% answered: measured {r[key]}, ceiling {r['ceiling']} "
              f"(re-ranked shown: {r['ceiling_reranked']}); target {args.target:g}"
              f"{'' if r['ceiling'] >= args.target else ': out of reach of any score'}")
        noise = r["perfect_calibration_error"]
        print(f"  calibration error {r['calibration_error']}; a perfectly calibrated score would measure "
              f"{noise['mean']} on average, {noise['p95']} at the 95th percentile")
        for point in r["trade"]:
            print(f"  threshold {point['threshold']:.2f}: answered {point['answered']}%, right {point['right']}%, "
                  f"unanswerable rejected {point['rejected']}%")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
