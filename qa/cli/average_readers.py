"""Average the weights of several readers fine-tuned from one starting point ("model soup").

    newsqa average-readers runs/a/model runs/b/model [--weights 0.5 0.5] --output-dir runs/soup/model

Weight-space averaging of fine-tunes that share an initialisation (Wortsman et al. 2022,
"Model soups" and "Robust fine-tuning of zero-shot models" / WiSE-FT) usually scores at
least as well as the best ingredient and holds up better on questions of other styles,
at no cost at inference: the result is one network of the same size. The tensors are
averaged in fp32 and saved in the first reader's dtype (fp16 for every shipped reader);
config and tokenizer come from the first reader. The output folder must be new or empty, so
no ONNX export, calibration or model card of other weights is left beside the result.
`training.json` records the ingredients and their weights. Rerun `newsqa export-onnx` and
`newsqa calibrate` on the output, as after training.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from qa.cli.common import described

WEIGHTS = "model.safetensors"
COPIED = ("config.json", "tokenizer.json", "tokenizer_config.json")


def average(state_dicts: list[dict], weights: list[float]) -> dict:
    """The weighted element-wise mean of `state_dicts` (name -> torch tensor), which must hold the same tensors."""
    if len(state_dicts) != len(weights) or not state_dicts:
        raise ValueError("one weight per reader, at least one reader")
    total = sum(weights)
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative and not all zero")
    names = set(state_dicts[0])
    for other in state_dicts[1:]:
        if set(other) != names:
            raise ValueError(f"readers differ in their tensors: {sorted(names ^ set(other))[:5]}")
    mixed = {}
    for name, first in state_dicts[0].items():
        if any(sd[name].shape != first.shape for sd in state_dicts):
            raise ValueError(f"readers differ in the shape of {name}")
        acc = sum(sd[name].float() * (w / total) for sd, w in zip(state_dicts, weights))
        mixed[name] = acc.to(first.dtype) if first.is_floating_point() else first.clone()
    return mixed


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = described(__doc__, prog)
    parser.add_argument("readers", nargs="+", type=Path, help="reader folders (each with model.safetensors)")
    parser.add_argument("--weights", nargs="+", type=float, help="one per reader (default: equal)")
    parser.add_argument("--output-dir", type=Path, required=True)
    return parser


def check_folders(options: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    missing = [str(r) for r in args.readers if not (r / WEIGHTS).is_file()]
    if missing:
        options.error(f"no {WEIGHTS} in: {', '.join(missing)}")
    if args.output_dir.resolve() in {r.resolve() for r in args.readers}:
        options.error("--output-dir must not be one of the readers")
    if args.output_dir.exists() and any(args.output_dir.iterdir()):
        options.error(f"--output-dir {args.output_dir} is not empty: give a new folder")


def record(args: argparse.Namespace, weights: list[float], argv: list[str] | None) -> dict:
    """`training.json` of the average: its ingredients with their weights and training records."""
    ingredients = []
    for reader, weight in zip(args.readers, weights):
        training = reader / "training.json"
        ingredients.append({"reader": str(reader), "weight": weight / sum(weights),
                            "training": json.loads(training.read_text()) if training.is_file() else None})
    return {"averaged": ingredients, "made": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": "newsqa average-readers " + " ".join(sys.argv[1:] if argv is None else argv)}


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from safetensors.torch import load_file, save_file

    options = parser(prog)
    args = options.parse_args(argv)
    weights = args.weights or [1.0] * len(args.readers)
    check_folders(options, args)
    try:
        mixed = average([load_file(str(r / WEIGHTS)) for r in args.readers], weights)
    except ValueError as exc:
        options.error(str(exc))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    save_file(mixed, str(args.output_dir / WEIGHTS), metadata={"format": "pt"})
    for name in COPIED:
        shutil.copy2(args.readers[0] / name, args.output_dir / name)
    info = record(args, weights, argv)
    (args.output_dir / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"averaged {len(args.readers)} readers into {args.output_dir}")
    return 0
