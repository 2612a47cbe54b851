"""How the labs' self-checks speak to a student: one short message, never a traceback through them.

Shipped beside each lab's `public_tests.py`, which imports it. Two kinds of failure are shown
in one line, in the notebook as in nbgrader's Validate:

- a failing self-check raises `SelfCheckFailed` (an AssertionError), whose message already says
  what was called, what was expected, what came back and what to look at; IPython shows the
  message alone because the exception renders its own traceback (`_render_traceback_`);
- a function that still raises the release's bare `NotImplementedError()` is reported as not
  done yet, wherever it is called from: importing this module in a notebook registers that
  report with IPython. A NotImplementedError with a message (from a library) keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["SelfCheckFailed", "NotDoneYet", "failure_of_call"]

RED, BOLD, RESET = "\033[31m", "\033[1m", "\033[0m"


class SelfCheckFailed(AssertionError):
    """A self-check found a wrong result; shown as its message only."""

    heading = "Not yet right"

    def _render_traceback_(self) -> list[str]:
        return [f"{RED}{BOLD}{self.heading}:{RESET} {self}"]


class NotDoneYet(SelfCheckFailed):
    """The function is still the release's stub (`raise NotImplementedError()`)."""

    heading = "Not done yet"

    def __init__(self, function: str):
        where = "this cell" if function == "<module>" else f"{function}()"
        super().__init__(
            f"{where} still raises NotImplementedError. "
            "Replace `raise NotImplementedError()` with your code, then run its cell again."
        )


def failure_of_call(call: str, function: Callable[..., Any], error: Exception) -> SelfCheckFailed:
    """What a self-check raises when the student's function, called as `call`, raised `error`:
    not done yet for the release's stub, else the exception and the line of the function's
    cell it came from (the student's own code, where the fix is)."""
    if isinstance(error, NotImplementedError) and not error.args:
        return NotDoneYet(getattr(function, "__name__", "<module>"))
    raised = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return SelfCheckFailed(f"{call}: your function raised {raised}{_where_in(function, error.__traceback__)}.")


def _where_in(function: Callable[..., Any], traceback: TracebackType | None) -> str:
    """' (line N of its cell)': the last line of `function` that the traceback passed through."""
    code, line = getattr(function, "__code__", None), None
    while traceback is not None:
        if traceback.tb_frame.f_code is code:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return f" (line {line} of its cell)" if line else ""


def _innermost_function(traceback: TracebackType | None) -> str:
    name = "<module>"
    while traceback is not None:
        name = traceback.tb_frame.f_code.co_name
        traceback = traceback.tb_next
    return name


def _report_unfinished(shell, etype, value, traceback, tb_offset=None) -> None:
    """IPython's handler of NotImplementedError in a notebook: a bare one is reported in one line."""
    if not value.args:
        function = _innermost_function(traceback)
        value._render_traceback_ = NotDoneYet(function)._render_traceback_
    shell.showtraceback((etype, value, traceback), tb_offset=tb_offset)


def _register_with_ipython() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: exceptions keep their usual form
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((NotImplementedError,), _report_unfinished)


_register_with_ipython()
