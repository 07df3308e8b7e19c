"""Reader training: fine-tune a BERT-style encoder into the extractive reader (start/end span logits).

    newsqa train [--shared-norm] [--resume] ...          # qa.cli.train: the command line
    python scripts/gpu/train_bare.py TABLE -- ARGS...   # the same on a machine with only torch + transformers

Modules, so that each can be imported without the others' dependencies:
- `features`: single-window training features (positives and hard negatives), length-bucketed
  batches, the SQuAD files read for training. No torch.
- `groups`: shared-normalization groups (a question's gold window beside retrieved negatives). No torch;
  the BM25 ranker (`qa.bm25`) and the reader's question cap (`qa.reader`) are imported only when the
  caller does not hand them in, which is how the bare GPU path runs without the serving stack.
- `loop`: the torch side: padding, collation, the shared-normalization loss, checkpoints, saving
  the model, and the training loop itself (`train`).
- `options`: the command-line options (`parse_args`).
- `table`: the BM25 table a bare GPU machine reads instead of ranking (`scripts/gpu/`).

Nothing here imports `qa.config` (pydantic), a store, or the serving stack at import time.
"""
