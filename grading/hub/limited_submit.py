"""nbgrader's submit, for the students' servers on the hub: no submission past the graded attempts.

The Assignment List's *Submit* refuses a submission past the course's `AttemptPolicy` (all the
lab's graded attempts used, or the hourly limit reached) and shows why, instead of handing in
work that would not be graded. It counts the student's earlier submissions in their own
nbgrader cache, which the student can empty: this only spares them a wasted submission. The
limit itself is the grading service's (`grading.hub.service`), which refuses such a submission
whatever this says, and returns a page that says why.

The hub copies this file into the students' environment (it imports nbgrader, not the kit) and
names it in the students' nbgrader configuration with the course's limits.
"""

import calendar
import os
import time
from glob import glob

from nbgrader.exchange import ExchangeError
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import parse_utc
from traitlets import Int

HOUR = 3600


# The Assignment List shows the error's whole traceback in a dialog that does not wrap lines: the
# message goes on short lines of its own, at the end, where the dialog shows it.
class LimitedSubmit(ExchangeSubmit):
    attempts = Int(3, help="graded attempts per lab").tag(config=True)
    per_hour = Int(0, help="graded attempts per lab in any hour (0: no hourly limit)").tag(config=True)

    def init_dest(self):
        super().init_dest()  # the student's id and their cache's folder
        student, lab = self.assignment_filename.split("+")[0], self.coursedir.assignment_id
        earlier = [
            os.path.basename(path).split("+")[2] for path in glob(os.path.join(self.cache_path, f"{student}+{lab}+*"))
        ]
        if len(earlier) >= self.attempts:
            raise ExchangeError(
                f"\n\nNot submitted: all {self.attempts} graded attempts of {lab} are used.\n"
                "Your grade stays that of the attempt that counts (your feedback says which)."
            )
        now = time.time()
        recent = [stamp for stamp in earlier if now - calendar.timegm(parse_utc(stamp).timetuple()) < HOUR]
        if self.per_hour and len(recent) >= self.per_hour:
            raise ExchangeError(
                f"\n\nNot submitted: {len(recent)} graded attempts of {lab} in the last hour,\n"
                "the most an hour allows: try again later."
            )
