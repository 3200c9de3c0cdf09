"""The seed documentation page (docs/seed-page.txt, a copy of ../shared/seed/000_*.txt), its examples run as written."""

import contextlib
import io
import os
import re
import warnings

import pytest

from conftest import REPO

SEED = os.path.join(REPO, "docs", "seed-page.txt")
SHARED_SEED = os.path.join(os.path.dirname(REPO), "shared", "seed", "000_1e30f1fd9f191e1f.txt")

LAMBDA_EXECUTION = '''
from dataclasses import dataclass
from multiprocessing import Pool

from machinable import Execution


class Multiprocess(Execution):
    @dataclass
    class Config:
        processes: int = 1

    def on_dispatch(self):
        with Pool(self.config.processes) as pool:
            pool.imap_unordered(lambda experiment: experiment(), self.experiments)
'''


def seed_blocks():
    with open(SEED) as f:
        text = f.read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def doctest_lines(block):
    """(source, expected output lines) pairs of a `>>>` transcript."""
    steps = []
    for line in block.splitlines():
        if line.startswith(">>> "):
            steps.append((line[4:], []))
        elif steps and line.strip():
            steps[-1][1].append(line)
    return steps


def run_transcript(block, namespace):
    for source, expected in doctest_lines(block):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                code = compile(source, "<seed>", "eval")
            except SyntaxError:
                exec(compile(source, "<seed>", "exec"), namespace)
                value = None
            else:
                value = eval(code, namespace)
        yield source, expected, out.getvalue().splitlines(), value


def test_seed_page_has_the_examples_we_run():
    blocks = seed_blocks()
    assert len(blocks) == 5
    assert "experiment.launch()" in blocks[0]


def test_running_experiments_transcript(project):
    blocks = seed_blocks()
    namespace = {}
    results = list(run_transcript(blocks[0], namespace)) + list(run_transcript(blocks[1], namespace))
    (src, expected, printed, _), (_, expected_finished, _, finished) = results[-2:]
    assert [r[0] for r in results[:2]] == ["from machinable import get", "experiment = get('estimate_gravity')"]
    assert src == "experiment.launch()"
    assert printed == expected == [
        "Assuming height of 52 and time of 0.3",
        "The gravity on the exoplanet is:  1155.5555555555557",
    ]
    assert expected_finished == ["True"] and finished is True

    steps = list(run_transcript(blocks[2], namespace))
    values = {source: value for source, _, _, value in steps}
    assert re.fullmatch(r"[0-9A-Za-z]{6}", values["gravity.experiment_id"])
    assert isinstance(values["gravity.timestamp"], int) and values["gravity.timestamp"] > 1_600_000_000
    assert isinstance(values["gravity.seed"], int) and 0 <= values["gravity.seed"] < 2**32
    # get() found the stored experiment: the same one, already finished
    assert namespace["gravity"].experiment_id == namespace["experiment"].experiment_id
    assert namespace["gravity"].is_finished()

    # "Invocations of launch() after successful execution do not trigger another execution"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        namespace["gravity"].launch()
    assert out.getvalue() == ""
    assert len(namespace["gravity"].executions) == 1


def test_custom_execution_from_the_seed(project):
    project.write("multiprocess_execution.py", open(os.path.join(REPO, "examples", "multiprocess_execution.py")).read())
    namespace = {}
    exec(seed_blocks()[3], namespace)  # multiprocessing = get("multiprocess_execution", {'processes': 2})
    multiprocessing = namespace["multiprocessing"]
    assert multiprocessing.config.processes == 2
    experiment = namespace["experiment"] = namespace["get"]("estimate_gravity", {"time_dilation": 3})
    exec(seed_blocks()[4], namespace)  # with multiprocessing: experiment.launch()
    assert multiprocessing.experiments == [experiment]
    assert experiment.is_finished()
    assert experiment.execution.nickname == multiprocessing.nickname
    assert experiment.execution.module == "multiprocess_execution"
    assert "The gravity on the exoplanet is:  128.3950617283951" in experiment.output()


def test_lambda_execution_is_reported_not_silently_dropped(project):
    from machinable import get

    project.write("lambda_execution.py", LAMBDA_EXECUTION)
    experiment = get("estimate_gravity", {"time_dilation": 4})
    with pytest.warns(RuntimeWarning, match=f"never started: Experiment \\[{experiment.experiment_id}\\]"):
        with get("lambda_execution", {"processes": 2}):
            experiment.launch()
    assert not experiment.is_started()
    assert experiment.status == "committed"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        experiment.launch()  # the default execution runs it
    assert experiment.is_finished()


@pytest.mark.skipif(not os.path.exists(SHARED_SEED), reason="../shared (beside the repository in CI) is not here")
def test_the_copy_in_the_repository_is_the_seed_page():
    with open(SEED) as copy, open(SHARED_SEED) as original:
        assert copy.read() == original.read()
