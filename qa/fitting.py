"""Fitting the reader's calibration from what questions asked of an archive gave: the logistic map
from evidence to P(right) of the answer shown first (`fit`), of the answers below it
(`fit_alternatives`), an optional ranking over each question's candidates (`fit_ranking`), and
cross-validation that keeps an article's questions together (`cross_validate`).

The input is a dump of `newsqa evaluate --mode pipeline --dump` (or of `newsqa calibrate`): per
question, whether the archive answers it and its candidates with their features and F1
(`load_dump`). `newsqa calibrate` (`qa/cli/calibrate.py`) asks the questions, calls these and
writes `calibration.json`; `Calibration` itself, what the reader applies, is in `qa/reader.py`.
scikit-learn (the `train` extra) is imported by the functions that need it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.evaluation import CORRECT_F1
from qa.evaluation import risk_coverage as coverage_curve
from qa.pipeline import same_answer, shown_floor
from qa.reader import FEATURES, Calibration, SpanCandidate, log_odds
from qa.squad import normalize_answer

CANDIDATES_PER_QUESTION = 5
RANKING_L2 = 0.01  # per question, on standardized features: the ranking's penalty
EVEN_ODDS = 0.5  # confident when more likely right than wrong (the threshold grid holds 0.5)
ALTERNATIVES_FITTED = 2  # the alternatives' calibration is fitted on the candidates ranked second and third


def _candidate(row: dict) -> SpanCandidate:
    return SpanCandidate(
        document_id=row["document_id"], start=0, end=0, text=row["text"], span_score=row["span_score"],
        null_score=row["null_score"], passage_rank=row["passage_rank"], passage_score=row["passage_score"],
        probability=row["probability"], no_answer_probability=row["no_answer_probability"],
        dense_score=row["dense_score"], answer_probability=row.get("answer_probability", row["probability"]),
        articles=row.get("articles", 1), other_probability=row.get("other_probability", 0.0),
        type_fit=row.get("type_fit", 0.5), words=row.get("words", len(row["text"].split())),
        story_article=row.get("story_article", 1.0), story_near=row.get("story_near", 1.0),
        story_best=row.get("story_best", 1.0), echo=row.get("echo", 0.0), detail=row.get("detail", 0.5),
        check=row.get("check", 0.0),
        normalized=normalize_answer(row["text"]))


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


def ranked(calibration: Calibration, scored: list[tuple[SpanCandidate, float]]) -> list[tuple[SpanCandidate, float]]:
    """A question's (candidate, F1) in the calibration's order, each answer once as `Assistant.rank`
    folds them (`same_answer`: a dump's candidates have no offsets, and it holds overlapping spans of
    one article once already)."""
    kept: list[tuple[SpanCandidate, float]] = []
    for candidate, f1 in sorted(scored, key=lambda cf: -calibration.rank_score(cf[0])):
        if not any(same_answer(candidate, other) for other, _ in kept):
            kept.append((candidate, f1))
    return kept


def shown(calibration: Calibration, scored: list[tuple[SpanCandidate, float]],
          count: int = 3) -> list[tuple[float, float]]:
    """The probability and F1 of a question's best `count` answers (`ranked`), as `Assistant.rank`
    gives them: the first by `probability`, the others by `alternative_probability`, each capped at
    the one above."""
    answers = ranked(calibration, scored)[:count]
    return list(zip(calibration.shown_probabilities([c for c, _ in answers]), [f1 for _, f1 in answers]))


def fit_alternatives(questions, calibration: Calibration) -> Calibration:
    """`calibration` with its alternatives fitted: a logistic regression of "right" on the features of
    the candidates ranked second and third (`ALTERNATIVES_FITTED`) and the first answer's log odds
    (unchanged when those candidates are all right or all wrong)."""
    from sklearn.linear_model import LogisticRegression

    names = tuple(calibration.weights)
    rows, labels = [], []
    for _, scored in questions:
        answers = ranked(calibration, scored)
        if len(answers) < 2:
            continue
        first = log_odds(calibration.probability(answers[0][0]))
        for candidate, f1 in answers[1:1 + ALTERNATIVES_FITTED]:
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
                   per_question: int, ranking: bool | dict[str, float] = False, folds: int = 5, seed: int = 0,
                   threshold: float = EVEN_ODDS) -> dict:
    """Every question's answers as scored by a calibration fitted without its article's questions
    (nor any question of the same text: `folds_of`).

    The fit is exactly `newsqa calibrate`'s (`fit`, after `fit_ranking` when `ranking` is true, or
    with `ranking`'s weights as the order when it is a dict (`--keep-ranking`), then
    `fit_alternatives`); scikit-learn's `GroupKFold` makes the folds. Reported per source (dump)
    and over all: the calibration error, the share answered and right at `threshold`, top-1 F1
    always answering, two points of the risk-coverage curve, and of the answers below the first
    their calibration error and what a person would be shown (`shown_summary`)."""
    from sklearn.model_selection import GroupKFold

    from qa.evaluation import operating_points, reliability

    held_out: list[list[tuple[float, float]]] = [[] for _ in questions]
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros((len(questions), 1)), groups=folds_of(groups)):
        fitted = [questions[i] for i in train]
        order = ranking if isinstance(ranking, dict) else fit_ranking(fitted, names) if ranking else None
        calibration = fit_alternatives(fitted, fit(fitted, names, per_question, order))
        for i in test:
            held_out[i] = shown(calibration, questions[i][1])
    report = {}
    for source in [*dict.fromkeys(sources), "all"]:
        lists = [answers for answers, s in zip(held_out, sources) if source in ("all", s)]
        rows = [answers[0] if answers else (0.0, 0.0) for answers in lists]
        given = [f1 for p, f1 in rows if p >= threshold]
        below = [answer for answers in lists for answer in answers[1:]]
        report[source] = {
            "questions": len(rows),
            "expected_calibration_error": reliability(rows)["expected_calibration_error"],
            "answered": round(100 * len(given) / len(rows), 2),
            "right": round(100 * sum(f1 >= CORRECT_F1 for f1 in given) / len(given), 2) if given else None,
            "top1_f1": round(100 * sum(f1 for _, f1 in rows) / len(rows), 2),
            **operating_points(rows),
            # The answers below the first: how well their own scores hold, and what a person is shown.
            "alternatives_calibration_error": reliability(below)["expected_calibration_error"] if below else None,
            **shown_summary([answers for answers, s, (unanswerable, _) in zip(held_out, sources, questions)
                             if source in ("all", s) and not unanswerable], threshold)}
    return {"features": list(names), "candidates_per_question": per_question,
            "ranking": "kept" if isinstance(ranking, dict) else ranking,
            "folds": folds, "threshold": threshold, "held_out": report}


def shown_summary(lists: list[list[tuple[float, float]]], threshold: float) -> dict:
    """What the pipeline's `select` would show of each (answerable) question's ranked (probability, F1)
    answers (`shown`): how many answers, and how often a right one is among them."""
    counts, hits = [], []
    for answers in lists:
        floor = shown_floor(bool(answers) and answers[0][0] >= threshold, threshold)
        chosen = [f1 for p, f1 in answers if p >= floor]
        counts.append(len(chosen))
        hits.append(any(f1 >= CORRECT_F1 for f1 in chosen))
    return {"answers_shown_mean": round(float(np.mean(counts)), 2) if counts else None,
            "right_among_shown": round(100 * float(np.mean(hits)), 2) if hits else None}
