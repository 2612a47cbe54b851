"""nbgrader preprocessors that harden autograding; `nbgrader_config.py` puts them in the pipeline.

- RestoreReleasedCells: rebuild a submission on the released notebook, keeping only answers.
- ExecuteInSandbox: run its cells in a sandbox, with time limits and output caps.
- SanitizeOutputs: strip scripts and other active content from HTML outputs.
- VerifyAnswers: decide each graded function's points from a separate sandboxed run.
- OverwriteCells: nbgrader's restoring of locked cells and points, reading the gradebook once per notebook.
- SaveAutoGrades: nbgrader's saving of automatic grades and comments, in three queries and one commit.
- CheckCellMetadata: nbgrader's check of the cells' metadata, with its schema built once.

`own_time` holds the rule both run-starting steps share: a limit counts its run's own time.
"""

from grading.preprocessors.check_cell_metadata import CheckCellMetadata
from grading.preprocessors.execute_in_sandbox import ExecuteInSandbox
from grading.preprocessors.overwrite_cells import OverwriteCells
from grading.preprocessors.restore_released_cells import RestoreReleasedCells
from grading.preprocessors.sanitize_outputs import SanitizeOutputs
from grading.preprocessors.save_auto_grades import SaveAutoGrades
from grading.preprocessors.verify_answers import VerifyAnswers

__all__ = [
    "CheckCellMetadata",
    "ExecuteInSandbox",
    "OverwriteCells",
    "RestoreReleasedCells",
    "SanitizeOutputs",
    "SaveAutoGrades",
    "VerifyAnswers",
]
