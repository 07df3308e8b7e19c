"""Seconds per named stage of a piece of work, in the order the stages ran (a build's profile)."""

from __future__ import annotations

import time


class Stopwatch:
    """`lap(name)` adds the seconds since the previous lap (or the start, or `restart`) to stage `name`."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._last = time.perf_counter()

    def restart(self) -> None:
        """Start the next stage now: the time since the last lap belongs to no stage."""
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = round(self.stages.get(stage, 0.0) + now - self._last, 3)
        self._last = now
