"""Fault injection for tests: make a write stop at a named point so a test can kill it there,
or fail there as if the disk were full.

With `NEWSQA_TEST_PAUSE_AT=<point>` in the environment, a write prints "NEWSQA_PAUSED <point>"
on stderr and sleeps at that point (tests/integration/qa/test_lifecycle.py, scripts/fault_test.py).
With `NEWSQA_TEST_DISK_FULL_AT=<point>`, it raises `OSError(ENOSPC)` there instead, as a full
disk would (the real thing, on a small filesystem, is in tests/integration/qa/test_write_faults.py). The
points, in order: `embedding` (called by `qa.sync` before it embeds), `vectors_written`
(vectors written in the staging place, no manifest yet), `before_rename`, `before_swap` (the
new version in place, not yet current), `after_swap` (old versions not yet pruned). A store
calls the points that exist in its write path.
"""

from __future__ import annotations

import errno
import os
import sys
import time

PAUSE_ENV = "NEWSQA_TEST_PAUSE_AT"
DISK_FULL_ENV = "NEWSQA_TEST_DISK_FULL_AT"
PAUSE_POINTS = ("embedding", "vectors_written", "before_rename", "before_swap", "after_swap")


def pause_point(point: str) -> None:
    """Fault-injection hook (see the module docstring): sleep or fail here when the test asks to."""
    if os.environ.get(DISK_FULL_ENV) == point:
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (injected at {point})")
    if os.environ.get(PAUSE_ENV) == point:
        print(f"NEWSQA_PAUSED {point}", file=sys.stderr, flush=True)
        time.sleep(3600)
