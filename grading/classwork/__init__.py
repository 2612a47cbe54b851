"""A class's grading, from the submissions to the gradebook: the coordinator's side.

- `intake`: what a submission folder may hold before anything reads it (`refusal`).
- `collect`: nbgrader's zip collect, with a safe extractor and the first submission kept.
- `journal`: who is graded, so that a stopped grading resumes where it stopped.
- `lab_cache`: the master's run of each lab, kept once for the whole class.
- `prepare`: the code nbgrader is about to run for a student, as work for a worker.
- `autograde_class`: the coordinator, which reads as its steps: check the sandbox, register the
  lab, fill the cache, choose the students, grade on the pool, write the reports.
"""
