"""Adaptive search with Optuna: every trial an experiment; a killed driver restarted rebuilds the study
from the stored experiments, and no trial is lost or executed twice."""

import collections
import os
import warnings

import pytest

pytest.importorskip("optuna")

from machinable import find, get  # noqa: E402
from machinable.errors import ValidationError  # noqa: E402
from machinable.sweep import Search, uniform  # noqa: E402
from sweep_support import LOGGING, finish, kill_when, log_lines, start_driver  # noqa: E402

QUAD = LOGGING + '''

class Quad(Experiment):
    """A known minimum: loss 0 at x=2, y=-1, opt="b"."""

    @dataclass
    class Config:
        x: float = 0.0
        y: float = 0.0
        opt: str = "a"
        sleep: float = 0.0

    def on_execute(self):
        log("start", self.experiment_id)
        time.sleep(self.config.sleep)
        self.record().save(loss=(self.config.x - 2) ** 2 + (self.config.y + 1) ** 2 + (self.config.opt != "b"))
        log("done", self.experiment_id)
'''

DRIVER = '''
import optuna

from machinable import get
from machinable.sweep import Search, uniform

optuna.logging.set_verbosity(optuna.logging.WARNING)
search = Search("quad", {"x": uniform(-5, 5), "y": uniform(-5, 5), "opt": ["a", "b"]}, objective="loss",
                trials=30, parallel=2, version={"sleep": 0.1}, sampler_seed=3)
with get("machinable.execution.multiprocess", {"processes": 2}):
    search.run()
print("done", search.search_id)
'''

SPACE = {"x": uniform(-5, 5), "y": uniform(-5, 5), "opt": ["a", "b"]}


@pytest.fixture
def quad(project):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    project.write("quad.py", QUAD)
    project.write("driver.py", DRIVER)
    return project


def test_30_trials_get_near_the_known_minimum_and_the_study_is_rebuilt(quad):
    search = Search("quad", SPACE, objective="loss", trials=30, parallel=3, sampler_seed=0)
    with get("machinable.execution.multiprocess", {"processes": 3}):
        search.run()
    best = search.best
    assert best["value"] < 0.5, best  # the stated tolerance: loss within 0.5 of the minimum 0
    assert best["params"]["opt"] == "b" and abs(best["params"]["x"] - 2) < 0.71 and abs(best["params"]["y"] + 1) < 0.71
    assert best["experiment"].summary()["loss"] == best["value"]
    assert len(find(sweep=search.search_id, status="finished")) == 30
    assert len(log_lines(quad)) == 60  # each trial started and finished once

    again = Search("quad", SPACE, objective="loss", trials=30, sampler_seed=0)  # e.g. in a later session
    assert again.search_id == search.search_id and len(again.study().trials) == 30
    assert again.best["value"] == best["value"]
    rows = again.results()
    assert len(rows) == 30 and {"trial", "x", "y", "opt", "loss", "state", "experiment"} <= set(rows[0])
    assert "loss" in again.as_table()
    assert set(again.importances()) == {"x", "y", "opt"}
    again.run()  # nothing left to do
    assert len(log_lines(quad)) == 60


def test_a_repeated_config_reuses_the_stored_result(quad):
    search = Search("quad", {"x": [0.0, 2.0], "opt": ["a", "b"]}, objective="loss", trials=4)
    search.run()
    assert len(find(sweep=search)) == 4 and len(log_lines(quad)) == 8
    more = Search("quad", {"x": [0.0, 2.0], "opt": ["a", "b"]}, objective="loss", trials=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        more.run()
    assert any("space exhausted" in str(w.message) for w in caught)
    assert len(find(sweep=more)) == 4 and len(log_lines(quad)) == 8  # asked again, never run again
    assert more.best["params"] == {"x": 2.0, "opt": "b"} and more.best["value"] == 1.0


def test_bad_searches_are_named_before_anything_is_written(quad):
    with pytest.raises(ValidationError, match="did you mean 'opt'"):
        Search("quad", {"opts": ["a"]}, objective="loss")
    with pytest.raises(ValidationError, match="direction"):
        Search("quad", SPACE, objective="loss", direction="down")
    with pytest.raises(ValidationError, match="trials"):
        Search("quad", SPACE, objective="loss", trials=-1)
    with pytest.raises(ValidationError, match="non-empty"):
        Search("quad", {}, objective="loss")
    with pytest.raises(ValidationError, match="'x'"):
        Search("quad", {"x": 1.0}, objective="loss")
    assert not os.path.exists(quad.storage)
    search = Search("quad", {"x": [1.0]}, objective="val_loss", trials=1)
    with pytest.raises(ValidationError, match="without the objective 'val_loss'"):
        search.run()
    quad.write("queue.py", """
        from machinable import Execution

        class Queue(Execution):
            asynchronous = True  # like a batch system: dispatch returns once submitted
    """)
    with pytest.raises(ValidationError, match="returns once the experiments are submitted"), get("queue"):
        Search("quad", {"x": [2.0]}, objective="loss", trials=1).run()
    assert not find("quad", where={"x": 2.0}) and len(find("machinable.sweep.stored")) == 1  # nothing written


def test_a_search_killed_at_trial_12_and_restarted_ends_with_30_distinct_trials_run_once(quad):
    kill_when(quad, start_driver(quad, "1"), done=12)
    finished = {e.experiment_id for e in find("quad", status="finished")}
    assert 10 <= len(finished) < 30  # 12 logged done; up to parallel=2 may not have stored their end yet

    search_id = finish(start_driver(quad, "2")).split()[-1]
    members = find(sweep=search_id)
    assert len(members) == 30 and all(e.is_finished() for e in members)
    assert len({(e.config.x, e.config.y, e.config.opt) for e in members}) == 30  # distinct trials
    log = log_lines(quad)
    ran = {line[3] for line in log}
    assert ran <= {e.experiment_id for e in members}  # nothing ran outside the search's trials
    again = collections.Counter(line[3] for line in log if line[1] == "2" and line[0] == "start")
    assert not finished & set(again) and set(again.values()) <= {1}  # finished trials never ran again
    done = collections.Counter(line[3] for line in log if line[0] == "done")
    assert all(done[i] == 1 for i in finished) and set(done) == {e.experiment_id for e in members}
