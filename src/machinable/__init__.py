"""machinable: research code as configurable experiments that run exactly once.

    from machinable import get
    experiment = get("estimate_gravity", {"time_dilation": 2})
    experiment.launch()
"""

from machinable import errors
from machinable.config import NotIdentifying
from machinable.element import Element, get
from machinable.execution import Execution
from machinable.experiment import Experiment
from machinable.project import Project
from machinable.query import find
from machinable.storage import Storage

__version__ = "0.1.0"

__all__ = ["Element", "Execution", "Experiment", "NotIdentifying", "Project", "Storage", "errors", "find", "get", "__version__"]
