"""How well one feature of the answer shown first tells right from wrong, per dump.

    python scripts/evidence_separation.py DUMP... [--features detail story_near story_article calibrated]

For each dump of `newsqa evaluate --mode pipeline --dump` (or of `newsqa calibrate`): the mean of each
feature of the first answer (a field the dump records, or a calibration feature of `qa.reader.FEATURES`) over questions whose first answer is right (F1 >= 0.5), wrong, or given to
a question no article answers; the area under the ROC curve of the feature for right against the rest
(0.5: no use; under 0.5: it runs the wrong way), over all questions and over those the calibration in
force called confident (what a new feature must add to it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.evaluation import CORRECT_F1  # noqa: E402
from qa.fitting import EVEN_ODDS, _candidate  # noqa: E402
from qa.reader import FEATURES  # noqa: E402


def value(top: dict, name: str) -> float:
    """A field the dump records (`calibrated`, `detail`, ...), or a calibration feature computed from them."""
    if name in top:
        return top[name]
    if name in FEATURES:
        return FEATURES[name](_candidate(top))
    raise SystemExit(f"{name!r} is neither recorded in the dump nor a calibration feature ({sorted(FEATURES)})")


def auc(labels: list[bool], scores: list[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 3) if 0 < sum(labels) < len(labels) else None


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("dumps", nargs="+", type=Path)
    options.add_argument("--features", nargs="+", default=["detail", "story_near", "story_article", "calibrated"])
    args = options.parse_args()
    for dump in args.dumps:
        rows = []
        for record in map(json.loads, dump.open(encoding="utf-8")):
            if record["candidates"]:
                top = record["candidates"][0]
                kind = "unanswerable" if not record["gold"] else "right" if top["f1"] >= CORRECT_F1 else "wrong"
                rows.append((kind, top))
        counts = {kind: sum(k == kind for k, _ in rows) for kind in ("right", "wrong", "unanswerable")}
        print(f"{dump.name}: {counts}")
        confident = [(k, top) for k, top in rows if top["calibrated"] >= EVEN_ODDS]
        for name in args.features:
            means = {kind: round(sum(value(top, name) for k, top in rows if k == kind) / n, 3)
                     for kind, n in counts.items() if n}
            everyone = auc([k == "right" for k, _ in rows], [value(t, name) for _, t in rows])
            sure = auc([k == "right" for k, _ in confident], [value(t, name) for _, t in confident])
            print(f"  {name:14s} mean {means}  AUC {everyone}  among confident {sure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
