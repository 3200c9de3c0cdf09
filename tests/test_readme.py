"""The README's Python examples, run as written (module files written into a project, snippets executed in order)."""

import os
import re
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What the README's snippets refer to without defining: a `train` module with a nested config and a
# `~fast` version, a `dataset` element, and the example project's Monte-Carlo experiment.
TRAIN = '''
from dataclasses import dataclass, field

from machinable import Experiment


@dataclass
class Optimizer:
    lr: float = 0.1


class Train(Experiment):
    @dataclass
    class Config:
        epochs: int = 10
        optimizer: Optimizer = field(default_factory=Optimizer)

    def version_fast(self):
        return {"epochs": 1}
'''

DATASET = '''
from dataclasses import dataclass

from machinable import Element


class Dataset(Element):
    @dataclass
    class Config:
        name: str = "mnist"
'''

NEEDS_A_CLUSTER = "machinable.execution.slurm"  # run for real in tests/test_execution_slurm.py


def python_blocks() -> list[str]:
    with open(os.path.join(REPO, "README.md")) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def as_code(block: str) -> str:
    """A `>>>` session becomes its statements (the shown results are example values)."""
    if not block.startswith(">>>"):
        return block
    return "\n".join(line[4:] for line in block.splitlines() if line.startswith(">>> "))


def module_name(block: str) -> str | None:
    """`# estimate_gravity.py — ...` on the first line marks a module file."""
    match = re.match(r"# (\w+)\.py\b", block)
    return match.group(1) if match else None


def test_the_readme_has_the_examples_this_test_expects():
    blocks = python_blocks()
    assert len(blocks) >= 10
    assert [module_name(b) for b in blocks if module_name(b)] == ["estimate_gravity", "multiprocess_execution", "resumable"]
    assert sum(NEEDS_A_CLUSTER in b for b in blocks) == 1


def test_every_readme_example_runs(project, capsys):
    project.write("train.py", TRAIN)
    project.write("dataset.py", DATASET)
    project.write("monte_carlo_pi.py", open(os.path.join(REPO, "examples", "monte_carlo_pi.py")).read())
    snippets = []
    for block in python_blocks():
        name = module_name(block)
        if name:
            project.write(f"{name}.py", block)
        elif NEEDS_A_CLUSTER not in block:
            snippets.append(as_code(block))

    from machinable import Experiment, get

    # the names the snippets use for "an experiment you have"
    namespace = {"get": get, "Experiment": Experiment, "experiment": None, "parent": None}
    for snippet in snippets:
        if namespace["experiment"] is None or not namespace["experiment"].is_finished():
            namespace["experiment"] = namespace["parent"] = get("estimate_gravity", {"time_dilation": 2}).launch()
        try:
            exec(compile(textwrap.dedent(snippet), "README.md", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"README example failed: {type(error).__name__}: {error}\n---\n{snippet}")

    assert namespace["experiment"].records().pluck("iteration") == [0, 1, 2]
    assert "python" in capsys.readouterr().out  # to_dispatch_code(inline=True) was printed
    assert namespace["child"].ancestor == namespace["parent"]
    assert not namespace["on_mnist"].is_committed()  # the used dataset made it a different experiment
    on_dask = get("monte_carlo_pi", {"samples": 200_000})
    assert on_dask.is_finished() and on_dask.execution.module == "machinable.execution.dask"
    assert len(project.experiment_dirs()) >= 4
