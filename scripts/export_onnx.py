#!/usr/bin/env python
"""Export the reader to ONNX and quantize it to int8 for fast CPU inference.

    python scripts/export_onnx.py [--model-dir qa/models/reader]

Writes `model.int8.onnx` (dynamic int8 quantization of the linear layers) beside
the fp16 safetensors weights. `ExtractiveReader` prefers it when present; compare
both back ends with `scripts/evaluate.py --reader-backend torch|onnx`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa.reader import DEFAULT_READER_DIR, ONNX_FILE  # noqa: E402

LOG = logging.getLogger("export_onnx")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_READER_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    LOG.setLevel(logging.INFO)
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(args.model_dir), local_files_only=True).float().eval()
    model.config.return_dict = False
    dummy = {
        "input_ids": torch.ones((2, 16), dtype=torch.long),
        "attention_mask": torch.ones((2, 16), dtype=torch.long),
        "token_type_ids": torch.zeros((2, 16), dtype=torch.long),
    }
    axes = {0: "batch", 1: "sequence"}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.onnx"
        torch.onnx.export(
            model, (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]), str(fp32),
            input_names=list(dummy), output_names=["start_logits", "end_logits"],
            dynamic_axes={**{k: axes for k in dummy}, "start_logits": axes, "end_logits": axes},
            opset_version=17, dynamo=False,
        )
        quantize_dynamic(str(fp32), str(args.model_dir / ONNX_FILE), weight_type=QuantType.QInt8,
                         per_channel=True)
    size = (args.model_dir / ONNX_FILE).stat().st_size / 1e6
    LOG.info("wrote %s (%.1f MB)", args.model_dir / ONNX_FILE, size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
