"""Fit the reader's answer probability and confidence threshold on held-out questions
asked of a crowded archive.

    newsqa calibrate                              # TyDi QA English (never trained on), crowded
    newsqa calibrate --from-dump runs/calibration/tydiqa-en-train-crowd.jsonl     # refit only
    newsqa calibrate --report-only --from-dump runs/eval/squad-dev-crowd.jsonl    # curve only
    newsqa calibrate --from-dump D --extra-dump E --cross-validate 5             # held-out folds only

Why crowded: confidence must mean the same in an archive of 5,000 articles as in one
of 50. The held-out file's articles are split in two seeded halves; the first half is
indexed *among* the distractor archive of `newsqa evaluate --crowd` (the 2,225 BBC
articles and SQuAD train articles). Questions about indexed articles should be
answered; questions about the other half should not (their articles are absent).
Every question goes through the pipeline (`Assistant.ask`, the `/ask` code path),
and its top distinct candidates are labelled right when their token F1 with a gold
answer is at least 0.5.

A logistic regression on features that do not drift with the archive's size (the
reader's shared-normalized probability and its odds against no-answer, the margin
over the window's own no-answer, the dense similarity of question and passage; not
the fused rank score, whose value falls as neighbours are added) gives P(right).

The threshold is read off the risk-coverage curve of the top answers (all questions
count, so answering an unanswerable one is an error): by default the point with the
best F1 with abstention (an answer scores its F1; abstaining scores 1 on an
unanswerable question, 0 on an answerable one); with `--choose accuracy`, the lowest
threshold whose answers are right at least `--target-accuracy` % of the time; with
`--choose even-odds`, 0.5 (the shipped choice: confident when more likely right than
wrong). Every fit also fits the alternatives (`qa.fitting.fit_alternatives`): P(right) of an
answer ranked below the first. `--cross-validate K` fits on K-1 folds of the calibration
questions (an article's questions, and questions with one text, always in one fold) and reports
each dump's held-out answers, for choosing features and fit without touching any report set; it
writes nothing. `--extra-dump` adds the dumps of `newsqa evaluate --mode pipeline --dump` (the
news question set's calibration half) to the fit. Writes `calibration.json` into the reader
directory and the curve to `docs/eval/risk-coverage-<file>.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path

import numpy as np

from qa.cli.common import chunking_options, described, reader_window, reading_choices, reading_options
from qa.config import PROJECT_ROOT, Settings
from qa.evaluation import CALIBRATION_SPLIT_DEFAULTS, SQUAD_TRAIN
from qa.fitting import (
    CANDIDATES_PER_QUESTION,
    EVEN_ODDS,
    choose_threshold,
    cross_validate,
    dump_groups,
    fit,
    fit_alternatives,
    fit_ranking,
    load_dump,
    risk_coverage,
    utility,
)
from qa.reader import CALIBRATION_FILE, FEATURES, Calibration, weights_sha256

SHARED_DIR = PROJECT_ROOT.parent / "shared"
DEFAULT_FILE = SHARED_DIR / "data" / "qa" / "tydiqa-en-train.json"
DEFAULT_FEATURES = ("log_answer_probability", "margin", "dense_score")


def folds(value: str) -> int:
    """--cross-validate's K: at least 2 folds."""
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of folds, got {value!r}") from None
    if k < 2:
        raise argparse.ArgumentTypeError(f"cross-validation needs at least 2 folds, got {k}")
    return k


