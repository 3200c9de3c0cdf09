"""Checkpoints: a run SIGKILLed after step 33 of 50 resumes from its checkpoint at step 30."""

import os
import signal
import subprocess
import sys

import pytest

from machinable import get
from machinable.errors import UntrustedData, ValidationError

TRAIN = '''
import os
from dataclasses import dataclass

from machinable import Experiment


class Train(Experiment):
    @dataclass
    class Config:
        steps: int = 50
        stop_at: int = -1  # after saving this step's row: tell the test and wait to be killed

    def on_execute(self):
        checkpoint = self.load_checkpoint()
        state, start = (checkpoint.value, checkpoint.step + 1) if checkpoint else ({"total": 0}, 0)
        with open(self.local_directory("starts.txt"), "a") as f:
            f.write(f"{start}\\n")
        for step in range(start, self.config.steps):
            state["total"] += step
            self.record().save(step=step, total=state["total"])
            if step % 10 == 0:
                self.save_checkpoint(state, step=step)
            if step == self.config.stop_at and not os.path.exists(self.local_directory("killed-once")):
                open(self.local_directory("killed-once"), "w").close()
                print("waiting to be killed", flush=True)
                import time
                time.sleep(600)
        self.summary["total"] = state["total"]
'''


def test_a_killed_run_resumes_from_its_last_checkpoint(project):
    project.write("train.py", TRAIN)
    experiment = get("train", {"stop_at": 33}).commit()
    script = "from machinable import get\nget('train', {'stop_at': 33}).launch()\n"
    child = subprocess.Popen([sys.executable, "-c", script], cwd=str(project.path), stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        assert child.stdout.readline().strip() == "waiting to be killed"
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert experiment.status == "died"
    assert [row["step"] for row in experiment.records()] == list(range(34))
    experiment.launch()
    with open(experiment.local_directory("starts.txt")) as f:
        assert f.read().split() == ["0", "31"]  # the second attempt started after the checkpoint of step 30
    rows = experiment.records()
    assert [row["step"] for row in rows] == list(range(50))  # one continued run, no zig-zag back
    assert [row["_attempt"] for row in rows] == [1] * 31 + [2] * 19
    assert rows[-1]["total"] == sum(range(50)) == experiment.summary()["total"]  # state came from the checkpoint
    everything = experiment.records(superseded=True)
    assert [(row["step"], row["_attempt"]) for row in everything][31:34] == [(31, 1), (32, 1), (33, 1)]
    assert len(everything) == 53
    assert sorted(os.listdir(experiment.local_directory("checkpoints"))) == [".signatures", "20.pkl", "30.pkl", "40.pkl"]


def test_checkpoints_outside_a_run_and_their_errors(project):
    project.write("train.py", TRAIN)
    experiment = get("train", {"steps": 0}).launch()
    assert experiment.load_checkpoint() is None
    experiment.save_checkpoint({"a": 1})
    experiment.save_checkpoint({"a": 2})
    latest = experiment.load_checkpoint()
    assert (latest.step, latest.value) == (1, {"a": 2})
    with experiment.checkpoint_directory(7) as path:
        with open(os.path.join(path, "model.pt"), "w") as f:
            f.write("weights")
    latest = experiment.load_checkpoint()
    assert latest.step == 7 and latest.value is None and os.listdir(latest.path) == ["model.pt"]
    with pytest.raises(ValidationError, match="cannot be pickled"):
        experiment.save_checkpoint(lambda: 1, step=8)
    with pytest.raises(ValidationError, match="keep is how many checkpoints to keep"):
        experiment.save_checkpoint({}, step=8, keep=0)
    with pytest.raises(ValidationError, match="step is a whole number from 0"):
        experiment.save_checkpoint({}, step=-1)
    assert sorted(n for n in os.listdir(experiment.local_directory("checkpoints")) if not n.startswith(".")) == [
        "0.pkl", "1.pkl", "7"]
    os.unlink(experiment.local_directory("checkpoints", ".signatures", "1.pkl.sig"))  # e.g. a copied storage
    with open(experiment.local_directory("checkpoints", "1.pkl"), "rb") as f:
        raw = f.read()
    os.rename(experiment.local_directory("checkpoints", "7"), experiment.local_directory("checkpoints", ".7"))
    with pytest.raises(UntrustedData):
        experiment.load_checkpoint().value
    assert raw  # the file is kept as it was
