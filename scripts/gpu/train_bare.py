#!/usr/bin/env python
"""Train the reader where only torch and transformers are installed (qa.training.table.bare_main).

    python scripts/gpu/train_bare.py TABLE.json.gz -- TRAIN_READER_ARGS...

See scripts/gpu/README.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: a bare machine has nothing installed
from qa.training.table import bare_main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(bare_main())
