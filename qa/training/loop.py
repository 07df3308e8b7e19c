"""The torch side of reader training: tensors from features and groups, the shared-normalization
loss, checkpoints, the saved model, and the training loop (`train`)."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

from qa.squad import SquadExample
from qa.training.data import first_examples, load_training_files
from qa.training.features import Feature, build_features, make_batches
from qa.training.groups import Group, Ranker, build_groups
from qa.training.options import default_base_model

LOG = logging.getLogger("train_reader")
CARRIED_OVER = ("README.md",)  # the model card: documentation, edited by hand, not made from the weights
NOT_RECORDED = {"train_files", "output_dir", "work_dir", "resume", "export_checkpoint"}  # of the options


# -- tensors --------------------------------------------------------------------------------
def pad(windows: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
    ids, types, mask = pad([(f.input_ids, f.token_type_ids) for f in features], pad_id)
    return {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": mask,
        "start_positions": torch.tensor([f.start for f in features]),
        "end_positions": torch.tensor([f.end for f in features]),
    }


def collate_groups(groups: list[Group], pad_id: int) -> dict:
    windows = [w for g in groups for w in g.windows]
    ids, types, mask = pad(windows, pad_id)
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
    cross_entropy = torch.nn.functional.cross_entropy
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
        shared_loss = (cross_entropy(flat_s[None], torch.tensor([target_s]))
                       + cross_entropy(flat_e[None], torch.tensor([target_e]))) / 2
        per_s = torch.zeros(count, dtype=torch.long)
        per_e = torch.zeros(count, dtype=torch.long)
        if answer is not None:
            per_s[answer[0]], per_e[answer[0]] = answer[1], answer[2]
        window_loss = (cross_entropy(s, per_s) + cross_entropy(e, per_e)) / 2
        losses.append(shared_loss + window_loss)
    return torch.stack(losses).mean()


# -- files ----------------------------------------------------------------------------------
def save_checkpoint(path: Path, **state) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _write_staging(model, tokenizer, output_dir: Path, staging: Path, info: dict) -> None:
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


def save_model(model, tokenizer, output_dir: Path, info: dict) -> None:
    """Write the model in fp16 safetensors with its tokenizer and training record.

    The folder is replaced whole: the model is written to a new sibling folder
    (`<output>.new-<time>`), then the old folder is renamed away, the new one renamed
    in, and the old one removed. An ONNX export or a calibration of the previous
    weights therefore never sits beside the new ones (rerun `export-onnx` and
    `calibrate`); a crash while writing leaves the old folder intact.
    Only `CARRIED_OVER` files are copied from the old folder.
    """
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    staging = output_dir.with_name(f"{output_dir.name}.new-{stamp}")
    try:
        _write_staging(model, tokenizer, output_dir, staging, info)
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


def export_checkpoint(base: str, checkpoint_path: Path, output_dir: Path) -> int:
    """`--export-checkpoint`: the latest checkpoint's model, saved as a reader."""
    model = AutoModelForQuestionAnswering.from_pretrained(base)
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    save_model(model.eval(), AutoTokenizer.from_pretrained(base), output_dir,
               {"checkpoint_step": state["step"], "exported": time.strftime("%Y-%m-%d %H:%M:%S")})
    LOG.info("exported checkpoint at step %d to %s", state["step"], output_dir)
    return 0


# -- the steps of a run ---------------------------------------------------------------------
def training_examples(args: argparse.Namespace) -> tuple[list[SquadExample], dict[int, list[str]], list[SquadExample]]:
    """The questions trained on (train files after --limit/--sample, then the --extra ones repeated),
    their articles' paragraphs, and the --extra questions once."""
    paragraphs_by_article: dict[int, list[str]] = {}
    examples = load_training_files(args.train_files, 0, paragraphs_by_article)
    examples, paragraphs_by_article = first_examples(examples, paragraphs_by_article, args.limit)
    if args.sample and args.sample < len(examples):
        chosen = sorted(random.Random(args.seed).sample(range(len(examples)), args.sample))
        examples = [examples[i] for i in chosen]
    extra = load_training_files(args.extra, len(args.train_files), paragraphs_by_article)
    examples.extend(extra * args.extra_repeat)
    return examples, paragraphs_by_article, extra


def make_features(args: argparse.Namespace, examples: list[SquadExample], paragraphs_by_article: dict[int, list[str]],
                  tokenizer, ranker: Ranker | None, question_tokens: int | None) -> list:
    if args.shared_norm:
        return build_groups(examples, paragraphs_by_article, tokenizer, random.Random(args.seed), args.max_length,
                            args.negatives, args.no_answer_rate, ranker=ranker, question_tokens=question_tokens)
    return build_features(examples, paragraphs_by_article, tokenizer, random.Random(args.seed),
                          args.min_length, args.max_length, args.negative_rate)


def schedule(features: list, args: argparse.Namespace) -> tuple[list[list[int]], int]:
    """The batches of every epoch in order (a pure function of the seed), and the steps to run."""
    batches_per_epoch = make_batches(features, args.batch_size, args.seed)
    total_steps = math.ceil(len(batches_per_epoch) * args.epochs)
    batches = [b for e in range(math.ceil(args.epochs)) for b in make_batches(features, args.batch_size, args.seed + e)]
    batches = batches[:total_steps]
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    return batches, total_steps


