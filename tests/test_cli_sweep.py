"""`machinable sweep`: the plan in Hydra's override syntax (--dry-run writes nothing), --launch through
an execution, and `machinable list --sweep ID`."""

import json
import os
import subprocess
import sys

from sweep_support import LOGGING, log_lines

POINT = LOGGING + '''

class Point(Experiment):
    @dataclass
    class Config:
        lr: float = 0.1
        epochs: int = 1
        opt: str = "sgd"
        depth: int = 2

    def version_deep(self):
        return {"depth": 8}

    def on_execute(self):
        log("start", self.config.lr, self.config.epochs, self.config.opt, self.config.depth)
        self.record().save(loss=self.config.lr * self.config.epochs)
'''

ARGS = ["sweep", "point", "lr=0.1,0.01", "epochs=range(1,4)", "opt=choice(sgd,adam)", "~deep"]


def machinable(project, *args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "machinable", *args], cwd=project.path, capture_output=True,
                            text=True, timeout=120)
    assert not check or result.returncode == 0, result.stderr
    return result


def tree(directory: str) -> dict:
    return {os.path.join(current, name): os.stat(os.path.join(current, name)).st_mtime_ns
            for current, _, files in os.walk(directory) for name in files}


def test_dry_run_writes_nothing_and_counts_what_launch_runs(project):
    project.write("point.py", POINT)
    machinable(project, "get", "point", "lr=0.1", "epochs=1", "opt=sgd", "~deep", "--launch")  # one point is done
    before = tree(project.storage)
    dry = machinable(project, *ARGS, "--dry-run").stdout
    assert tree(project.storage) == before
    assert "11 of 12 points would run (1 finished, 11 new)." in dry and dry.count("│ new ") == 11

    launched = machinable(project, *ARGS, "machinable.execution.multiprocess", "processes=2", "--launch").stdout
    assert "12 finished; launched 11 of 12 points" in launched
    starts = [line for line in log_lines(project) if line[0] == "start"]
    assert len(starts) == 12 and {line[-1] for line in starts} == {"8"}  # 1 + the 11 counted, all ~deep
    assert "0 of 12 points would run (12 finished)." in machinable(project, *ARGS).stdout

    sweep_id = launched.split()[1].rstrip(":")
    listed = json.loads(machinable(project, "list", "--sweep", sweep_id, "--json").stdout)
    assert len(listed) == 12 and {row["config"]["opt"] for row in listed} == {"sgd", "adam"}


def test_random_points_from_the_command_line_and_bad_input(project):
    project.write("point.py", POINT)
    args = ["sweep", "point", "lr=tag(log,interval(1e-4,1e-1))", "epochs=int(interval(1,9))", "--samples", "4",
            "--sampler-seed", "7"]
    first = machinable(project, *args).stdout
    assert first == machinable(project, *args).stdout and "4 of 4 points would run" in first
    assert machinable(project, *args[:-1], "8").stdout != first

    for bad, words in ((["point", "lrr=1,2"], "did you mean 'lr'"), (["point", "lr=foo(1)"], "unknown function foo()"),
                       (["point", "lr=interval(0,1)", "--samples", "-1"], "samples must be a whole number"),
                       (["point", "lr=0.1"], "Nothing to sweep")):
        result = machinable(project, "sweep", *bad, check=False)
        assert result.returncode == 1 and words in result.stderr, result.stderr
    assert not os.path.exists(project.storage)
