"""The nbgrader configuration of a stock course: the kit's folders, nbgrader's own preprocessors.

The benchmarks that compare the kit with stock nbgrader write it as a course copy's
`nbgrader_config.py`, so that `nbgrader autograde` there runs nbgrader's kernel-based pipeline.
"""

LAYOUT = """
import os
HERE = os.path.dirname(os.path.abspath(__file__))
c = get_config()
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = os.path.join("records", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("records", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("records", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "records", "gradebook.db")
"""


def stock_config(*settings: str) -> str:
    """The stock configuration, with `settings` (lines of nbgrader configuration) added."""
    return LAYOUT + "".join(line + "\n" for line in settings)
