"""MACHINABLE_SYSTEM_METRICS=1: the run's CPU and memory are sampled into the `system` records scope."""

from machinable import get

BUSY = '''
import time

from machinable import Experiment


class Busy(Experiment):
    def on_execute(self):
        end = time.time() + 0.8
        buffer = bytearray(50 * 2**20)  # 50 MB the RSS should show
        while time.time() < end:
            sum(range(1000))
        self.save_data("size.json", len(buffer))
'''


def test_system_metrics_are_sampled_when_asked(project, monkeypatch):
    project.write("busy.py", BUSY)
    monkeypatch.setenv("MACHINABLE_HEARTBEAT_SECONDS", "0.1")
    plain = get("busy", seed=1).launch()
    assert plain.records("system") == []
    monkeypatch.setenv("MACHINABLE_SYSTEM_METRICS", "1")
    sampled = get("busy", seed=2).launch()
    rows = sampled.records("system")
    assert len(rows) >= 4
    assert all(row["rss_mb"] > 50 and row["threads"] >= 2 for row in rows)
    assert max(row["cpu_percent"] for row in rows) > 50  # the busy loop, on one core
    assert "system.rss_mb" in sampled.summary()


def test_a_sample_reads_proc_and_says_nothing_of_gpus_without_nvml():
    from machinable.system import Probe

    row = Probe().sample()
    assert set(row) >= {"cpu_percent", "rss_mb", "threads"} and row["rss_mb"] > 0
