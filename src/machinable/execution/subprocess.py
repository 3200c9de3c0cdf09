"""Run each experiment in a fresh interpreter: `get("machinable.execution.subprocess")`.

The child runs `experiment.to_dispatch_code()` against the same storage, so it
starts from a clean state (no modules or globals left over from the parent) and
its output goes to this terminal and to the experiment's output.log. A child that
dies without storing a failure (killed, `os._exit()`) is reported with its exit
code or signal.
"""

import subprocess
import sys

from machinable.errors import ExecutionFailed
from machinable.execution import Execution, process_ended


class Subprocess(Execution):
    def on_dispatch_experiment(self, experiment) -> ExecutionFailed | None:
        returncode = subprocess.run([sys.executable, "-c", experiment.to_dispatch_code()]).returncode
        if returncode == 0:
            return None
        return ExecutionFailed(f"its interpreter {process_ended(returncode)}; see the output above")
