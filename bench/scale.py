"""Shared by the benchmarks: sizes for the scale curve, medians of repeated runs, and peak RSS.

Peak RSS: ``resource.getrusage(RUSAGE_SELF)`` for the process that ran the server side; for the worker,
``/proc/<pid>/status`` VmHWM of every worker interpreter this process started, polled
every 20 ms (``RUSAGE_CHILDREN`` cannot be used: on Linux a child's peak includes the parent's pages it
held between fork and exec, so it reports the server's size).
"""

from __future__ import annotations

import resource
import statistics
import threading
from collections.abc import Callable
from pathlib import Path


def median_of(runs: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    """The median of ``runs`` measurements and the measurements themselves."""
    times = [measure() for _ in range(runs)]
    return statistics.median(times), times


class WorkerPeak:
    """Polls the worker interpreters below this process for their peak RSS (VmHWM), in a thread."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.02):
            for pid in _workers():
                self.peak_kb = max(self.peak_kb, _vm_hwm_kb(pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


def _workers() -> list[int]:
    """The worker interpreters this process started (the runner keeps them in ``prestart._spawned``):
    scanning every process in /proc every 20 ms instead cost the measured run a good share of a core."""
    try:
        from alembic_mcp.tools.worker import prestart
    except ImportError:
        return []
    return [process.pid for process in list(prestart._spawned)]  # an exited one reads as 0


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


_worker_peak: WorkerPeak | None = None


def start_worker_peak() -> None:
    """Begin polling (call before the measured calls start their workers)."""
    global _worker_peak
    _worker_peak = WorkerPeak()


def peak_rss_mb() -> dict[str, float]:
    """Peak RSS (MB) of this process (the server side) and of the largest worker interpreter polled."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = _worker_peak.stop() if _worker_peak is not None else float("nan")
    return {"server_mb": round(own, 1), "worker_mb": round(worker, 1)}


def per_revision_ms(seconds: float, revisions: int) -> str:
    return f"{1000 * seconds / max(revisions, 1):.2f} ms/rev"
