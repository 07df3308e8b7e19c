"""F1 per coverage bucket of a report that lists each question's answer, for reports made
before `newsqa evaluate` gave the buckets itself (the peer's `answers`, or our `--details`
`predictions`).

    python scripts/coverage_buckets.py docs/eval/peer/squad-dev-v1.1-haystack.json ../shared/data/qa/squad-dev-v1.1.json

Prints `{"coverage_buckets": {...}}` as `qa.evaluation.ByCoverage` reports it (forced_top1_f1:
the F1 of the answer given, in percent), over the questions of the report found in FILE.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.evaluation import ByCoverage  # noqa: E402
from qa.squad import load_squad  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path, help="a JSON report with `answers` or `predictions` (id, f1)")
    parser.add_argument("file", type=Path, help="the SQuAD-format question file it was run on")
    args = parser.parse_args()
    report = json.loads(args.report.read_text(encoding="utf-8"))
    # The peer's `answers` give F1 in 0..1, our `predictions` in percent.
    rows, scale = (report["answers"], 1.0) if report.get("answers") else (report.get("predictions") or [], 100.0)
    if not rows:
        parser.error(f"{args.report} lists no per-question answers")
    _, examples = load_squad(args.file)
    by_id = {e.id: e for e in examples}
    buckets = ByCoverage()
    for row in rows:
        example = by_id.get(str(row["id"]))
        if example is not None and not example.is_impossible:
            buckets.add(example, forced_top1_f1=row["f1"] / scale)
    print(json.dumps(buckets.report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
