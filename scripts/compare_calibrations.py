"""Calibrations side by side over one built archive, in one process: what each shows, and its latency.

    python scripts/compare_calibrations.py FILE [evaluate's options] \
        --calibration shipped=qa/models/reader --calibration refit=runs/reader-refit [--rounds 2]

Each `--calibration NAME=READER_DIR` takes the `calibration.json` of READER_DIR, which must be fitted for
the weights of --reader-model (loaded once and shared; checked). The archive is built as `newsqa
evaluate --mode pipeline` builds it (--crowd, --unseen-by-calibration, --limit, the reading options). Every round asks every question once per
calibration, the calibrations in turn (reversed in every other round), so that a drift in the
machine's speed falls on each alike. The reports of the last round are written to --out-dir, with every
round's latencies (`latency_rounds`) and their means (`latency_ms_p50_of_rounds`, `..._p95_...`). Prints
per calibration: top-1 F1 always answering, confident answers right and the share answered (the
issue-#28 way: every question counts, a confident answer to an unanswerable one is wrong),
unanswerable questions rejected, calibration error, right at 70% answered, and `/ask` p50 / p95 (the
mean of the rounds'). Latencies are comparable only within one run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.cli.common import log_at, reading_choices  # noqa: E402
from qa.cli.evaluate import (index_archive, parser as evaluate_parser, provenance, reader_window,  # noqa: E402
                             unseen_by_calibration)
from qa.config import Settings  # noqa: E402
from qa.evaluation import (evaluate_pipeline, operating_points, risk_coverage, sample,  # noqa: E402
                           unanswerable_rejected)
from qa.pipeline import Assistant  # noqa: E402
from qa.reader import Calibration, ExtractiveReader  # noqa: E402
from qa.squad import load_squad  # noqa: E402


def named_dir(text: str) -> tuple[str, Path]:
    name, _, directory = text.partition("=")
    if not name or not directory or not (Path(directory) / "calibration.json").exists():
        raise argparse.ArgumentTypeError(f"NAME=READER_DIR with a calibration.json in READER_DIR, not {text!r}")
    return name, Path(directory)


def summary(dump: Path, threshold: float) -> dict:
    """Issue #28's numbers from a dump: every question counts (any confident answer to an
    unanswerable question is wrong)."""
    tops, unanswerable = [], []
    for record in map(json.loads, dump.open(encoding="utf-8")):
        top = record["candidates"][0] if record["candidates"] else None
        tops.append((top["calibrated"] if top else 0.0, top["f1"] if top and record["gold"] else 0.0))
        unanswerable.append(not record["gold"])
    (point,) = risk_coverage(tops, thresholds=(threshold,))
    return {"right": point["accuracy"] or 0.0, "answered": point["coverage"],
            "rejected": unanswerable_rejected(tops, unanswerable, threshold), **operating_points(tops)}


def main() -> int:
    settings = Settings()
    options = evaluate_parser(settings, "compare_calibrations.py")
    options.set_defaults(mode="pipeline")
    options.add_argument("--calibration", action="append", type=named_dir, required=True)
    options.add_argument("--rounds", type=int, default=2)
    options.add_argument("--out-dir", type=Path, default=Path("runs/compare-calibrations"))
    args = options.parse_args()
    if args.mode != "pipeline" or args.dump or args.out or args.details:
        options.error("compares the pipeline only, and writes its reports and dumps into --out-dir "
                      "(--mode, --dump, --out and --details do not apply)")
    log_at(30)
    started = time.time()
    articles, examples = load_squad(args.file)
    kept = None  # which of the file's articles are indexed (all, unless --unseen-by-calibration)
    if args.unseen_by_calibration:
        kept, examples = unseen_by_calibration(options, args.reader_model, args.file, articles, examples)
    examples = sample(examples, args.limit)
    index, archive = index_archive(args, settings, articles, kept)
    base = ExtractiveReader(args.reader_model, backend=args.reader_backend, threads=settings.threads,
                            **reader_window(options, args))
    assistants = {}
    for name, directory in args.calibration:
        reader = copy.copy(base)  # the same loaded model, another calibration, fitted for its weights
        reader.calibration = Calibration.load(directory, base.weights_sha256)
        assistants[name] = Assistant.from_settings(index, reader, settings, threshold=args.threshold,
                                                   **reading_choices(args))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rounds: dict[str, list[dict]] = {name: [] for name in assistants}
    reports: dict[str, dict] = {}
    for round_ in range(args.rounds):
        order = list(assistants) if round_ % 2 == 0 else list(reversed(assistants))
        for name in order:
            dump = args.out_dir / f"{args.file.stem}-{name}.jsonl"
            report = evaluate_pipeline(assistants[name], archive["indexed"], examples, archive["article_ids"],
                                       dump=dump)
            rounds[name].append({key: report[key] for key in ("latency_ms_p50", "latency_ms_p95", "latency_ms_mean")})
            reports[name] = {**report, "issue_28": summary(dump, assistants[name].threshold)}
            print(f"round {round_ + 1} {name:>12}  p50 {report['latency_ms_p50']:6.1f}", flush=True)
    for name, report in reports.items():
        p50 = round(statistics.fmean(r["latency_ms_p50"] for r in rounds[name]), 1)
        p95 = round(statistics.fmean(r["latency_ms_p95"] for r in rounds[name]), 1)
        report.update(calibration=str(dict(args.calibration)[name]), crowd=args.crowd,
                      compared_with=[other for other in assistants if other != name],
                      latency_rounds=rounds[name], latency_ms_p50_of_rounds=p50, latency_ms_p95_of_rounds=p95,
                      **provenance(args, assistants[name].reader, started))
        (args.out_dir / f"{args.file.stem}-{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        own = report["issue_28"]
        print(f"{name:>12}  F1 {report['forced_top1_f1']:5.2f}  right {own['right']:5.1f} ({own['answered']:5.1f})"
              f"  rejected {own['rejected'] if own['rejected'] is not None else '-':>5}"
              f"  ECE {report['expected_calibration_error']:.3f}  r@70 {own['right_at_70_answered']}"
              f"  p50 {p50:6.1f}  p95 {p95:6.1f}  (mean of {args.rounds} rounds)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
