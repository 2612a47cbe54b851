"""Execute a submission so that its failures stay its own.

nbgrader's `Execute` already interrupts a cell after `timeout` seconds. This adds what a
class of submissions needs on top:
- a kernel that dies (the code exits Python or runs out of memory) no longer aborts the
  notebook, which would make nbgrader drop the student's graded output: the cell and every
  later code cell get an error output saying what happened, and grading goes on;
- a kernel still busy after an interrupt (code that ignores KeyboardInterrupt) is stopped
  instead of timing out once per remaining cell;
- text output is capped per cell while it arrives, so a flood cannot fill the grader's
  memory (figures are not counted);
- processes the code leaves running after the kernel shut down are stopped, so nothing
  of the submission acts after its grades are saved.
"""
from __future__ import annotations

import queue
import time
from typing import Any

from jupyter_core.utils import ensure_async, run_sync
from nbclient.client import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer

from grading.reaping import become_subreaper, descendants, kill_descendants

KERNEL_DIED = "The kernel died while running this cell (did the code exit Python or use up the memory?)."
KERNEL_STOPPED = "The kernel was stopped: it was still busy {seconds} s after the time limit and an interrupt."
NOT_RUN = "Not run: the kernel had stopped at an earlier cell."



def _error(name: str, message: str) -> NotebookNode:
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


class ExecuteWithLimits(Execute):
    """nbgrader's Execute, made to survive dead and stuck kernels and to cap output."""

    max_output_chars = Integer(
        100_000, help="Characters of output kept per cell; the rest is dropped with a note."
    ).tag(config=True)

    responsive_wait = Integer(
        5, help="Seconds to wait, after a timed-out cell was interrupted, for the kernel to answer."
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, Any]:
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._output_chars: dict[int, int] = {}
        become_subreaper()
        already_running = descendants()
        try:
            self._execute_cells(resources)
        finally:
            left_behind = kill_descendants(keep=already_running)
            if left_behind:
                self.log.warning("Stopped %d process(es) the submission left running", len(left_behind))
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _execute_cells(self, resources: Any) -> None:
        stopped_because: str | None = None
        with self.setup_kernel():
            assert self.kc is not None
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code":
                    continue
                if stopped_because:
                    cell.outputs = [_error("NotRun", NOT_RUN)]
                    continue
                try:
                    self.preprocess_cell(cell, resources, index)
                except DeadKernelError:
                    cell.outputs.append(_error("DeadKernelError", KERNEL_DIED))
                    stopped_because = KERNEL_DIED
                    continue
                except CellTimeoutError:  # no reply and no output even after the interrupt
                    cell.outputs.append(_error("CellTimeoutError", f"No reply within {self.timeout} s."))
                if self._timed_out(cell) and not self._kernel_responds():
                    message = KERNEL_STOPPED.format(seconds=self.responsive_wait)
                    cell.outputs.append(_error("KernelStopped", message))
                    stopped_because = message
                    run_sync(self.km.shutdown_kernel)(now=True)

    def _timed_out(self, cell: NotebookNode) -> bool:
        name = self.error_on_timeout.get("ename") if self.error_on_timeout else None
        return any(out.get("output_type") == "error" and out.get("ename") == name for out in cell.outputs)

    def _kernel_responds(self) -> bool:
        return run_sync(self._async_kernel_responds)()

    async def _async_kernel_responds(self) -> bool:
        """Whether the kernel runs a trivial request within `responsive_wait` seconds."""
        assert self.kc is not None
        msg_id = self.kc.execute("", silent=True, store_history=False)
        deadline = time.monotonic() + self.responsive_wait
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=remaining))
            except queue.Empty:
                return False
            if msg["parent_header"].get("msg_id") == msg_id:
                return True
        return False

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> NotebookNode | None:
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(
            len(str(value)) for kind, value in content.get("data", {}).items() if not kind.startswith("image/"))
        used = self._output_chars.get(cell_index, 0)
        self._output_chars[cell_index] = used + size
        if used > self.max_output_chars:
            return None
        if used + size > self.max_output_chars:
            note = f"\n[output truncated: this cell printed more than {self.max_output_chars:,} characters]\n"
            outs.append(new_output("stream", name="stdout", text=note))
            return None
        return super().output(outs, msg, display_id, cell_index)
