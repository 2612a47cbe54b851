"""What a graded class looks like to its readers; everything here reads the grader's own records.

- `results`: a student's result, the model the coordinator writes and the reports read.
- `incidents`: what the grader saw go wrong in a run, and the note an instructor reads for it.
- `report`: the class table on the terminal (`python -m grading report`).
- `class_report`: the instructor's HTML page of a graded lab.
- `export`: nbgrader's CSV export with a column for "not submitted".
- `feedback_page/`: the student's feedback page (nbgrader's generate_feedback, hardened).
"""
