"""A course directory (the repository root, or a copy of it) and nbgrader configured for it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from grading.errors import CommandError
from grading.gradebook_url import open_gradebook

KIT_ROOT = Path(__file__).resolve().parents[1]
# Where the work areas were kept before they had a folder of their own (records/).
OLD_WORK_AREAS = ("submitted", "autograded", "feedback", "reports", "downloaded", "cache", "cluster", "gradebook.db")


@dataclass(frozen=True)
class Course:
    """The folders of an nbgrader course laid out as in this kit (see `nbgrader_config.py`)."""

    root: Path = KIT_ROOT

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def releases(self) -> Path:
        return self.root / "assignments"

    @property
    def records(self) -> Path:
        """The course's own records, never committed: nbgrader's work areas, the gradebook, reports, cache."""
        return self.root / "records"

    @property
    def submitted(self) -> Path:
        return self.records / "submitted"

    @property
    def autograded(self) -> Path:
        return self.records / "autograded"

    @property
    def feedback(self) -> Path:
        return self.records / "feedback"

    @property
    def cache(self) -> Path:
        """The lab cache, filled from the masters' runs (`grading.classwork.lab_cache`)."""
        return self.records / "cache"

    @property
    def reports(self) -> Path:
        return self.records / "reports"

    @property
    def grades_csv(self) -> Path:
        return self.records / "grades.csv"

    def check_work_areas(self) -> None:
        """A `CommandError` if work areas are still where older versions of the kit kept them."""
        old = [name for name in OLD_WORK_AREAS if (self.root / "grading" / name).exists()]
        if old:
            raise CommandError(
                f"the course's records moved from grading/ to records/: move {', '.join('grading/' + n for n in old)}"
                f" there (mv grading/{old[0]} records/), then run the command again"
            )

    def labs(self) -> list[str]:
        """Assignment ids: every folder of `solutions/` holding a notebook of the same name."""
        return sorted(folder.name for folder in self.solutions.iterdir() if (folder / f"{folder.name}.ipynb").is_file())

    def students(self, lab: str) -> list[str]:
        """Ids of the students with a submission folder for `lab`."""
        if not self.submitted.is_dir():
            return []
        return sorted(folder.name for folder in self.submitted.iterdir() if (folder / lab).is_dir())

    def all_students(self) -> list[str]:
        """Ids of the students with a submission folder (of any lab)."""
        if not self.submitted.is_dir():
            return []
        return sorted(folder.name for folder in self.submitted.iterdir() if folder.is_dir())

    def submission(self, lab: str, student: str) -> Path:
        return self.submitted / student / lab / f"{lab}.ipynb"

    def autograded_notebook(self, lab: str, student: str) -> Path:
        return self.autograded / student / lab / f"{lab}.ipynb"

    def nbgrader_api(self, register_students: bool = True, **overrides: object):
        """An `NbGraderAPI` with this course's configuration plus `overrides` ({"Class.trait": value}).

        Opens the configured gradebook first: a one-line `GradebookUnavailable` when it cannot (and
        a one-line `CommandError` for a late policy set wrong); and, unless told not to (a command
        that only reads it), registers the students who submitted."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        from grading.late_policy import check_late_policy

        put_environment_on_path()
        self.check_work_areas()
        self.records.mkdir(exist_ok=True)  # where the gradebook lives
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        for key, value in overrides.items():
            section, trait = key.split(".")
            setattr(config[section], trait, value)
        check_late_policy(config)
        coursedir = CourseDirectory(config=config)
        open_gradebook(coursedir.db_url, coursedir.course_id, self.all_students() if register_students else [])
        return NbGraderAPI(coursedir=coursedir, config=config)


def put_environment_on_path() -> None:
    """nbgrader runs `alembic` by name when it creates a gradebook: it must be on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
