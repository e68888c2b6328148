"""Wall time and driver memory per phase of a run, for the manifest and the report.

The driver's peak RSS at the end of each phase says where its memory went (inventory, the stream,
finalize): the number a capacity planner needs, and the evidence that it does not grow with the corpus.
"""

from __future__ import annotations

import resource
import sys
import time


def peak_rss_mib() -> float:
    """This process's peak resident set so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class PhaseClock:
    """`done(phase)` records the phase and starts timing the next; `start()` restarts after a gap."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_rss_mib: dict[str, float] = {}
        self._start = time.time()

    def start(self) -> None:
        self._start = time.time()

    def done(self, phase: str) -> None:
        self.seconds[phase] = round(time.time() - self._start, 3)
        self.peak_rss_mib[phase] = round(peak_rss_mib(), 1)
        self._start = time.time()
