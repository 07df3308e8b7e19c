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
wrong). `--cross-validate K` fits on K-1 folds of the calibration questions (an article's
questions always in one fold) and reports each dump's held-out answers, for choosing features
and fit without touching any report set; it writes nothing. `--extra-dump` adds the dumps of `newsqa evaluate --mode pipeline --dump` (the
news question set's calibration half) to the fit. Writes
`calibration.json` into the reader directory and the curve to
`docs/eval/risk-coverage-<file>.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.cli.common import chunking_options, described, reader_window, reading_options
from qa.config import PROJECT_ROOT, Settings
from qa.evaluation import CALIBRATION_SPLIT_DEFAULTS, CORRECT_F1, SQUAD_TRAIN
from qa.evaluation import risk_coverage as coverage_curve
from qa.reader import CALIBRATION_FILE, FEATURES, Calibration, SpanCandidate, _log_odds, weights_sha256

SHARED_DIR = PROJECT_ROOT.parent / "shared"
DEFAULT_FILE = SHARED_DIR / "data" / "qa" / "tydiqa-en-train.json"
DEFAULT_FEATURES = ("log_answer_probability", "margin", "dense_score")
CANDIDATES_PER_QUESTION = 5
RANKING_L2 = 0.01  # per question, on standardized features: --ranking's penalty
EVEN_ODDS = 0.5  # --choose even-odds: confident when more likely right than wrong (the grid holds 0.5)
ALTERNATIVES_FITTED = 2  # the alternatives' calibration is fitted on the candidates ranked second and third


def parser(settings: Settings, prog: str | None = None) -> argparse.ArgumentParser:
    parser = described(__doc__, prog)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="held-out SQuAD-format file")
    reading_options(parser, settings)
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
    parser.add_argument("--cross-validate", type=int, default=0, metavar="K",
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
    assistant = Assistant.from_settings(index, reader, settings, passages_to_read=args.passages, threshold=1.0,
                                        first_read=args.first_read, first_read_enough=args.first_read_enough)
    dump.parent.mkdir(parents=True, exist_ok=True)
    evaluate_pipeline(assistant, indexed, split.asked, [d.id for d in documents], dump=dump)
    if args.crowd and args.crowd_questions:
        _crowd_questions(args, rng, assistant, indexed, dump)


def crowd_dump(dump: Path) -> Path:
    return dump.with_name(dump.stem + "-squad-train.jsonl")


def _candidate(row: dict) -> SpanCandidate:
    return SpanCandidate(
        document_id=row["document_id"], start=0, end=0, text=row["text"], span_score=row["span_score"],
        null_score=row["null_score"], passage_rank=row["passage_rank"], passage_score=row["passage_score"],
        probability=row["probability"], no_answer_probability=row["no_answer_probability"],
        dense_score=row["dense_score"], answer_probability=row.get("answer_probability", row["probability"]),
        articles=row.get("articles", 1), other_probability=row.get("other_probability", 0.0),
        type_fit=row.get("type_fit", 0.5), words=row.get("words", len(row["text"].split())))


def dump_groups(path: Path) -> list[tuple[str, str]]:
    """Per question of a dump: the article it asks about (its own id when no article answers it)
    and its text, lowercased: cross-validation keeps questions that share either in one fold."""
    return [(record.get("gold_document") or record["id"], " ".join(record["question"].lower().split()))
            for record in map(json.loads, path.open(encoding="utf-8"))]


def folds_of(groups: list[tuple[str, str]]) -> list[int]:
    """A fold group per question: questions about one article, or with one text, are linked, and
    linked questions share a group (the news set asks one question of several articles, and a
    question asked of two archives gives the same candidates twice: apart, a flexible fit would
    score a question it was fitted on)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes: dict[str, int] = {}
    for article, text in groups:
        nodes.setdefault("article:" + article, len(nodes))
        nodes.setdefault("text:" + text, len(nodes))
    rows = [nodes["article:" + article] for article, _ in groups]
    cols = [nodes["text:" + text] for _, text in groups]
    graph = coo_matrix((np.ones(len(groups)), (rows, cols)), shape=(len(nodes), len(nodes)))
    _, component = connected_components(graph, directed=False)
    return [int(component[row]) for row in rows]


def load_dump(path: Path) -> list[tuple[bool, list[tuple[SpanCandidate, float]]]]:
    """Per question: (unanswerable?, [(candidate, F1 of its text)])."""
    questions = []
    for line in path.open(encoding="utf-8"):
        record = json.loads(line)
        questions.append((not record["gold"], [(_candidate(c), c["f1"]) for c in record["candidates"]]))
    return questions


def tops(calibration: Calibration, questions) -> list[tuple[float, float]]:
    """Per question: the probability `calibration` gives the candidate it ranks first, and that
    candidate's F1 (0 for any answer to an unanswerable question), as the pipeline would rank them."""
    firsts = (max(scored, key=lambda cf: calibration.rank_score(cf[0]), default=None) for _, scored in questions)
    return [(calibration.probability(first[0]), first[1]) if first else (0.0, 0.0) for first in firsts]


def shown(calibration: Calibration, scored: list[tuple[SpanCandidate, float]],
          count: int = 3) -> list[tuple[float, float]]:
    """The probability and F1 of a question's best `count` candidates, as `Assistant.rank` gives them:
    in the calibration's order, the first by `probability`, the others by `alternative_probability`,
    each capped at the one above (a dump holds each answer once already)."""
    ranked = sorted(scored, key=lambda cf: -calibration.rank_score(cf[0]))[:count]
    result: list[tuple[float, float]] = []
    for candidate, f1 in ranked:
        probability = (min(calibration.alternative_probability(candidate, result[0][0]), result[-1][0]) if result
                       else calibration.probability(candidate))
        result.append((probability, f1))
    return result


def fit_alternatives(questions, calibration: Calibration) -> Calibration:
    """`calibration` with its alternatives fitted: a logistic regression of "right" on the features of
    the candidates ranked second and third (`ALTERNATIVES_FITTED`) and the first answer's log odds
    (unchanged when those candidates are all right or all wrong)."""
    from sklearn.linear_model import LogisticRegression

    names = tuple(calibration.weights)
    rows, labels = [], []
    for _, scored in questions:
        ranked = sorted(scored, key=lambda cf: -calibration.rank_score(cf[0]))
        if len(ranked) < 2:
            continue
        first = _log_odds(calibration.probability(ranked[0][0]))
        for candidate, f1 in ranked[1:1 + ALTERNATIVES_FITTED]:
            rows.append([FEATURES[name](candidate) for name in names] + [first])
            labels.append(int(f1 >= CORRECT_F1))
    if len(set(labels)) < 2:  # nothing to learn (one candidate per question, or all alike): as before
        return calibration
    model = LogisticRegression(C=1.0, max_iter=2000).fit(np.array(rows), np.array(labels))
    *weights, first_weight = (round(float(w), 5) for w in model.coef_[0])
    return replace(calibration, alternatives=dict(zip(names, weights)),
                   alternatives_bias=round(float(model.intercept_[0]), 5), alternatives_first=first_weight)


def risk_coverage(calibration: Calibration, questions, grid: np.ndarray) -> list[dict]:
    """For each threshold: share of questions answered, and how often the top answer given is right."""
    return coverage_curve(tops(calibration, questions), [round(float(t), 3) for t in grid], digits=2)


def fit_ranking(questions, names: tuple[str, ...], l2: float = RANKING_L2) -> dict[str, float]:
    """Weights of a linear score that puts a right candidate (F1 >= CORRECT_F1) first.

    Fitted over each question's candidates together: the softmax of the scores over a question's
    candidates should put its mass on the right ones (a conditional logit; the questions without a
    right candidate teach no order and are left out), with a small L2 penalty on standardized
    features. A calibration fitted one candidate at a time learns how likely a candidate is to
    be right, not which of a question's candidates is the right one. Off by default: on the
    calibration questions (5-fold cross-validated) it put a right answer first for 70.2% of them
    against 69.2%, but on the report sets top-1 F1 did not move or fell (docs/evaluation.md).
    Hand-written rather than a library's: scikit-learn has no conditional logit, and it is a few
    lines on scipy's L-BFGS."""
    from scipy.optimize import minimize

    groups = []
    for _, scored in questions:
        right = np.array([f1 >= CORRECT_F1 for _, f1 in scored], dtype=float)
        if right.any():
            groups.append((np.array([[FEATURES[name](c) for name in names] for c, _ in scored]), right))
    if not groups:
        raise ValueError("no question has a right candidate: nothing to fit a ranking on")
    rows = np.vstack([features for features, _ in groups])
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-9
    groups = [((features - mean) / scale, right) for features, right in groups]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        # -log(mass on the right ones) = logsumexp(all scores) - logsumexp(right scores); its gradient
        # is features' (softmax over all - softmax over the right ones)
        total, gradient = l2 * len(groups) * float(w @ w), 2 * l2 * len(groups) * w
        for features, right in groups:
            scores = features @ w
            p = np.exp(scores - scores.max())
            on_right = np.where(right > 0, scores, -np.inf)
            q = np.exp(on_right - on_right.max())  # shifted by the right ones' own best: never all 0
            total += np.log(p.sum()) + scores.max() - np.log(q.sum()) - on_right.max()
            gradient += features.T @ (p / p.sum() - q / q.sum())
        return total, gradient

    weights = minimize(loss, np.zeros(len(names)), jac=True, method="L-BFGS-B").x / scale
    return {name: round(float(w), 5) for name, w in zip(names, weights)}


def fit(questions, names: tuple[str, ...], per_question: int = CANDIDATES_PER_QUESTION,
        ranking: dict[str, float] | None = None) -> Calibration:
    """Logistic regression of "right" (F1 >= CORRECT_F1) on the named features of each question's
    best `per_question` candidates: by `ranking` when given, else by the reader's order in the dump."""
    from sklearn.linear_model import LogisticRegression

    order = Calibration(ranking=ranking) if ranking else None
    rows, labels = [], []
    for _, scored in questions:
        if order is not None:
            scored = sorted(scored, key=lambda cf: -order.rank_score(cf[0]))
        for candidate, f1 in scored[:per_question]:
            rows.append([FEATURES[name](candidate) for name in names])
            labels.append(int(f1 >= CORRECT_F1))
    model = LogisticRegression(C=1.0, max_iter=2000).fit(np.array(rows), np.array(labels))
    weights = {name: round(float(w), 5) for name, w in zip(names, model.coef_[0])}
    return Calibration(weights, round(float(model.intercept_[0]), 5), ranking=dict(ranking or {}))


def utility(calibration: Calibration, questions, threshold: float) -> float:
    """SQuAD 2.0-style F1 with abstention: an answer scores its F1, abstaining scores 1 on an
    unanswerable question and 0 on an answerable one."""
    total = 0.0
    for (unanswerable, _), (probability, f1) in zip(questions, tops(calibration, questions)):
        answered = probability >= threshold
        total += float(not answered) if unanswerable else (f1 if answered else 0.0)
    return 100 * total / len(questions)


def choose_threshold(curve: list[dict], target: float) -> dict:
    """The lowest threshold whose answers are right at least `target`% of the time (most coverage)."""
    meeting = [point for point in curve if point["accuracy"] is not None and point["accuracy"] >= target]
    return meeting[0] if meeting else max((p for p in curve if p["accuracy"] is not None),
                                          key=lambda p: p["accuracy"])


def cross_validate(questions, groups: list[tuple[str, str]], sources: list[str], names: tuple[str, ...],
                   per_question: int, ranking: bool = False, folds: int = 5, seed: int = 0, threshold: float = EVEN_ODDS) -> dict:
    """Every question's top answer as scored by a calibration fitted without its article's questions
    (nor any question of the same text: `folds_of`).

    The fit is exactly `fit_and_write`'s (`fit`, after `fit_ranking` when `ranking`); scikit-learn's
    `GroupKFold` makes the folds. Reported per source (dump) and over all: the calibration error,
    the share answered and right at `threshold`, top-1 F1 always answering, and two points of the
    risk-coverage curve."""
    from sklearn.model_selection import GroupKFold

    from qa.evaluation import operating_points, reliability

    held_out: list[list[tuple[float, float]]] = [[] for _ in questions]
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros((len(questions), 1)), groups=folds_of(groups)):
        fitted = [questions[i] for i in train]
        order = fit_ranking(fitted, names) if ranking else None
        calibration = fit_alternatives(fitted, fit(fitted, names, per_question, order))
        for i in test:
            held_out[i] = shown(calibration, questions[i][1])
    report = {}
    for source in [*dict.fromkeys(sources), "all"]:
        lists = [answers for answers, s in zip(held_out, sources) if source in ("all", s)]
        rows = [answers[0] if answers else (0.0, 0.0) for answers in lists]
        given = [f1 for p, f1 in rows if p >= threshold]
        report[source] = {
            "questions": len(rows),
            "expected_calibration_error": reliability(rows)["expected_calibration_error"],
            "answered": round(100 * len(given) / len(rows), 2),
            "right": round(100 * sum(f1 >= CORRECT_F1 for f1 in given) / len(given), 2) if given else None,
            "top1_f1": round(100 * sum(f1 for _, f1 in rows) / len(rows), 2),
            **operating_points(rows),
            # The answers below the first: how well their own scores hold, and what a person is shown.
            "alternatives_calibration_error": reliability([a for answers in lists for a in answers[1:]])[
                "expected_calibration_error"],
            **shown_summary([answers for answers, s, (unanswerable, _) in zip(held_out, sources, questions)
                             if source in ("all", s) and not unanswerable], threshold)}
    return {"features": list(names), "candidates_per_question": per_question, "ranking": ranking,
            "folds": folds, "threshold": threshold, "held_out": report}


def shown_summary(lists: list[list[tuple[float, float]]], threshold: float) -> dict:
    """What the pipeline's `select` would show of each (answerable) question's ranked (probability, F1)
    answers (`shown`): how many answers, and how often a right one is among them."""
    from qa.pipeline import ALTERNATIVE_FLOOR, GUESS_FLOOR

    counts, hits = [], []
    for answers in lists:
        confident = bool(answers) and answers[0][0] >= threshold
        floor = min(ALTERNATIVE_FLOOR, threshold) if confident else GUESS_FLOOR
        chosen = [f1 for p, f1 in answers if p >= floor]
        counts.append(len(chosen))
        hits.append(any(f1 >= CORRECT_F1 for f1 in chosen))
    return {"answers_shown_mean": round(float(np.mean(counts)), 2) if counts else None,
            "right_among_shown": round(100 * float(np.mean(hits)), 2) if hits else None}


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
    ranking = {"ranking": {"weights": calibration.ranking,
                           "fitted": "over each question's candidates together (conditional logit); the "
                                     "calibration above is fitted on the candidates it puts first "
                                     "(candidates_per_question)"}} if calibration.ranking else {}
    return {
        "weights": calibration.weights, "bias": calibration.bias, "threshold": chosen["threshold"], **ranking,
        "alternatives": {"weights": calibration.alternatives, "bias": calibration.alternatives_bias,
                         "first_log_odds": calibration.alternatives_first,
                         "fitted": "on the candidates ranked second and third, with the first answer's log odds: "
                                   "P(right) of an answer shown below the first"},
        "fitted_on": [args.file.name] + ([f"{SQUAD_TRAIN} (questions about the crowd's articles)"]
                                         if crowd_dump(dump).exists() else []) + [p.name for p in args.extra_dump],
        "crowded": args.crowd, "passages_read": args.passages,
        # Which of the file's questions were asked: `evaluate --unseen-by-calibration` asks the others.
        "split": {"seed": args.seed, "questions": args.questions, "unanswerable_share": args.unanswerable_share},
        "first_read": [args.first_read, args.first_read_enough] if 0 < args.first_read < args.passages else None,
        "questions": len(questions), "unanswerable_questions": sum(u for u, _ in questions),
        "candidates_per_question": args.candidates_per_question,
        "chunking": {"max_words": args.max_words, "overlap_sentences": args.overlap_sentences},
        "reader_window": [args.window, args.stride],
        "chosen_by": f"accuracy >= {args.target_accuracy}%" if args.choose == "accuracy" else args.choose,
        "at_threshold": chosen,
        "date": time.strftime("%Y-%m-%d"),
        # The weights this was fitted for: ExtractiveReader refuses it beside any other weights.
        "weights_sha256": weights_sha256(args.reader_model),
    }


def fit_and_write(args: argparse.Namespace, questions, grid: np.ndarray, dump: Path) -> int:
    """Fit, choose the threshold on the curve, write calibration.json and the curve."""
    ranking = fit_ranking(questions, tuple(args.features)) if args.ranking else None
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
    if args.cross_validate:
        print(json.dumps(cross_validate(questions, groups, sources, tuple(args.features), args.candidates_per_question,
                                        args.ranking, args.cross_validate, args.seed), indent=1))
        return 0
    return fit_and_write(args, questions, grid, dump)