def parser(settings: Settings, prog: str | None = None) -> argparse.ArgumentParser:
    parser = described(__doc__, prog)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="held-out SQuAD-format file")
    reading_options(parser, settings)
    # The calibrated stop (--first-read-confident) asks the calibration in force whether to read on, so a
    # calibration gathered with it on would depend on the one it replaces (or, for new weights, on none):
    # the questions are asked with the reader's own rule only, as the shipped calibration was fitted.
    parser.set_defaults(first_read_confident=0.0)
    parser.add_argument("--questions", type=int, default=CALIBRATION_SPLIT_DEFAULTS["questions"],
                        help="answerable questions to ask")
    parser.add_argument("--unanswerable-share", type=float, default=CALIBRATION_SPLIT_DEFAULTS["unanswerable_share"])
    parser.add_argument("--no-crowd", dest="crowd", action="store_false", help="index the held-out half alone")
    parser.add_argument("--crowd-train-articles", type=int, default=20)
    parser.add_argument("--crowd-questions", type=int, default=800,
                        help="also ask this many SQuAD train questions about the crowd's SQuAD articles (answerable)")
    parser.add_argument("--shared-dir", type=Path, default=SHARED_DIR)
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/embedding-cache"))
    chunking_options(parser)
    parser.add_argument("--features", nargs="+", default=list(DEFAULT_FEATURES), choices=sorted(FEATURES))
    parser.add_argument("--ranking", action="store_true",
                        help="also fit the ranking (which candidate is shown first) over each question's candidates "
                             "together, on the same features; the calibration is then fitted on the answer it puts "
                             "first (off by default: it did not raise top-1 F1 on the report sets)")
    parser.add_argument("--keep-ranking", action="store_true",
                        help="order each question's candidates as the reader's current calibration does (its "
                             "ranking, or its weights when it has none) and fit only the probability: the answer "
                             "shown first stays the one the dumps were asked with, new features change only how "
                             "sure the score is (what the fit sees is then exactly what is served)")
    parser.add_argument("--candidates-per-question", type=int, default=CANDIDATES_PER_QUESTION,
                        help="fit on each question's best N candidates (1: the answer shown first)")
    parser.add_argument("--choose", choices=["utility", "accuracy", "even-odds"], default="utility",
                        help="threshold: the best F1 with abstention on the curve, the lowest one whose answers "
                             "are right --target-accuracy %% of the time, or 0.5 (even-odds: an answer is confident "
                             "when its calibrated score says it is more likely right than wrong)")
    parser.add_argument("--target-accuracy", type=float, default=85.0, help="%% of confident answers that are right")
    parser.add_argument("--from-dump", type=Path, default=None, help="refit from a dump instead of asking again")
    parser.add_argument("--extra-dump", type=Path, nargs="+", default=[],
                        help="also fit on these dumps (`newsqa evaluate --mode pipeline --dump`), e.g. the "
                             "calibration half of the news question set asked of the crowded archive")
    parser.add_argument("--report-only", action="store_true",
                        help="print the risk-coverage curve of the current calibration on --from-dump; write nothing")
    parser.add_argument("--cross-validate", type=folds, default=0, metavar="K",
                        help="report K-fold cross-validated results of this fit (folds by article, per dump) "
                             "instead of writing a calibration")
    parser.add_argument("--seed", type=int, default=CALIBRATION_SPLIT_DEFAULTS["seed"])
    return parser


def _crowd_questions(args: argparse.Namespace, rng: random.Random, assistant, documents, dump: Path) -> None:
    """Answerable questions of another style: SQuAD train questions about the crowd's own
    SQuAD articles. TyDi alone teaches that a passage far from the question means "no
    answer"; these keep that lesson from outweighing the reader's own evidence."""
    from qa.evaluation import crowd_train_articles, documents_from_squad, evaluate_pipeline
    from qa.squad import load_squad

    train_articles, train_examples = load_squad(args.shared_dir / "data" / "qa" / SQUAD_TRAIN)
    chosen = crowd_train_articles(len(train_articles), args.crowd_train_articles)
    ids = [""] * len(train_articles)
    for position, document in zip(chosen, documents_from_squad([train_articles[i] for i in chosen])):
        ids[position] = f"squad-train-{document.id}"
    pool = [e for e in train_examples if ids[e.article_index]]
    extra = rng.sample(pool, min(args.crowd_questions, len(pool)))
    evaluate_pipeline(assistant, documents, extra, ids, dump=crowd_dump(dump))


