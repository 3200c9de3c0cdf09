"""System metrics (optional, off by default): `MACHINABLE_SYSTEM_METRICS=1` samples the run's process
once per heartbeat interval into the `system` records scope, plotted like any other scope.

Each row: `cpu_percent` (of one core, since the previous sample), `rss_mb`, `threads`, and per GPU
`gpu<i>_util_percent` / `gpu<i>_memory_mb` where NVML (the `pynvml` package) finds one. Read from
/proc on Linux; a sample costs tens of microseconds (see README), so it can stay on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

VARIABLE = "MACHINABLE_SYSTEM_METRICS"


def enabled() -> bool:
    return os.environ.get(VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


class Probe:
    """Reads the process's CPU time and memory; `sample()` gives the figures since the previous call."""

    def __init__(self):
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        self.last = (time.monotonic(), self._cpu_seconds())
        self.gpus = _gpus()

    def _cpu_seconds(self) -> float:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.ticks  # utime + stime

    def sample(self) -> dict:
        now, cpu = time.monotonic(), self._cpu_seconds()
        wall = now - self.last[0]
        row = {"cpu_percent": round(100 * (cpu - self.last[1]) / wall, 1) if wall > 0 else 0.0}
        self.last = (now, cpu)
        with open("/proc/self/statm", "rb") as f:
            row["rss_mb"] = round(int(f.read().split()[1]) * self.page_mb, 1)
        row["threads"] = threading.active_count()
        for index, (utilization, memory) in enumerate(self.gpus):
            row[f"gpu{index}_util_percent"] = utilization()
            row[f"gpu{index}_memory_mb"] = memory()
        return row


def _gpus() -> list:
    """(utilization %, memory MB) readers of each GPU NVML sees; none without pynvml or a GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # no pynvml, no driver, no GPU: no GPU columns
        return []
    return [(lambda h=h: pynvml.nvmlDeviceGetUtilizationRates(h).gpu,
             lambda h=h: round(pynvml.nvmlDeviceGetMemoryInfo(h).used / 2**20, 1)) for h in handles]


@contextlib.contextmanager
def sampling(experiment, interval: float):
    """While the block runs (a run's `on_execute`), a thread saves a `system` row every `interval` seconds."""
    if not enabled():
        yield
        return
    record = experiment.record("system")
    probe = Probe()
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            try:
                record.save(**probe.sample())
            except Exception:  # e.g. the claim was taken over (ClaimLost): this attempt writes no more
                return

    thread = threading.Thread(target=sample, name="machinable-system-metrics", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
