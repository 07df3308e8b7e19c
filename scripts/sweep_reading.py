"""How much to read around each retrieved chunk: several reading settings over one built archive.

    python scripts/sweep_reading.py FILE [evaluate's options] --variant 0:0:192:64 --variant 200:0:384:128 ...

Each `--variant WORDS:BUDGET:WINDOW:STRIDE[:FIRST[:ENOUGH[:STORY[:CONFIDENT]]]]` is `newsqa evaluate
--mode pipeline --read-words WORDS --read-budget BUDGET --window WINDOW --stride STRIDE [--first-read FIRST
--first-read-enough ENOUGH [--story-chunks STORY [--first-read-confident CONFIDENT]]]`, run on the same
index (built once, chunk vectors cached), so the settings are compared on exactly the same retrieval.
Prints one line per variant (top-1 F1 always answering, overall and per coverage bucket; with
abstention; latency; windows read) and writes every full report into --out-dir.
`--read-min-article-words` (evaluate's option, for every variant) grows windows only in articles that
long; 0 grows them in every article. Latencies are comparable only between variants of one run on an
otherwise idle machine.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.cli.common import log_at, reading_choices  # noqa: E402
from qa.cli.evaluate import index_archive, parser as evaluate_parser  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.evaluation import evaluate_pipeline, sample  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402
from qa.reader import ExtractiveReader  # noqa: E402
from qa.squad import load_squad  # noqa: E402


def variant(text: str) -> dict:
    parts = text.split(":")
    if not 4 <= len(parts) <= 8:
        raise SystemExit(f"--variant WORDS:BUDGET:WINDOW:STRIDE[:FIRST[:ENOUGH[:STORY[:CONFIDENT]]]], not {text!r}")
    words, budget, window, stride = (int(p) for p in parts[:4])
    out = {"read_words": words, "read_budget_words": budget, "window": window, "stride": stride}
    if len(parts) > 4:
        out["first_read"] = int(parts[4])
    if len(parts) > 5:
        out["first_read_enough"] = float(parts[5])
    if len(parts) > 6:
        out["story_chunks"] = int(parts[6])
    if len(parts) > 7:
        out["first_read_confident"] = float(parts[7])
    return out


def main() -> int:
    settings = Settings()
    options = evaluate_parser(settings, "sweep_reading.py")
    options.add_argument("--variant", action="append", type=variant, required=True)
    options.add_argument("--out-dir", type=Path, default=Path("runs/sweep"))
    args = options.parse_args()
    log_at(30)
    articles, examples = load_squad(args.file)
    examples = sample(examples, args.limit)
    index, archive = index_archive(args, settings, articles, None)
    readers: dict[tuple[int, int], ExtractiveReader] = {}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for chosen in args.variant:
        key = (chosen["window"], chosen["stride"])
        reader = readers.get(key) or readers.setdefault(key, ExtractiveReader(
            args.reader_model, backend=args.reader_backend, threads=settings.threads, max_length=key[0],
            stride=key[1]))
        reading = {**reading_choices(args), **{k: v for k, v in chosen.items() if k not in ("window", "stride")}}
        assistant = Assistant.from_settings(index, reader, settings, threshold=args.threshold, **reading)
        started = time.time()
        report = evaluate_pipeline(assistant, archive["indexed"], examples, archive["article_ids"], details=True)
        report.update(variant=chosen, read_min_article_words=args.read_min_article_words,
                      seconds=round(time.time() - started, 1), file=args.file.name,
                      crowd=args.crowd, date=time.strftime("%Y-%m-%d"))
        name = "-".join(str(v) for v in chosen.values())
        (args.out_dir / f"{args.file.stem}-{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        buckets = report["coverage_buckets"]
        print(f"{name:>22}  F1 {report['forced_top1_f1']:5.2f}  low {buckets['low'].get('forced_top1_f1', '-'):>5}"
              f" ({buckets['low']['questions']})  mid {buckets['mid'].get('forced_top1_f1', '-'):>5}"
              f"  high {buckets['high'].get('forced_top1_f1', '-'):>5}  abst {report['top1_f1']:5.2f}"
              f"  p50 {report['latency_ms_p50']:6.1f}  p95 {report['latency_ms_p95']:6.1f}"
              f"  read {report['passages_read_mean']:.2f}  ans@10 {report.get('answer_recall@10', '-')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