def collect(args: argparse.Namespace, settings: Settings, dump: Path) -> None:
    """Ask every held-out question of the crowded archive; write candidates and labels (JSON lines)."""
    from qa.embedding import Embedder
    from qa.evaluation import (
        CachingEmbedder,
        calibration_split,
        crowd_documents,
        documents_from_squad,
        evaluate_pipeline,
        with_crowd,
    )
    from qa.index import NewsIndex
    from qa.pipeline import Assistant
    from qa.reader import ExtractiveReader
    from qa.squad import load_squad

    rng = random.Random(args.seed)
    articles, examples = load_squad(args.file)
    split = calibration_split(articles, examples, rng, args.questions, args.unanswerable_share)
    documents = documents_from_squad(articles)  # ids follow article order, so article_index finds them
    kept = [documents[i] for i in split.indexed]
    embedder = CachingEmbedder(Embedder.from_settings(settings), args.cache_dir)
    crowd = crowd_documents(args.shared_dir, args.crowd_train_articles) if args.crowd else []
    indexed = with_crowd(kept, crowd)
    index = NewsIndex.build(indexed, embedder, max_words=args.max_words, overlap_sentences=args.overlap_sentences,
                            progress=True)
    embedder.save()
    reader = ExtractiveReader(args.reader_model, backend=args.reader_backend, max_length=args.window,
                              stride=args.stride)
    assistant = Assistant.from_settings(index, reader, settings, threshold=1.0,
                                        story_evidence=True,  # recorded in the dump for any later fit
                                        **reading_choices(args))
    dump.parent.mkdir(parents=True, exist_ok=True)
    evaluate_pipeline(assistant, indexed, split.asked, [d.id for d in documents], dump=dump)
    if args.crowd and args.crowd_questions:
        _crowd_questions(args, rng, assistant, indexed, dump)


def crowd_dump(dump: Path) -> Path:
    return dump.with_name(dump.stem + "-squad-train.jsonl")


def print_current(args: argparse.Namespace, questions, grid: np.ndarray) -> int:
    """--report-only: the curve of the reader's current calibration on the dump."""
    calibration = Calibration.load(args.reader_model)
    curve = risk_coverage(calibration, questions, grid)
    print(json.dumps({"calibration": calibration.weights, "threshold": calibration.threshold,
                      "at_threshold": risk_coverage(calibration, questions, np.array([calibration.threshold]))[0],
                      "curve": curve}, indent=1))
    return 0


def calibration_record(args: argparse.Namespace, calibration: Calibration, chosen: dict, questions,
                       dump: Path) -> dict:
    """What `calibration.json` holds: the fitted weights, the threshold, and how both were made."""
    how = ("kept from the calibration the dumps were asked with (--keep-ranking): the answer shown first "
           "is unchanged; the calibration above is fitted on the candidates it puts first" if args.keep_ranking
           else "over each question's candidates together (conditional logit); the calibration above is "
                "fitted on the candidates it puts first (candidates_per_question)")
    ranking = {"ranking": {"weights": calibration.ranking, "fitted": how}} if calibration.ranking else {}
    alternatives = {"alternatives": {
        "weights": calibration.alternatives, "bias": calibration.alternatives_bias,
        "first_log_odds": calibration.alternatives_first,
        "fitted": "on the candidates ranked second and third, with the first answer's log odds: "
                  "P(right) of an answer shown below the first"}} if calibration.alternatives else {}
    two_step = 0 < args.first_read < args.passages
    return {
        "weights": calibration.weights, "bias": calibration.bias, "threshold": chosen["threshold"], **ranking,
        **alternatives,
        "fitted_on": [args.file.name] + ([f"{SQUAD_TRAIN} (questions about the crowd's articles)"]
                                         if crowd_dump(dump).exists() else []) + [p.name for p in args.extra_dump],
        "crowded": args.crowd, "passages_read": args.passages,
        # Which of the file's questions were asked: `evaluate --unseen-by-calibration` asks the others.
        "split": {"seed": args.seed, "questions": args.questions, "unanswerable_share": args.unanswerable_share},
        "first_read": [args.first_read, args.first_read_enough] if two_step else None,
        "first_read_confident": args.first_read_confident if two_step else None,
        "questions": len(questions), "unanswerable_questions": sum(u for u, _ in questions),
        "candidates_per_question": args.candidates_per_question,
        "chunking": {"max_words": args.max_words, "overlap_sentences": args.overlap_sentences},
        # What the reader read around each passage (qa.reading): the dumps must be asked the same way.
        "reading": {"read_words": args.read_words, "read_budget_words": args.read_budget,
                    "read_min_article_words": args.read_min_article_words,
                    "story_chunks": args.story_chunks},
        "reader_window": [args.window, args.stride],
        "chosen_by": f"accuracy >= {args.target_accuracy}%" if args.choose == "accuracy" else args.choose,
        "at_threshold": chosen,
        "date": time.strftime("%Y-%m-%d"),
        # The weights this was fitted for: ExtractiveReader refuses it beside any other weights.
        "weights_sha256": weights_sha256(args.reader_model),
    }


