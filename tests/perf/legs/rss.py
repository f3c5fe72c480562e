"""Peak-RSS sampler shared by the benchmark legs.

Why: each leg reports its own peak resident memory next to its throughput, so a leg's JSON line is
self-contained even when run by hand. The harness measures the process tree as well; this is the
in-leg cross-check. A daemon thread sums the RSS of a process and all of its descendants every
`interval` seconds and keeps the maximum (so short spikes between samples can be missed).
"""
from __future__ import annotations

import os
import threading

import psutil


class PeakRSS:
    """Context manager / start-stop sampler of the peak summed RSS of a process tree."""

    def __init__(self, pid: int | None = None, interval: float = 0.2):
        self.pid = os.getpid() if pid is None else pid
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        try:
            root = psutil.Process(self.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while True:
            self.peak_bytes = max(self.peak_bytes, self._sample())
            if self._stop.wait(self.interval):
                return

    def start(self) -> "PeakRSS":
        self._thread.start()
        return self

    def stop(self) -> float:
        """Stop sampling and return the peak in GiB."""
        self._stop.set()
        self._thread.join()
        return self.peak_gib

    @property
    def peak_gib(self) -> float:
        return round(self.peak_bytes / 2**30, 3)

    def __enter__(self) -> "PeakRSS":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
