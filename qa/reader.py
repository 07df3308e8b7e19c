"""The extractive reader: a transformer span model that finds answers in passages.

`ExtractiveReader.read(question, passages)` tokenizes every passage into
overlapping windows, runs all windows of all passages through the model in one
batched forward pass, and returns span candidates with exact character offsets in
their documents. Each candidate carries raw logit evidence (span score and the
no-answer score of its window) that is comparable across passages; `Calibration`
turns that evidence, together with the retriever's score, into a probability.

Two back ends run the same weights: ONNX Runtime (int8, the default when
`model.int8.onnx` ships beside the weights) and PyTorch.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.index import Passage

LOG = logging.getLogger(__name__)
DEFAULT_READER_DIR = Path(__file__).resolve().parent / "models" / "reader"
ONNX_FILE = "model.int8.onnx"
CALIBRATION_FILE = "calibration.json"
MAX_QUESTION_TOKENS = 64


@lru_cache(maxsize=64)
def _span_band(n: int, max_tokens: int) -> np.ndarray:
    """Mask of (start, end) pairs with start <= end < start + max_tokens, for an n-token window."""
    ones = np.ones((n, n), dtype=bool)
    return np.triu(ones) & ~np.triu(ones, max_tokens)


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

    @property
    def margin(self) -> float:
        return self.span_score - self.null_score


@dataclass(frozen=True)
class Calibration:
    """Logistic map from reader and retriever evidence to P(answer is correct).

    p = sigmoid(w_margin * margin + w_span * span_score + w_retrieval * passage_score + bias)
    Fitted on held-out questions by scripts/calibrate_reader.py; `threshold` is the
    probability under which the pipeline answers "no answer".
    """

    w_margin: float = 0.5
    w_span: float = 0.0
    w_retrieval: float = 0.0
    bias: float = 0.0
    threshold: float = 0.5

    def probability(self, candidate: SpanCandidate) -> float:
        z = (self.w_margin * candidate.margin + self.w_span * candidate.span_score
             + self.w_retrieval * candidate.passage_score + self.bias)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    @classmethod
    def load(cls, model_dir: Path) -> Calibration:
        path = model_dir / CALIBRATION_FILE
        if not path.exists():
            LOG.warning("no %s in %s: using uncalibrated defaults", CALIBRATION_FILE, model_dir)
            return cls()
        data = json.loads(path.read_text())
        return cls(**{k: float(data[k]) for k in ("w_margin", "w_span", "w_retrieval", "bias", "threshold")})


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
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.names = {i.name for i in self.session.get_inputs()}

    def __call__(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.session.run(["start_logits", "end_logits"], {k: v for k, v in inputs.items() if k in self.names})
        return start, end


class ExtractiveReader:
    """Span extraction over retrieved passages. Load once; `read` is thread-safe."""

    def __init__(self, model_dir: str | Path = DEFAULT_READER_DIR, backend: str = "auto", max_length: int = 192,
                 stride: int = 64, max_answer_tokens: int = 30, spans_per_window: int = 8,
                 threads: int | None = None) -> None:
        from transformers import AutoTokenizer

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(f"no reader model in {self.model_dir}: train one with scripts/train_reader.py")
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        if backend == "auto":
            backend = "onnx" if (self.model_dir / ONNX_FILE).exists() else "torch"
        self.backend = backend
        self.runner = _OnnxRunner(self.model_dir / ONNX_FILE, threads) if backend == "onnx" else _TorchRunner(
            self.model_dir, threads)
        self.calibration = Calibration.load(self.model_dir)
        self.max_length, self.stride = max_length, stride
        self.max_answer_tokens, self.spans_per_window = max_answer_tokens, spans_per_window
        LOG.info("reader loaded from %s (%s back end)", self.model_dir, backend)

    def encode(self, question: str, texts: list[str]):
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
        """Span candidates from all passages, best first by span score, one forward pass."""
        if not passages:
            return []
        encoding = self.encode(question, [p.text for p in passages])
        start_logits, end_logits = self.logits(encoding)
        candidates: list[SpanCandidate] = []
        for window in range(len(encoding["input_ids"])):
            passage_index = int(encoding["overflow_to_sample_mapping"][window])
            passage = passages[passage_index]
            sequence_ids = encoding.sequence_ids(window)
            offsets = encoding["offset_mapping"][window]
            for token_start, token_end, score in self.best_spans(start_logits[window], end_logits[window], sequence_ids):
                char_start, char_end = int(offsets[token_start][0]), int(offsets[token_end][1])
                text = passage.text[char_start:char_end]
                if not text.strip() or "\n" in text:
                    continue  # an answer never crosses a line or paragraph break
                candidates.append(SpanCandidate(
                    document_id=passage.document_id, start=passage.start + char_start, end=passage.start + char_end,
                    text=text, span_score=score, null_score=float(start_logits[window][0] + end_logits[window][0]),
                    passage_rank=passage_index, passage_score=passage.score,
                ))
        candidates.sort(key=lambda c: -c.span_score)
        return candidates

    def best_spans(self, start: np.ndarray, end: np.ndarray, sequence_ids: list[int | None]) -> list[tuple[int, int, float]]:
        """Top spans of one window: context tokens only, end >= start, bounded length."""
        context = np.array([s == 1 for s in sequence_ids] + [False] * (len(start) - len(sequence_ids)))
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