@dataclass
class Run:
    """The model, its optimizer and schedule, and what one step needs."""

    args: argparse.Namespace
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    device: torch.device
    pad_id: int
    checkpoint_path: Path

    @classmethod
    def start(cls, args: argparse.Namespace, base: str, device: torch.device, total_steps: int, pad_id: int,
              checkpoint_path: Path) -> Run:
        model = AutoModelForQuestionAnswering.from_pretrained(base).float().to(device)  # a shipped reader is fp16
        decay = [p for n, p in model.named_parameters() if not any(k in n for k in ("bias", "LayerNorm"))]
        no_decay = [p for n, p in model.named_parameters() if any(k in n for k in ("bias", "LayerNorm"))]
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=args.lr)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup * total_steps), total_steps)
        return cls(args, model, optimizer, scheduler, device, pad_id, checkpoint_path)

    def resume(self, total_steps: int) -> tuple[int, float]:
        """The step and seconds trained so far: from the checkpoint with --resume, else zero."""
        if self.args.resume and self.checkpoint_path.exists():
            state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=False)
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["torch_rng"])
            LOG.info("resumed at step %d of %d", state["step"], total_steps)
            return state["step"], state["elapsed"]
        if self.args.resume:
            LOG.info("no checkpoint at %s; starting fresh", self.checkpoint_path)
        return 0, 0.0

    def loss(self, batch_features: list) -> torch.Tensor:
        device = self.device
        if self.args.shared_norm:
            batch = collate_groups(batch_features, self.pad_id)
            out = self.model(**{k: batch[k].to(device) for k in ("input_ids", "token_type_ids", "attention_mask")})
            padding = batch["attention_mask"].to(device) == 0
            return shared_norm_loss(out.start_logits.masked_fill(padding, -1e4).cpu(),
                                    out.end_logits.masked_fill(padding, -1e4).cpu(), batch["context"], batch["groups"])
        batch = collate(batch_features, self.pad_id)
        return self.model(**{k: v.to(device) for k, v in batch.items()}).loss

    def step(self, batch_features: list) -> float:
        """One optimizer step on a batch; its loss."""
        loss = self.loss(batch_features)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.item()

    def checkpoint(self, step: int, elapsed: float) -> None:
        save_checkpoint(
            self.checkpoint_path, model=self.model.state_dict(), optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(), torch_rng=torch.get_rng_state(), step=step, elapsed=elapsed,
        )


def run_steps(run: Run, features: list, batches: list[list[int]], step: int, total_steps: int,
              started: float) -> int:
    """Train from `step` to `total_steps`, checkpointing every --checkpoint-every steps and at the end."""
    progress = tqdm(total=total_steps, initial=step, desc="training", unit="step", mininterval=10)
    running = None
    while step < total_steps:
        loss = run.step([features[i] for i in batches[step]])
        step += 1
        running = loss if running is None else 0.98 * running + 0.02 * loss
        progress.update(1)
        progress.set_postfix(loss=f"{running:.3f}", refresh=False)
        if step % run.args.checkpoint_every == 0 or step == total_steps:
            run.checkpoint(step, time.time() - started)
            LOG.info("step %d/%d loss %.3f (%.0fs)", step, total_steps, running, time.time() - started)
    progress.close()
    return step


def training_record(args: argparse.Namespace, examples: list, extra: list, features: list, step: int,
                    device: torch.device, seconds: float) -> dict:
    """`training.json`: data, configuration and timing of the run."""
    return {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2" if args.base_model is None else args.base_model,
        "train_files": [Path(f).name for f in args.train_files],
        "questions": len(examples),
        "extra_files": [Path(f).name for f in args.extra],
        "extra_questions": len(extra),
        "features": len(features),
        "windows": sum(len(g.windows) for g in features) if args.shared_norm else len(features),
        "steps": step,
        "config": {k: v for k, v in vars(args).items() if k not in NOT_RECORDED},
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(0),
        "threads": torch.get_num_threads(),
        "train_seconds": round(seconds, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _seed(args: argparse.Namespace) -> torch.device:
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(args: argparse.Namespace, *, ranker: Ranker | None = None, question_tokens: int | None = None) -> int:
    """Train a reader as `args` (`qa.training.options.parse_args`) say. `ranker` and `question_tokens`
    stand in for the BM25 retriever and the reader's question cap of shared-norm groups (the bare GPU
    path); by default the project's own are imported."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    device = _seed(args)
    base = args.base_model or default_base_model()
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = work_dir / "checkpoint.pt"
    if args.export_checkpoint:
        return export_checkpoint(base, checkpoint_path, Path(args.output_dir))

    examples, paragraphs_by_article, extra = training_examples(args)
    tokenizer = AutoTokenizer.from_pretrained(base)
    features = make_features(args, examples, paragraphs_by_article, tokenizer, ranker, question_tokens)
    batches, total_steps = schedule(features, args)
    run = Run.start(args, base, device, total_steps, tokenizer.pad_token_id, checkpoint_path)
    step, elapsed = run.resume(total_steps)
    run.model.train()
    started = time.time() - elapsed
    step = run_steps(run, features, batches, step, total_steps, started)
    seconds = time.time() - started
    info = training_record(args, examples, extra, features, step, device, seconds)
    run.model.eval()
    save_model(run.model, tokenizer, Path(args.output_dir), info)
    LOG.info("saved reader to %s after %d steps in %.0fs", args.output_dir, step, seconds)
    return 0

