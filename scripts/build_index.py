#!/usr/bin/env python
"""`newsqa build` (qa.cli.build), run from the checkout: the same options (`--help`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, when the project is not installed
from qa.cli.build import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
