"""nbgrader preprocessors that harden autograding; `nbgrader_config.py` puts them in the pipeline.

- RestoreReleasedCells: rebuild a submission on the released notebook, keeping only answers.
- ExecuteWithLimits: run it with a per-cell time limit and output cap; survive a dead kernel.
- VerifyAnswers: decide each graded function's points in a fresh process, out of the kernel's reach.
"""
from grading.preprocessors.execute_with_limits import ExecuteWithLimits
from grading.preprocessors.restore_released_cells import RestoreReleasedCells
from grading.preprocessors.verify_answers import VerifyAnswers

__all__ = ["ExecuteWithLimits", "RestoreReleasedCells", "VerifyAnswers"]
