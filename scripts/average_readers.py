#!/usr/bin/env python
"""Average the weights of several readers fine-tuned from one starting point ("model soup").

    python scripts/average_readers.py runs/a/model runs/b/model [--weights 0.5 0.5] --output-dir runs/soup/model

Weight-space averaging of fine-tunes that share an initialisation (Wortsman et al. 2022,
"Model soups" and "Robust fine-tuning of zero-shot models" / WiSE-FT) usually scores at
least as well as the best ingredient and holds up better on questions of other styles,
at no cost at inference: the result is one network of the same size. The tensors are
averaged in fp32 and saved in the first reader's dtype (fp16 for every shipped reader);
config and tokenizer come from the first reader. The output folder must be new or empty, so
no ONNX export, calibration or model card of other weights is left beside the result.
`training.json` records the ingredients and their weights. Rerun `export_onnx.py` and
`calibrate_reader.py` on the output, as after training.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = "model.safetensors"
COPIED = ("config.json", "tokenizer.json", "tokenizer_config.json")


def average(state_dicts: list[dict[str, torch.Tensor]], weights: list[float]) -> dict[str, torch.Tensor]:
    """The weighted element-wise mean of `state_dicts`, which must hold the same tensors."""
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("readers", nargs="+", type=Path, help="reader folders (each with model.safetensors)")
    parser.add_argument("--weights", nargs="+", type=float, help="one per reader (default: equal)")
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    weights = args.weights or [1.0] * len(args.readers)
    missing = [str(r) for r in args.readers if not (r / WEIGHTS).is_file()]
    if missing:
        parser.error(f"no {WEIGHTS} in: {', '.join(missing)}")
    if args.output_dir.resolve() in {r.resolve() for r in args.readers}:
        parser.error("--output-dir must not be one of the readers")
    if args.output_dir.exists() and any(args.output_dir.iterdir()):
        parser.error(f"--output-dir {args.output_dir} is not empty: give a new folder")
    try:
        mixed = average([load_file(str(r / WEIGHTS)) for r in args.readers], weights)
    except ValueError as exc:
        parser.error(str(exc))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    save_file(mixed, str(args.output_dir / WEIGHTS), metadata={"format": "pt"})
    for name in COPIED:
        shutil.copy2(args.readers[0] / name, args.output_dir / name)
    ingredients = []
    for reader, weight in zip(args.readers, weights):
        record = reader / "training.json"
        ingredients.append({"reader": str(reader), "weight": weight / sum(weights),
                            "training": json.loads(record.read_text()) if record.is_file() else None})
    info = {"averaged": ingredients, "made": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": "python scripts/average_readers.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    (args.output_dir / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"averaged {len(args.readers)} readers into {args.output_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
