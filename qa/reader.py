"""The extractive reader: a transformer span model that finds answers in passages.

`ExtractiveReader.read(question, passages)` tokenizes every passage into
overlapping windows, runs the windows through the model in one batched forward
pass (two when it reads the best passages first, `first`), and returns span
candidates with exact character offsets in their documents. Each candidate carries
raw logit evidence (span score and the no-answer score of its window) that is
comparable across passages; `Calibration` turns that evidence, together with the
retriever's score, into a probability.

Two back ends run the same weights: ONNX Runtime (int8, the default when
`model.int8.onnx` ships beside the weights) and PyTorch.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.config import DEFAULT_READER_DIR, DEFAULT_READER_STRIDE, DEFAULT_READER_WINDOW
from qa.embedding import file_sha256
from qa.evidence import DETAIL_UNKNOWN, with_evidence
from qa.spans import clean_edges
from qa.squad import normalize_answer
from qa.types import Passage

LOG = logging.getLogger(__name__)
ONNX_FILE = "model.int8.onnx"
CALIBRATION_FILE = "calibration.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_SHA256_KEY = "weights_sha256"  # in calibration.json and in the ONNX file's metadata_props
MAX_QUESTION_TOKENS = 64


class ReaderModelError(RuntimeError):
    """A file of the reader folder that was made from other weights than the ones beside it."""


def weights_sha256(model_dir: Path) -> str | None:
    """sha256 of the reader's safetensors weights, or None when there are none.

    The ONNX export and the calibration record the hash of the weights they were made
    from, so a stale one (left beside retrained weights) is refused instead of silently
    answering with another model's numbers. Measured on the shipped 45 MB file: 28-37 ms
    warm, 69 ms from a cold page cache (2-core CPU), so it is computed at every load, not
    cached by size and mtime (a cache could be fooled by a same-size rewrite within the
    file system's timestamp granularity).
    """
    path = Path(model_dir) / WEIGHTS_FILE
    return file_sha256(path) if path.exists() else None


def check_weights_hash(what: str, recorded: str | None, actual: str | None, fix: str) -> None:
    """Refuse `what` when it records other weights than `actual`; a file that records none
    (written before hashes were recorded) is accepted with a warning, as it cannot be checked."""
    if actual is None:
        return
    if recorded is None:
        LOG.warning("%s does not record the weights it was made from; it cannot be checked (%s)", what, fix)
    elif recorded != actual:
        raise ReaderModelError(f"{what} was made from other weights (sha256 {recorded[:12]}…) than the "
                               f"{WEIGHTS_FILE} beside it ({actual[:12]}…): it is stale; {fix}")


@lru_cache(maxsize=64)
def _span_band(n: int, max_tokens: int) -> np.ndarray:
    """Mask of (start, end) pairs with start <= end < start + max_tokens, for an n-token window."""
    ones = np.ones((n, n), dtype=bool)
    return np.triu(ones) & ~np.triu(ones, max_tokens)


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + math.log(float(np.exp(values - top).sum()))


@dataclass(frozen=True)
class SharedNormalizer:
    """Log-normalizers of start and end logits across *all* windows read for a question.

    Clark & Gardner (2018) and multi-passage BERT (Wang et al. 2019): a softmax over
    the start (and end) positions of every window together, with one shared
    no-answer, makes span probabilities from different passages comparable, where a
    per-window softmax would call a weak span in a weak passage as sure as the best
    span of the right one. The shared no-answer is the [CLS] of the window most
    confident that it holds an answer (the lowest no-answer score, as in the
    BERT SQuAD 2.0 recipe): "no answer" must beat the best window, not the worst.
    """

    log_z_start: float
    log_z_end: float
    null_score: float  # start + end logit of the shared no-answer

    @classmethod
    def fit(cls, start_logits: np.ndarray, end_logits: np.ndarray, context_mask: np.ndarray) -> SharedNormalizer:
        """`start_logits`, `end_logits`, `context_mask`: (windows, tokens); position 0 is [CLS]."""
        return cls.fit_batches([(start_logits, end_logits, context_mask)])

    @classmethod
    def fit_batches(cls, batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> SharedNormalizer:
        """`fit` over windows read in several forward passes, each padded to its own length."""
        cls_starts = np.concatenate([start[:, 0] for start, _, _ in batches])
        cls_ends = np.concatenate([end[:, 0] for _, end, _ in batches])
        shared = int(np.argmin(cls_starts + cls_ends))
        starts = np.concatenate([start[mask] for start, _, mask in batches] + [cls_starts[shared:shared + 1]])
        ends = np.concatenate([end[mask] for _, end, mask in batches] + [cls_ends[shared:shared + 1]])
        return cls(_logsumexp(starts), _logsumexp(ends), float(cls_starts[shared] + cls_ends[shared]))

    def probability(self, span_score: float) -> float:
        """P(span) for a span whose start + end logits are `span_score`."""
        return math.exp(min(0.0, span_score - self.log_z_start - self.log_z_end))

    @property
    def no_answer_probability(self) -> float:
        return self.probability(self.null_score)


@dataclass(frozen=True)
class Reading:
    """What `ExtractiveReader.read_first` read: candidates, best first by span score, and
    how many of the passages it was given it read."""

    candidates: list[SpanCandidate]
    passages_read: int


@dataclass(frozen=True)
class _Windows:
    """One forward pass: the logits of the encoded windows of some passages, and their best
    spans (found once here, so that two-step reading does not search them again)."""

    start: np.ndarray
    end: np.ndarray
    masks: np.ndarray
    spans: list[SpanCandidate]


@dataclass(frozen=True)
class SpanCandidate:
    """A span proposed by the reader, with offsets in its document."""

    document_id: str
    start: int
    end: int
    text: str
    span_score: float  # start logit + end logit
    null_score: float  # [CLS] start + end logit of the same window
    passage_rank: int
    passage_score: float
    probability: float = 0.0  # shared-normalized P(this span) over all windows read for the question
    no_answer_probability: float = 0.0  # shared-normalized P(no answer) for the question
    dense_score: float = 0.0  # cosine similarity of the question and the passage
    answer_probability: float = 0.0  # shared P summed over every span read with the same (normalized) text
    normalized: str = ""  # the text as SQuAD scoring normalizes it (may be empty: "the"); computed once
    # Evidence from the other candidates of the question (qa.evidence.with_evidence):
    articles: int = 1  # articles giving the same answer text
    other_probability: float = 0.0  # best answer probability of another text from another article
    type_fit: float = 0.5  # 1: the answer has the shape the question asks for, 0: it has not, 0.5: unknown
    words: int = 0  # the answer's length in words
    # Whether the answer's article and its surroundings name the question's story
    # (qa.evidence.with_story_evidence; 1.0, nothing against, until it is filled in):
    story_article: float = 1.0  # rarity-weighted share of the question's words in the answer's article
    story_near: float = 1.0  # the same, in the text around the answer
    story_best: float = 1.0  # the best story_article among the articles read for the question
    echo: float = 0.0  # rarity-weighted share of the answer's own words that the question already uses
    detail: float = DETAIL_UNKNOWN  # the same share of the question's words its article's lead lacks, in the answer's sentence
    check: float = 0.0  # an answer check's logit (scripts/answer_check.py, an experiment: nothing serves it)

    @property
    def margin(self) -> float:
        return self.span_score - self.null_score


def _log(value: float) -> float:
    return math.log(max(value, 1e-12))


# Evidence a calibration may weigh, by name (calibration.json names the ones it uses).
FEATURES = {
    "margin": lambda c: c.margin,  # span over its own window's no-answer
    "span_score": lambda c: c.span_score,
    "retrieval": lambda c: c.passage_score,  # fused rank score: drifts with archive size
    "log_probability": lambda c: _log(c.probability),  # shared-normalized over all windows read
    "log_odds_no_answer": lambda c: _log(c.probability) - _log(c.no_answer_probability),
    "dense_score": lambda c: c.dense_score,
    # Evidence for the answer string from all passages: the same name found in three
    # articles is likelier right than one found once.
    "log_answer_probability": lambda c: _log(c.answer_probability),
    # Evidence from the other candidates (qa.evidence): agreement across articles, the best
    # rival from another article, the answer's shape against the question word, rank, length.
    "log_articles": lambda c: math.log(max(c.articles, 1)),
    "rival_margin": lambda c: _log(c.answer_probability) - _log(max(c.other_probability, 1e-3)),
    "type_fit": lambda c: c.type_fit,
    "passage_rank": lambda c: float(c.passage_rank),
    "log_words": lambda c: math.log(max(c.words, 1)),
    # Evidence the reader does not control (qa.evidence.with_story_evidence): does the answer's
    # article, and the text near the answer, name the story the question asks about?
    "story_article": lambda c: c.story_article,
    "story_near": lambda c: c.story_near,
    "story_gap": lambda c: c.story_article - c.story_best,  # <= 0: another article read names it better
    "echo": lambda c: c.echo,  # "Who heads the Quilliam Foundation?" is not answered by "Quilliam Foundation"
    "detail": lambda c: c.detail,  # the detail asked (not the story's name) in the answer's sentence
    "check": lambda c: c.check,  # measured on dumps scored by scripts/answer_check.py; no calibration ships it
}
STORY_FEATURES = frozenset({"story_article", "story_near", "story_gap", "echo", "detail"})  # need the articles' texts


def _weighted_sum(weights: dict[str, float], candidate: SpanCandidate) -> float:
    """The sum of the named features (`FEATURES`) of `candidate`, each times its weight."""
    return sum(w * FEATURES[name](candidate) for name, w in weights.items())


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def log_odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Calibration:
    """Logistic map from reader (and retriever) evidence to P(answer is correct).

    p = sigmoid(sum(weights[name] * FEATURES[name](candidate)) + bias)
    Fitted on held-out questions asked of a crowded archive by
    `newsqa calibrate`, on features chosen because they do not drift with
    the archive's size (the fused retrieval score does: the right passage's rank
    drops as neighbours are added). `threshold` is the probability under which an
    answer is not confident.
    """

    weights: dict[str, float] = field(default_factory=lambda: {"margin": 0.5})
    bias: float = 0.0
    threshold: float = 0.5
    # Which candidate is shown first: a linear score fitted over each question's candidates together
    # (`newsqa calibrate --ranking`); empty, candidates are ordered by `probability`.
    ranking: dict[str, float] = field(default_factory=dict)
    # The chance that an answer ranked *below* the first is right: `probability` is fitted on the
    # answers shown first and overstates the others (a second answer is seldom right when the first
    # is). Fitted by `newsqa calibrate` on the answers ranked second and third, on the same features
    # and the first answer's log odds (`alternatives_first`). Empty: the others take `probability`.
    alternatives: dict[str, float] = field(default_factory=dict)
    alternatives_bias: float = 0.0
    alternatives_first: float = 0.0

    def uses(self, names: set[str] | frozenset[str]) -> bool:
        """Whether any of the features `names` is weighed: by the probability, the ranking or the alternatives."""
        return bool(names & (set(self.weights) | set(self.ranking) | set(self.alternatives)))

    def probability(self, candidate: SpanCandidate) -> float:
        """P(right) of `candidate` as the answer shown first."""
        return _sigmoid(self.bias + _weighted_sum(self.weights, candidate))

    def alternative_probability(self, candidate: SpanCandidate, first: float) -> float:
        """P(right) of `candidate` shown below a first answer whose probability is `first`."""
        if not self.alternatives:
            return self.probability(candidate)
        return _sigmoid(self.alternatives_bias + self.alternatives_first * log_odds(first)
                        + _weighted_sum(self.alternatives, candidate))

    def shown_probabilities(self, answers: list[SpanCandidate]) -> list[float]:
        """The probability each of a question's answers (best first, each answer once) is shown with:
        the first's `probability`, each other's `alternative_probability`, capped at the one above it."""
        shown: list[float] = []
        for candidate in answers:
            shown.append(min(self.alternative_probability(candidate, shown[0]), shown[-1]) if shown
                         else self.probability(candidate))
        return shown

    def rank_score(self, candidate: SpanCandidate) -> float:
        """What a question's candidates are ordered by: the ranking's score, or the calibrated
        log odds when there is no ranking (then the order of `probability`)."""
        if self.ranking:
            return _weighted_sum(self.ranking, candidate)
        return self.bias + _weighted_sum(self.weights, candidate)

    @classmethod
    def load(cls, model_dir: Path, weights: str | None = None) -> Calibration:
        """The calibration of the reader in `model_dir`; `ReaderModelError` when it was fitted
        for other weights (`weights`: their sha256, computed when not given)."""
        path = model_dir / CALIBRATION_FILE
        if not path.exists():
            LOG.warning("no %s in %s: using uncalibrated defaults", CALIBRATION_FILE, model_dir)
            return cls()
        data = json.loads(path.read_text())
        check_weights_hash(CALIBRATION_FILE, data.get(WEIGHTS_SHA256_KEY), weights or weights_sha256(model_dir),
                           "refit it with `python scripts/calibrate_reader.py`")
        if "weights" not in data:  # the first format: three fixed features
            data["weights"] = {"margin": data["w_margin"], "span_score": data["w_span"], "retrieval": data["w_retrieval"]}
        ranking = (data.get("ranking") or {}).get("weights") or {}
        alternatives = data.get("alternatives") or {}
        unknown = (set(data["weights"]) | set(ranking) | set(alternatives.get("weights") or {})) - set(FEATURES)
        if unknown:
            raise ValueError(f"{path}: unknown calibration features {sorted(unknown)}; known: {sorted(FEATURES)}")
        return cls({k: float(v) for k, v in data["weights"].items()}, float(data["bias"]), float(data["threshold"]),
                   {k: float(v) for k, v in ranking.items()},
                   {k: float(v) for k, v in (alternatives.get("weights") or {}).items()},
                   float(alternatives.get("bias", 0.0)), float(alternatives.get("first_log_odds", 0.0)))


class _TorchRunner:
    def __init__(self, model_dir: Path, threads: int | None) -> None:
        import torch
        from transformers import AutoModelForQuestionAnswering

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir), local_files_only=True)
        self.model = self.model.float().eval()

    def __call__(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        with self.torch.inference_mode():
            out = self.model(**{k: self.torch.from_numpy(v) for k, v in inputs.items()})
        return out.start_logits.numpy(), out.end_logits.numpy()


class _OnnxRunner:
    def __init__(self, model_path: Path, threads: int | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        # ONNX Runtime's threads spin for a while after each run, waiting for more work. In /ask
        # the next work is the next question's embedding and search, on the same two cores:
        # measured over 80 crowded-archive questions, spinning slowed the question's embedding
        # from 13 to 26 ms and the search from 8 to 25 ms, for nothing in return.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.names = {i.name for i in self.session.get_inputs()}

    def __call__(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.session.run(["start_logits", "end_logits"], {k: v for k, v in inputs.items() if k in self.names})
        return start, end


class ExtractiveReader:
    """Span extraction over retrieved passages. Load once; `read` is thread-safe."""

    def __init__(self, model_dir: str | Path = DEFAULT_READER_DIR, backend: str = "auto",
                 max_length: int = DEFAULT_READER_WINDOW, stride: int = DEFAULT_READER_STRIDE,
                 max_answer_tokens: int = 30, spans_per_window: int = 8, threads: int | None = None) -> None:
        from transformers import AutoTokenizer

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(f"no reader model in {self.model_dir}: train one with scripts/train_reader.py")
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        # A fast tokenizer is one Rust object whose truncation settings each call may change
        # ("Already borrowed" when request threads share it), so calls are serialized. A
        # lock rather than a tokenizer per thread: measured single-threaded per ask (5
        # passages), shared 2.39 ms, lock 2.31 ms, thread-local 2.32 ms, but a per-thread
        # copy costs 67 ms on each worker's first request and a copy per worker thread;
        # held ~2.3 ms beside a ~100 ms forward pass, the lock is never the bottleneck.
        self._tokenizer_lock = threading.Lock()
        if backend == "auto":
            backend = "onnx" if (self.model_dir / ONNX_FILE).exists() else "torch"
        self.backend = backend
        self.runner = _OnnxRunner(self.model_dir / ONNX_FILE, threads) if backend == "onnx" else _TorchRunner(
            self.model_dir, threads)
        weights = weights_sha256(self.model_dir)
        self.weights_sha256 = weights  # which weights answered: recorded with feedback (qa.feedback)
        if backend == "onnx":
            recorded = self.runner.session.get_modelmeta().custom_metadata_map.get(WEIGHTS_SHA256_KEY)
            check_weights_hash(ONNX_FILE, recorded, weights, "re-export it with `python scripts/export_onnx.py "
                               "--model-dir <reader folder>`, or use the torch back end")
        self.calibration = Calibration.load(self.model_dir, weights)
        self.max_length, self.stride = max_length, stride
        self.max_answer_tokens, self.spans_per_window = max_answer_tokens, spans_per_window
        LOG.info("reader loaded from %s (%s back end)", self.model_dir, backend)

    def encode(self, question: str, texts: list[str]):
        with self._tokenizer_lock:  # thread-safe: see __init__
            if len(question) > MAX_QUESTION_TOKENS:  # fewer characters cannot make more tokens
                tokens = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
                if len(tokens["input_ids"]) > MAX_QUESTION_TOKENS:  # leave room for the passage in every window
                    question = question[: tokens["offset_mapping"][MAX_QUESTION_TOKENS - 1][1]]
            return self.tokenizer(
                [question] * len(texts), texts, truncation="only_second", max_length=self.max_length,
                stride=self.stride, return_overflowing_tokens=True, return_offsets_mapping=True, padding="longest",
                return_tensors="np",
            )

    def logits(self, encoding) -> tuple[np.ndarray, np.ndarray]:
        inputs = {k: encoding[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
        return self.runner(inputs)

    def read(self, question: str, passages: list[Passage]) -> list[SpanCandidate]:
        """Span candidates from all passages, best first by span score.

        Every window of every passage goes through one batched forward pass, and span
        probabilities are normalized across all of them (`SharedNormalizer`).
        """
        return self.read_first(question, passages).candidates

    def read_first(self, question: str, passages: list[Passage], first: int = 0, enough: float = 1.0,
                   settled: Callable[[list[SpanCandidate]], bool] | None = None) -> Reading:
        """`read`, in two steps ("read more passages cheaply", issue #6): the first `first`
        passages (the retriever's best) are read alone, and the rest only when no answer
        among them has a shared probability (`answer_probability`) of at least `enough` and
        `settled` (when given) does not say they are enough: it is called with the first
        passages' candidates, their evidence filled in (`qa.evidence.with_evidence`), and the
        pipeline passes one that asks whether the calibrated probability of the answer it would
        show first is high enough (issue #27).

        The first step's logits are kept, so a question that needs the second step costs
        one more forward pass over the remaining passages, not a second read of all; its
        probabilities are then normalized over every window read, exactly as `read` does.
        """
        if not passages:
            return Reading([], 0)
        split = first if 0 < first < len(passages) else len(passages)
        read = [self._forward(question, passages[:split], 0)]
        candidates = self._candidates(read)
        if split == len(passages) or max((c.answer_probability for c in candidates), default=0.0) >= enough:
            return Reading(with_evidence(question, candidates), split)
        if settled is not None:
            candidates = with_evidence(question, candidates)
            if settled(candidates):
                return Reading(candidates, split)
        read.append(self._forward(question, passages[split:], split))
        return Reading(with_evidence(question, self._candidates(read)), len(passages))

    def _forward(self, question: str, passages: list[Passage], offset: int) -> _Windows:
        """Read `passages` (at position `offset` among all passages read) in one batched pass."""
        encoding = self.encode(question, [p.text for p in passages])
        start_logits, end_logits = self.logits(encoding)
        masks = np.zeros(start_logits.shape, dtype=bool)
        for window in range(len(encoding["input_ids"])):
            sequence_ids = encoding.sequence_ids(window)
            masks[window, : len(sequence_ids)] = [s == 1 for s in sequence_ids]
        spans: list[SpanCandidate] = []  # before any normalization: `_candidates` shares it over every pass
        for window in range(len(start_logits)):
            passage_index = int(encoding["overflow_to_sample_mapping"][window])
            passage = passages[passage_index]
            offsets = encoding["offset_mapping"][window]
            null_score = float(start_logits[window][0] + end_logits[window][0])
            for token_start, token_end, score in self.best_spans(start_logits[window], end_logits[window],
                                                                 masks[window]):
                char_start, char_end = clean_edges(passage.text, int(offsets[token_start][0]),
                                                   int(offsets[token_end][1]))
                text = passage.text[char_start:char_end]
                if not text.strip() or "\n" in text:
                    continue  # an answer never crosses a line or paragraph break
                spans.append(SpanCandidate(
                    document_id=passage.document_id, start=passage.start + char_start,
                    end=passage.start + char_end, text=text, span_score=score, null_score=null_score,
                    passage_rank=offset + passage_index, passage_score=passage.score,
                    dense_score=passage.dense_score or 0.0, normalized=normalize_answer(text),
                ))
        return _Windows(start_logits, end_logits, masks, spans)

    def _candidates(self, read: list[_Windows]) -> list[SpanCandidate]:
        """Candidates of every window in `read`, their probabilities shared across all of them."""
        shared = SharedNormalizer.fit_batches([(w.start, w.end, w.masks) for w in read])
        no_answer = shared.no_answer_probability
        spans = [span for windows in read for span in windows.spans]
        probabilities = [shared.probability(span.span_score) for span in spans]
        totals: dict[str, float] = defaultdict(float)
        for span, probability in zip(spans, probabilities):
            totals[span.normalized or span.text] += probability
        candidates = [replace(span, probability=probability, no_answer_probability=no_answer,
                              answer_probability=totals[span.normalized or span.text])
                      for span, probability in zip(spans, probabilities)]
        candidates.sort(key=lambda c: -c.span_score)
        return candidates

    def best_spans(self, start: np.ndarray, end: np.ndarray, context: np.ndarray) -> list[tuple[int, int, float]]:
        """Top spans of one window: context tokens only (`context` mask), end >= start, bounded length."""
        if not context.any():
            return []
        s = np.where(context, start, -np.inf)
        e = np.where(context, end, -np.inf)
        n = len(s)
        scores = s[:, None] + e[None, :]
        scores = np.where(_span_band(n, self.max_answer_tokens), scores, -np.inf)
        flat = np.argpartition(-scores, self.spans_per_window, axis=None)[: self.spans_per_window]
        flat = flat[np.argsort(-scores.ravel()[flat])]
        return [(int(i // n), int(i % n), float(scores.ravel()[i])) for i in flat if np.isfinite(scores.ravel()[i])]
