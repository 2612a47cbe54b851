"""nbgrader configuration of the course: the repository root is the course directory.

Run nbgrader's commands from here (`nbgrader generate_assignment anomaly_detection`, ...).
Masters live in `solutions/`, student releases in `assignments/`, and nbgrader's work
areas and gradebook in `records/` (never committed).
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "anomaly-detection-course"
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = os.path.join("records", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("records", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("records", "feedback")
# The gradebook. SQLite in records/gradebook.db serves one grader at a time; for several graders
# at once, name a PostgreSQL database instead (its driver, psycopg, comes with the kit), e.g.
#     GRADEBOOK = "postgresql+psycopg://grader:PASSWORD@db.example.org:5432/anomaly_gradebook"
# The environment variable COURSE_GRADEBOOK_URL, when set, is used instead of this setting (it
# keeps the password out of this file); see grading/gradebook_url.py.
from grading.gradebook_url import configured_url  # noqa: E402

GRADEBOOK = "sqlite:///" + os.path.join(HERE, "records", "gradebook.db")
c.CourseDirectory.db_url = configured_url(GRADEBOOK)
# Never released, collected or graded: nbgrader's own defaults plus the labs' local caches.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".autoencoder_cache"]

# Autograding: rebuild each submission on the release, run it in a sandbox with limits, keep
# only safe outputs, then let a sandboxed run of each graded function decide its points
# (see grading/preprocessors and grading/sandbox). Named by import path, so that the
# configuration stays plain data (formgrader serialises it).
NBGRADER, KIT = "nbgrader.preprocessors.", "grading.preprocessors."
c.Autograde.sanitize_preprocessors = [
    NBGRADER + "ClearOutput",
    KIT + "RestoreReleasedCells",
    NBGRADER + "DeduplicateIds",
    NBGRADER + "OverwriteKernelspec",
    KIT + "OverwriteCells",
    KIT + "CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    KIT + "ExecuteInSandbox",
    KIT + "SanitizeOutputs",
    NBGRADER + "IgnorePattern",
    NBGRADER + "LimitOutput",
    KIT + "VerifyAnswers",
    KIT + "SaveAutoGrades",
    NBGRADER + "AssignLatePenalties",
    KIT + "CheckCellMetadata",
]
# The late policy (grading/late_policy.py): lateness up to `grace_minutes` costs
# nothing; past it, `per_day` of a notebook's score is lost per day or part of a day, and past
# `zero_after_days` all of it. The lab's due date comes from the gradebook (`nbgrader db
# assignment add LAB --duedate=...`). As set here, lateness is recorded and shown, and costs nothing.
c.AssignLatePenalties.plugin_class = "grading.late_policy.LatePolicy"
c.LatePolicy.grace_minutes = 0
c.LatePolicy.per_day = 0.0
c.LatePolicy.zero_after_days = None
# nbconvert checks the notebook against nbformat's schema after every preprocessor (about 20
# checks per submission); once, after the last, is enough: the submission was read and checked
# when it came in, and a preprocessor that broke the notebook still fails the same way.
c.Exporter.optimistic_validation = True

# Time limits. Seconds one cell may run before it is interrupted (the labs' cells take well
# under a second, the second lab's training about 15 s); seconds it may go on ignoring the
# interrupt before its sandbox is stopped; seconds for the whole notebook. Override per run:
# `python -m grading autograde LAB --timeout 60` or `nbgrader autograde ... --ExecuteInSandbox.timeout=60`.
c.ExecuteInSandbox.timeout = 30
c.ExecuteInSandbox.responsive_wait = 5
c.ExecuteInSandbox.notebook_timeout = 600
# Seconds an exercise's verdict run may take (the labs' take about half a second).
c.VerifyAnswers.timeout = 20
# Output kept of a submission's run: characters of text per cell, bytes of figures per cell and
# bytes in all are ExecuteInSandbox.max_output_chars, max_image_bytes and max_notebook_bytes (their
# defaults, and why, in OutputLimits of grading/sandbox/protocol.py; the README's table of limits);
# lines per output are capped by nbgrader's LimitOutput.
c.LimitOutput.max_lines = 1000

# The sandbox of every process that runs submitted code (grading/sandbox/launch.py): bubblewrap
# with no network, no course files but the lab's release, its own PID namespace, as this
# unprivileged user, with these limits. A run that hits one is recorded with the reason.
c.Sandbox.uid = 65534  # "nobody"; parallel workers take the ids below it, one each
c.Sandbox.memory_mb = 4096  # address space of each process
c.Sandbox.max_processes = 128  # processes and threads of the sandbox user
c.Sandbox.max_file_mb = 64  # largest file written
c.Sandbox.max_open_files = 256
c.Sandbox.cpu_seconds = 600  # CPU time of one run
c.Sandbox.work_mb = 256  # writable lab folder (discarded after the run)
c.Sandbox.tmp_mb = 128  # private /tmp and home, each (discarded after the run)

# nbgrader's exchange: on the course's hub (`make hub`, grading/hub), the folder where students
# fetch labs and hand them in, which the hub names in COURSE_EXCHANGE_ROOT. Without a hub, labs go
# out as the assignments/ folders and come back through zip_collect, and a folder of the course
# stands in for it (`make setup` creates it), so that formgrader does not warn about a missing one.
c.Exchange.root = os.environ.get("COURSE_EXCHANGE_ROOT") or os.path.join(HERE, "records", "exchange")

# Grading on submission (on the hub: grading/hub/service.py): graded attempts per student and lab,
# at most `per_hour` of them in any hour (0: no hourly limit), and the attempt that counts:
# "last_on_time" (the last one handed in on time, else the last) or "last". See grading/attempts.py.
c.AttemptPolicy.attempts = 3
c.AttemptPolicy.per_hour = 0
c.AttemptPolicy.counted = "last_on_time"

# Formgrader's Manage Assignments page shows the loaded configuration when `debug` is on (its
# default); it cannot serialise the Jupyter server's own settings and logs a warning each time.
c.FormgradeExtension.debug = False

# Downloads from a learning platform, one notebook per student named
# `<student_id>_<assignment>.ipynb` (or zip files of them), go in
# records/downloaded/<assignment>/archive; `nbgrader zip_collect <assignment>` files them.
c.ZipCollectApp.downloaded_directory = os.path.join("records", "downloaded")
# One bad file costs only itself: unsafe, too long or repeated names in zips are skipped with a
# warning, and so is a student's second file for a notebook (the first is filed); see grading/classwork/collect.py.
c.ZipCollectApp.extractor_plugin = "grading.classwork.collect.SafeExtractor"
c.ZipCollectApp.collector_plugin = "grading.classwork.collect.FirstSubmissionCollector"
# nbgrader matches this against each file's path in .../<assignment>/extracted/. The
# notebook must be named after the assignment (taken from that path), so the student id
# is all before it, underscores included; an id starts with a letter or digit and holds
# only letters, digits, '.', '_' and '-'. Other files are skipped with a warning.
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<assignment>[^/]+)/extracted/(?:.*/)?"
    r"(?P<student_id>[A-Za-z0-9][A-Za-z0-9._\-]*)_(?P<file_id>(?P=assignment)\.ipynb)$"
)

# `nbgrader export` writes the class's grades here, one row per student and lab, with a status
# column that keeps "not submitted" apart from a score of 0 (grading/reporting/export.py).
c.ExportApp.plugin_class = "grading.reporting.export.CourseCsvExport"
c.ExportPlugin.to = os.path.join(HERE, "records", "grades.csv")

# ---------------------------------------------------------------------------------------------
# Feedback pages (`nbgrader generate_feedback LAB`, `python -m grading feedback LAB`; see
# grading/reporting/feedback_page). After nbgrader's GetGrades: drop the grade cells' hidden tests, replace
# the grading machine's paths in outputs, name each exercise from its grade cell's first line,
# turn the markdown's formulas into MathML, and re-encode the figures with a palette. The page
# comes from the kit's template named `feedback` (nbgrader's API always asks for that name; the kit's folder is searched first): a
# compact stylesheet, no script, a Content-Security-Policy forbidding scripts. nbgrader's own
# template folder stays on the list, and HTMLExporter.template_name is left unset, because
# formgrader reads this file too and needs its `formgrade` template. Named by import path, as above.
from grading.reporting.feedback_page import TEMPLATE_DIRS  # noqa: E402 (the kit's template folder, then nbgrader's)

FEEDBACK = "grading.reporting.feedback_page."
c.GenerateFeedback.preprocessors = [
    NBGRADER + "GetGrades",
    FEEDBACK + "HideHiddenTests",
    FEEDBACK + "ShortenPaths",
    FEEDBACK + "NameExercises",
    FEEDBACK + "RenderMath",
    FEEDBACK + "CompressFigures",
    FEEDBACK + "ShowLateness",
    FEEDBACK + "ShowAttempts",
]
c.HTMLExporter.extra_template_basedirs = TEMPLATE_DIRS
# The pages' HTML is sanitized by nbconvert's filter, each distinct piece once per run.
c.HTMLExporter.filters = {"clean_html": FEEDBACK + "clean_html.clean_html"}
