"""Run each experiment in a fresh interpreter: `get("machinable.execution.subprocess")`.

The child runs `experiment.to_dispatch_code()` against the same storage, so it
starts from a clean state (no modules or globals left over from the parent) and
its output goes to this terminal and to the experiment's output.log.
"""

import subprocess
import sys

from machinable.errors import ExecutionFailed
from machinable.execution import Execution


class Subprocess(Execution):
    def on_dispatch_experiment(self, experiment) -> None:
        returncode = subprocess.run([sys.executable, "-c", experiment.to_dispatch_code()]).returncode
        if returncode != 0:
            raise ExecutionFailed(
                f"{experiment} failed in its interpreter (exit code {returncode}); see the output above and "
                f"{experiment.local_directory('output.log')}. launch() again resumes it with the same seed."
            )
