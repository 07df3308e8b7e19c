#!/usr/bin/env python
"""The BM25 negatives `build_groups` would retrieve, as a table for a bare GPU machine
(qa.training.table.table_main).

    python scripts/gpu/bm25_table.py TRAIN.json OUT.json.gz [--top 11] [--limit N]

See scripts/gpu/README.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from qa.training.table import table_main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(table_main())
