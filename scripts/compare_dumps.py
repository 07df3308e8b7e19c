"""Two ways of answering the same questions, compared question by question.

    python scripts/compare_dumps.py BEFORE.jsonl BEFORE_READER AFTER.jsonl AFTER_READER [--samples 10000]

Each dump is a `newsqa evaluate --mode pipeline --dump` file; each reader folder gives the
calibration that ranks that dump's candidates (the one it was run with), so the first answer is
the one the pipeline showed. Prints, over the answerable questions both dumps hold: top-1 F1
always answering before and after, the change, its 95% interval by a paired bootstrap (questions
resampled with their before and after together), and how many questions moved by more than 0.3 F1
either way. A change whose interval holds 0 is not one a set of this size can tell from noise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.fitting import load_dump, tops  # noqa: E402
from qa.reader import Calibration  # noqa: E402


def first_f1(dump: Path, calibration: Calibration) -> dict[str, float]:
    """Per answerable question id: the F1 of the answer `calibration` ranks first (0 without one)."""
    ids = [json.loads(line)["id"] for line in dump.open(encoding="utf-8")]
    questions = load_dump(dump)  # the same lines, in the same order
    answerable = [(i, q) for i, q in zip(ids, questions) if not q[0]]
    return {i: f1 for (i, _), (_, f1) in zip(answerable, tops(calibration, [q for _, q in answerable]))}


def paired_change(before: dict[str, float], after: dict[str, float], samples: int = 10000,
                  seed: int = 0) -> dict:
    """Top-1 F1 (percent) before and after over the questions both hold, the change and its 95%
    paired-bootstrap interval, and the questions that moved by more than 0.3 F1 up and down."""
    ids = sorted(set(before) & set(after))
    if not ids:
        raise ValueError("the two dumps share no answerable question")
    delta = np.array([after[i] - before[i] for i in ids]) * 100
    rng = np.random.default_rng(seed)
    means = delta[rng.integers(0, len(delta), (samples, len(delta)))].mean(axis=1)
    return {"questions": len(ids), "before": round(100 * float(np.mean([before[i] for i in ids])), 2),
            "after": round(100 * float(np.mean([after[i] for i in ids])), 2),
            "change": round(float(delta.mean()), 2),
            "interval_95": [round(float(np.percentile(means, 2.5)), 2), round(float(np.percentile(means, 97.5)), 2)],
            "up": int((delta > 30).sum()), "down": int((delta < -30).sum())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("before_reader", type=Path, help="reader folder whose calibration.json ranked BEFORE")
    parser.add_argument("after", type=Path)
    parser.add_argument("after_reader", type=Path, help="reader folder whose calibration.json ranked AFTER")
    parser.add_argument("--samples", type=int, default=10000)
    args = parser.parse_args()
    result = paired_change(first_f1(args.before, Calibration.load(args.before_reader)),
                           first_f1(args.after, Calibration.load(args.after_reader)), args.samples)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
