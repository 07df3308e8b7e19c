"""Evaluate the reader or the whole pipeline on a SQuAD-format file.

    newsqa evaluate ../shared/data/qa/squad-dev-v1.1.json --mode reader
    newsqa evaluate ../shared/data/qa/squad-dev-v1.1.json --mode pipeline --limit 1000
    newsqa evaluate ../shared/data/qa/squad-dev-v2.0.json --mode pipeline
    newsqa evaluate ../shared/data/qa/squad-dev-v1.1.json --mode pipeline --crowd --limit 1000
    newsqa evaluate ../shared/data/qa/squad-dev-v1.1.json --mode reader --limit 2000 \\
        --reader-model runs/reader-feedback --out runs/eval/after.json    # a fine-tuned reader, before/after

reader:   the gold paragraph is given; EM/F1 (official SQuAD normalisation), and
          no-answer accuracy when the file has unanswerable questions.
retrieval: recall@k of dense-only, BM25-only and fused retrieval (no reader).
pipeline: every article is indexed as a document (dense + BM25, as `newsqa build`
          does), every question goes through the code path behind `/ask`; reports
          top-1 and best-of-top-3 EM/F1, document and answer recall@k, no-answer
          accuracy and latency.
--crowd:  the file's articles are indexed among ~2,250 other articles (the 2,225 BBC
          news articles and a seeded sample of SQuAD train articles), because answers
          that are right on one article must also hold up among many neighbours.
--unseen-by-calibration: for the file the reader's confidence was calibrated on
          (TyDi QA English): index the same half of its articles as the calibration
          did, and ask only the questions it never asked; those about the other half
          are unanswerable, as their articles are absent. A held-out report for a file
          that has no dev split here:
          newsqa evaluate ../shared/data/qa/tydiqa-en-train.json --mode pipeline \\
              --crowd --unseen-by-calibration --limit 1000

Prints a table and writes the JSON report to --out.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import time
from pathlib import Path

from qa.cli.common import (chunking_options, described, log_at, reader_window, reading_choices, reading_options,
                           store_option)
from qa.config import PROJECT_ROOT, Settings
from qa.embedding import Embedder
from qa.evaluation import (
    CALIBRATION_SPLIT_DEFAULTS,
    CachingEmbedder,
    calibration_split,
    crowd_documents,
    with_crowd,
    documents_from_squad,
    evaluate_pipeline,
    evaluate_reader,
    evaluate_retrieval,
    sample,
)
from qa.index import NewsIndex
from qa.pipeline import Assistant
from qa.reader import CALIBRATION_FILE, ExtractiveReader
from qa.squad import load_squad
from qa.stores import STORE_NAMES, temporary_backend

SHARED_DIR = PROJECT_ROOT.parent / "shared"


def parser(settings: Settings, prog: str | None = None) -> argparse.ArgumentParser:
    parser = described(__doc__, prog)
    parser.add_argument("file", type=Path, help="SQuAD-format JSON")
    parser.add_argument("--mode", choices=["reader", "pipeline", "retrieval"], default="reader")
    parser.add_argument("--limit", type=int, default=None, help="a seeded random sample of N questions")
    reading_options(parser, settings)
    parser.add_argument("--threshold", type=float, default=None, help="no-answer threshold (default: calibrated)")
    parser.add_argument("--details", action="store_true", help="pipeline: list every question's top answer")
    parser.add_argument("--out", type=Path, default=None, help="JSON report (default: runs/eval/<file>-<mode>.json)")
    parser.add_argument("--crowd", action="store_true",
                        help="retrieval/pipeline: index the file's articles among ~2,250 others (the BBC archive "
                             "and SQuAD train articles), as a real archive is crowded")
    parser.add_argument("--unseen-by-calibration", action="store_true",
                        help="pipeline/retrieval on the calibration's own file: its indexed half, and only the "
                             "questions the calibration never asked")
    parser.add_argument("--crowd-train-articles", type=int, default=20, help="SQuAD train articles among the crowd")
    parser.add_argument("--shared-dir", type=Path, default=SHARED_DIR, help="where corpus/ and data/qa/ are")
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/embedding-cache"),
                        help="chunk embeddings kept between runs (retrieval and pipeline modes)")
    store_option(parser, default=STORE_NAMES[0],
                 help="retrieval/pipeline: the kind of store to index into, in a temporary folder")
    chunking_options(parser)
    parser.add_argument("--dump", type=Path, default=None,
                        help="pipeline: write every question's candidates with their features (JSON lines)")
    return parser


def print_table(report: dict) -> None:
    """Scalars as `key  value` lines; nested reports (retrieval) as one column each."""
    nested = {k: v for k, v in report.items() if isinstance(v, dict) and k != "coverage_buckets"}
    width = max(len(k) for k in report)
    for key, value in report.items():
        if not isinstance(value, (dict, list)):
            print(f"{key:<{width}}  {value}")
    for point in report.get("risk_coverage") or []:
        print(f"  threshold {point['threshold']:.2f}: answers {point['coverage']:5.1f}% of questions, "
              f"{point['accuracy'] if point['accuracy'] is not None else '-'}% of them right")
    for name, scores in (report.get("coverage_buckets") or {}).items():
        print(f"  {name} coverage: " + ", ".join(f"{metric} {value}" for metric, value in scores.items()))
    if nested:
        rows = list(next(iter(nested.values())))
        width = max(len(r) for r in rows)
        print(" " * width + "".join(f"  {name:>14}" for name in nested))
        for row in rows:
            print(f"{row:<{width}}" + "".join(f"  {nested[name].get(row, ''):>14}" for name in nested))


def unseen_by_calibration(parser, reader_model: Path, file: Path, articles, examples):
    """The articles the calibration indexed, and the questions of `file` it never asked."""
    path = reader_model / CALIBRATION_FILE
    record = json.loads(path.read_text()) if path.exists() else {}
    if file.name not in record.get("fitted_on", []):
        parser.error(f"the calibration of {reader_model} was not fitted on {file.name} "
                     f"(fitted on: {', '.join(record.get('fitted_on', [])) or 'nothing recorded'})")
    split = {**CALIBRATION_SPLIT_DEFAULTS, **record.get("split", {})}
    chosen = calibration_split(articles, examples, random.Random(split["seed"]), split["questions"],
                               split["unanswerable_share"])
    return chosen.indexed, chosen.unseen


def index_archive(args: argparse.Namespace, settings: Settings, articles, kept) -> tuple[NewsIndex, dict]:
    """The index of the file's articles (those `kept`, or all), among the crowd with --crowd; what was indexed
    and the temporary folder the store lives in.

    Chunk vectors are cached between runs (keyed by the embedder's fingerprint), so comparing
    stores, readers or thresholds on the same archive embeds it once.
    """
    embedder = CachingEmbedder(Embedder.from_settings(settings), args.cache_dir)
    documents = documents_from_squad(articles)
    distractors = crowd_documents(args.shared_dir, args.crowd_train_articles) if args.crowd else []
    indexed = with_crowd(documents if kept is None else [documents[i] for i in kept], distractors)
    build_started = time.time()
    backend = temporary_backend(args.store)  # the index lives as long as the backend holds its folder
    index = NewsIndex.build(indexed, embedder, max_words=args.max_words, overlap_sentences=args.overlap_sentences,
                            progress=True, backend=backend)
    build_seconds = time.time() - build_started
    embedder.save()
    return index, {"indexed": indexed, "article_ids": [d.id for d in documents], "distractors": distractors,
                   "build_seconds": build_seconds}


def archive_report(args: argparse.Namespace, settings: Settings, reader, articles, examples, kept) -> dict:
    """--mode retrieval or pipeline: index the archive, then ask its questions."""
    index, archive = index_archive(args, settings, articles, kept)
    if args.mode == "retrieval":
        report = evaluate_retrieval(index, examples, archive["article_ids"])
    else:
        assistant = Assistant.from_settings(index, reader, settings, threshold=args.threshold,
                                            # a dump records the story evidence for a later fit, used or not
                                            story_evidence=True if args.dump else None, **reading_choices(args))
        report = evaluate_pipeline(assistant, archive["indexed"], examples, archive["article_ids"], args.details,
                                   dump=args.dump)
        report["passages_read"] = args.passages
        report["chunking"] = {"max_words": args.max_words, "overlap_sentences": args.overlap_sentences}
        two_step = 0 < args.first_read < args.passages
        report["first_read"] = [args.first_read, args.first_read_enough] if two_step else None
        report["first_read_confident"] = args.first_read_confident if two_step else None
        report["read_words"], report["read_budget_words"] = args.read_words, args.read_budget
        report["read_min_article_words"] = args.read_min_article_words
        report["story_chunks"] = args.story_chunks
    if kept is not None:
        report["unseen_by_calibration"] = {"articles_indexed": len(kept), "of_articles": len(articles)}
    report["index_build_seconds"] = round(archive["build_seconds"], 1)
    report["chunks"] = index.stats().chunks
    report["store"] = args.store
    if args.crowd:
        report["crowd_distractor_documents"] = len(archive["distractors"])
        report["crowd_squad_train_articles"] = args.crowd_train_articles
    return report


def provenance(args: argparse.Namespace, reader, started: float) -> dict:
    """Which weights were measured, so that reports before and after a fine-tune can be told apart; when, where."""
    return {
        "reader_model": str(args.reader_model) if reader else None,
        "reader_weights_sha256": reader.weights_sha256 if reader else None,
        "file": args.file.name, "reader_backend": reader.backend if reader else None,
        "reader_window": [reader.max_length, reader.stride] if reader else None,
        "seconds": round(time.time() - started, 1),
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }


def write_report(args: argparse.Namespace, report: dict) -> None:
    print_table(report)
    crowd = ("-crowd" if args.crowd else "") + ("-unseen" if args.unseen_by_calibration else "")
    limit = f"-{args.limit}" if args.limit else ""
    out = args.out or Path("runs/eval") / f"{args.file.stem}-{args.mode}{crowd}{limit}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report written to {out}")


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    settings = Settings()
    options = parser(settings, prog)
    args = options.parse_args(argv)
    log_at(logging.WARNING)

    articles, examples = load_squad(args.file)
    kept = None  # which of the file's articles are indexed (all, unless --unseen-by-calibration)
    if args.unseen_by_calibration:
        if args.mode == "reader":
            options.error("--unseen-by-calibration needs --mode pipeline or retrieval (it decides what is indexed)")
        kept, examples = unseen_by_calibration(options, args.reader_model, args.file, articles, examples)
    examples = sample(examples, args.limit)
    started = time.time()
    reader = None
    if args.mode != "retrieval":
        reader = ExtractiveReader(args.reader_model, backend=args.reader_backend, threads=settings.threads,
                                  **reader_window(options, args))
    if args.mode == "reader":
        report = evaluate_reader(reader, examples, args.threshold)
    else:
        report = archive_report(args, settings, reader, articles, examples, kept)
    report.update(provenance(args, reader, started))
    write_report(args, report)
    return 0
