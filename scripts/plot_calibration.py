#!/usr/bin/env python
"""Draw the reliability diagram and the risk-coverage curve of the shown score, from the
candidate dumps of `newsqa evaluate --mode pipeline --dump`.

    python scripts/plot_calibration.py --set "news report half, crowded=runs/eval/news-report.jsonl" \\
        --set "SQuAD dev, crowded=runs/eval/squad-dev.jsonl" --out docs/eval/calibration

Per question the top answer's calibrated score is taken with its F1 against the gold answers
(0 for any answer to an unanswerable question); an answer is right at F1 >= 0.5, as in
`qa.evaluation`. Writes <out>-reliability.png, <out>-risk-coverage.png and <out>.json (the
numbers drawn, with the expected calibration error of each set).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.evaluation import CORRECT_F1, reliability, risk_coverage  # noqa: E402


def tops(dump: Path) -> list[tuple[float, float]]:
    """Per question: the top candidate's calibrated score and F1 (no candidate: 0, 0)."""
    rows = []
    for line in dump.open(encoding="utf-8"):
        candidates = json.loads(line)["candidates"]
        rows.append((candidates[0]["calibrated"], candidates[0]["f1"]) if candidates else (0.0, 0.0))
    return rows


def draw(sets: dict[str, list[tuple[float, float]]], out: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary, grid = {}, [round(t / 100, 2) for t in range(0, 100)]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfect calibration")
    curves = plt.figure(figsize=(6, 4.5)).add_subplot()
    for name, rows in sets.items():
        diagram = reliability(rows)
        points = [b for b in diagram["reliability"] if b["count"]]
        ece = diagram["expected_calibration_error"]
        ax.plot([b["mean_score"] for b in points], [b["right"] for b in points], marker="o",
                label=f"{name} (ECE {ece:.3f}, n={len(rows)})")
        curve = [p for p in risk_coverage(rows, grid, digits=2) if p["accuracy"] is not None]
        curves.plot([p["coverage"] for p in curve], [p["accuracy"] for p in curve], label=name)
        summary[name] = {"questions": len(rows), **diagram, "risk_coverage": curve}
    ax.set(xlabel="mean score shown (10 bins)", ylabel=f"share right (F1 ≥ {CORRECT_F1})", xlim=(0, 1), ylim=(0, 1),
           title="Reliability of the shown score")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(f"{out}-reliability.png", dpi=110)
    curves.set(xlabel="questions answered (%)", ylabel="answers right (%)", ylim=(40, 101),
               title="Risk–coverage of the top answer (threshold 0 → 0.99)")
    curves.grid(alpha=0.3)
    curves.legend(fontsize=7, loc="lower left")
    curves.figure.tight_layout()
    curves.figure.savefig(f"{out}-risk-coverage.png", dpi=110)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", required=True, metavar="NAME=DUMP",
                        help="a named dump of `newsqa evaluate --mode pipeline --dump` (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="path prefix of the pictures and the JSON")
    args = parser.parse_args(argv)
    sets = {}
    for item in args.set:
        name, _, path = item.rpartition("=")
        if not name:
            parser.error(f"--set takes NAME=DUMP, not {item!r}")
        sets[name] = tops(Path(path))
    summary = draw(sets, args.out)
    Path(f"{args.out}.json").write_text(json.dumps(summary, indent=1) + "\n")
    for name, data in summary.items():
        print(f"{name}: {data['questions']} questions, expected calibration error {data['expected_calibration_error']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
