"""A run's time limit counted in the run's own time, for the preprocessors that start runs.

While a class is graded on every core, a run can wait for a CPU that other work holds (the
grader, another student's run): time it did not use. A limit on the wall clock alone would stop
an honest run for the grader's own load, so a limit may grow by the time its run waited, up to
`load_allowance` times the limit. The sandbox counts the waiting (`grading.sandbox.cgroups`).
"""

from __future__ import annotations

from traitlets import Float
from traitlets.config import Configurable


class OwnTimeLimit(Configurable):
    """A `timeout` (set by the subclass) that grows by the time its run waited for a CPU."""

    load_allowance = Float(
        3.0,
        help="A limit counts its run's own time: when the run waited for a CPU held by other work (a busy"
        " grader), it may take that much longer, up to this many times its limit more (0: the wall clock"
        " alone).",
    ).tag(config=True)

    def stretch(self) -> float:
        """Seconds the limit may grow by while its run waits for a CPU."""
        return self.timeout * self.load_allowance
