"""Running a class's submitted code: what a worker gets and gives back, where it runs, and how the
coordinator hands the results to nbgrader's pipeline (see `grading.classwork.autograde_class`)."""
