"""The default execution: each experiment runs in this process, one after another."""

from machinable.execution import Execution


class Local(Execution):
    pass
