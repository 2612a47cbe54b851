"""The errors a person at the keyboard is told about, in one hierarchy.

Each is a `GradingError` whose message is one line: what is wrong, naming the thing, and what to
do. `python -m grading` prints any of them after "grading: " and exits 1; any other exception is a
defect of the kit and keeps its traceback. What goes wrong inside one student's run (a sandbox
that dies, a broken protocol, a verdict that could not be run) is not here: it becomes that
student's notes, never a command's failure.
"""

from __future__ import annotations


class GradingError(Exception):
    """A command cannot do its job; the message is one line for the instructor."""


class CommandError(GradingError):
    """The command's arguments or the course's state do not allow it (an unknown lab, nothing
    graded yet, a step of nbgrader's that failed)."""


class NoSubmissions(CommandError):
    """The lab has no submission to grade; the message says where they go."""


class ReportUnavailable(CommandError):
    """The lab's class report is missing or damaged; the message says to autograde (again)."""


class GradebookUnavailable(GradingError):
    """The gradebook cannot be opened; the message names it and says what to do."""


class IntegrityError(GradingError):
    """The grader's files changed; the message lists them and says what to do."""


class SandboxUnavailable(GradingError):
    """A sandbox cannot start here; the message names the cause and what to do."""


class PoolUnavailable(GradingError):
    """The workers asked for cannot be reached; the message says what to start."""


class CertificateError(GradingError):
    """A certificate or key of the cluster is missing, unsafe or in the way; the message says what to do."""


class StudentError(GradingError):
    """The student's environment cannot be prepared; the message is one line saying why."""