def fit_and_write(args: argparse.Namespace, questions, grid: np.ndarray, dump: Path,
                  kept: dict[str, float] | None = None) -> int:
    """Fit, choose the threshold on the curve, write calibration.json and the curve. With `kept`
    (`--keep-ranking`), candidates are ordered by those weights instead of a fitted ranking."""
    ranking = kept or (fit_ranking(questions, tuple(args.features)) if args.ranking else None)
    calibration = fit_alternatives(questions, fit(questions, tuple(args.features), args.candidates_per_question,
                                                  ranking))
    curve = risk_coverage(calibration, questions, grid)
    for point in curve:
        point["f1_with_abstention"] = round(utility(calibration, questions, point["threshold"]), 2)
    if args.choose == "accuracy":
        chosen = choose_threshold(curve, args.target_accuracy)
    elif args.choose == "even-odds":
        chosen = next(p for p in curve if p["threshold"] == EVEN_ODDS)
    else:
        chosen = max(curve, key=lambda p: p["f1_with_abstention"])
    record = calibration_record(args, calibration, chosen, questions, dump)
    (args.reader_model / CALIBRATION_FILE).write_text(json.dumps(record, indent=2) + "\n")
    out = PROJECT_ROOT / "docs" / "eval" / f"risk-coverage-{args.file.stem}.json"
    out.write_text(json.dumps({"calibration": record, "curve": curve}, indent=1) + "\n")
    print(json.dumps(record, indent=2))
    print(f"curve written to {out}")
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    settings = Settings()
    options = parser(settings, prog)
    args = options.parse_args(argv)
    reader_window(options, args)  # checks --window and --stride before anything is asked
    logging.basicConfig(level=logging.WARNING)

    dump = args.from_dump or Path("runs/calibration") / f"{args.file.stem}{'-crowd' if args.crowd else ''}.jsonl"
    if args.from_dump is None:
        collect(args, settings, dump)
    paths = [dump] + ([crowd_dump(dump)] if crowd_dump(dump).exists() and not args.report_only else [])
    paths += args.extra_dump
    questions, groups, sources = [], [], []
    for path in paths:
        loaded = load_dump(path)
        questions += loaded
        groups += dump_groups(path)
        sources += [path.name] * len(loaded)
    grid = np.round(np.linspace(0.02, 0.98, 49), 3)
    if args.report_only:
        return print_current(args, questions, grid)
    if args.ranking and args.keep_ranking:
        options.error("--ranking fits a new order; --keep-ranking keeps the current one: choose one")
    kept = current_order(args.reader_model) if args.keep_ranking else None
    if args.cross_validate:
        print(json.dumps(cross_validate(questions, groups, sources, tuple(args.features), args.candidates_per_question,
                                        kept or args.ranking, args.cross_validate, args.seed), indent=1))
        return 0
    return fit_and_write(args, questions, grid, dump, kept)


def current_order(model_dir: Path) -> dict[str, float]:
    """The weights the reader's current calibration orders candidates by (`Calibration.rank_score`)."""
    current = Calibration.load(model_dir)
    return dict(current.ranking or current.weights)
