"""nbgrader configuration of the course: the repository root is the course directory.

Run nbgrader's commands from here (`nbgrader generate_assignment anomaly_detection`, ...).
Masters live in `solutions/`, student releases in `assignments/`, and nbgrader's work
areas and gradebook under `grading/`.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, IgnorePattern,
    LimitOutput, OverwriteCells, OverwriteKernelspec, SaveAutoGrades,
)

from grading.preprocessors import ExecuteWithLimits, RestoreReleasedCells, VerifyAnswers

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

# Labs may cache costly results (a trained network) that every submission's notebook would
# otherwise recompute; the kernels nbgrader starts inherit this folder of the course.
os.environ["COURSE_KIT_CACHE_DIR"] = os.path.join(HERE, "grading", "cache")

c.CourseDirectory.course_id = "anomaly-detection-course"
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = os.path.join("grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "grading", "gradebook.db")
# Never released, collected or graded: nbgrader's own defaults plus the labs' local caches.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".autoencoder_cache"]

# Autograding: rebuild each submission on the release, run it with limits, then let an
# isolated run of each graded function decide its points (see grading/preprocessors).
c.Autograde.sanitize_preprocessors = [
    ClearOutput, RestoreReleasedCells, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    ExecuteWithLimits, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, VerifyAnswers,
    SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]

# Grading kernels log only errors to the grader's terminal (not to the notebooks).
c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]

# Seconds one cell may run before it is interrupted; kept short because the lab's cells
# take well under a second. Override per run: `nbgrader autograde ... --Execute.timeout=60`.
c.Execute.timeout = 30
# Characters of output kept per cell; lines are capped by nbgrader's LimitOutput.
c.ExecuteWithLimits.max_output_chars = 100_000
c.LimitOutput.max_lines = 1000
# Seconds an exercise's isolated run may take (the lab's take about half a second).
c.VerifyAnswers.timeout = 20

# Downloads from a learning platform, one notebook per student named
# `<student_id>_<assignment>.ipynb` (or zip files of them), go in
# grading/downloaded/<assignment>/archive; `nbgrader zip_collect <assignment>` files them.
c.ZipCollectApp.downloaded_directory = os.path.join("grading", "downloaded")
# nbgrader matches this against each file's path in .../<assignment>/extracted/. The
# notebook must be named after the assignment (taken from that path), so the student id
# is all before it, underscores included; an id starts with a letter or digit and holds
# only letters, digits, '.', '_' and '-'. Other files are skipped with a warning.
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<assignment>[^/]+)/extracted/(?:.*/)?"
    r"(?P<student_id>[A-Za-z0-9][A-Za-z0-9._\-]*)_(?P<file_id>(?P=assignment)\.ipynb)$"
)

# `nbgrader export` writes the class's grades here.
c.CsvExportPlugin.to = os.path.join(HERE, "grading", "grades.csv")
