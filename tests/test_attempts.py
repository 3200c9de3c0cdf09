"""Each record row knows the attempt of the run that saved it; records() reads all attempts or one."""

import pytest

from machinable import get
from machinable.errors import ValidationError

FLAKY = '''
from machinable import Experiment


class Flaky(Experiment):
    def on_execute(self):
        attempt = len(self.records())
        for step in range(3):
            self.record().save(step=step, attempt_seen=attempt)
        self.record("val").save(acc=0.5)
        if not self.load_data("failed_once.json"):
            self.save_data("failed_once.json", True)
            raise RuntimeError("first attempt fails")
'''


def test_rows_carry_their_attempt(project):
    project.write("flaky.py", FLAKY)
    experiment = get("flaky")
    with pytest.raises(Exception):
        experiment.launch()
    experiment.launch()
    rows = experiment.records()
    assert [(row["step"], row["_attempt"]) for row in rows] == [(0, 1), (1, 1), (2, 1), (0, 2), (1, 2), (2, 2)]
    assert [row["_attempt"] for row in experiment.records(attempt="latest")] == [2, 2, 2]
    assert [row["step"] for row in experiment.records(attempt=1)] == [0, 1, 2]
    assert experiment.records(attempt=3) == []
    assert list(experiment.records().as_dataframe()["_attempt"]) == [1, 1, 1, 2, 2, 2]
    assert "_attempt" not in experiment.summary()  # machinable's own columns are no metrics
    with pytest.raises(ValidationError, match="attempt must be None, 'latest' or a number from 1"):
        experiment.records(attempt=0)
