"""`grading.hub.inbox`: which folders of the exchange's inbound are complete submissions, what their
names claim, and the service's own time for them."""

from __future__ import annotations

import time

from grading.hub import inbox

LAB = "anomaly_detection"


def handed_in(inbound, name: str, secret: str = "f00d") -> None:
    folder = inbound / name
    folder.mkdir(parents=True)
    (folder / f"{LAB}.ipynb").write_text("{}")
    (folder / "submission_secret.txt").write_text(secret)


def test_a_folder_whose_secret_is_not_written_yet_is_left_for_the_next_look(tmp_path):
    handed_in(tmp_path, f"ada+{LAB}+2026-12-01 10:00:00.000000 UTC+ab12", secret="")
    assert inbox.waiting(tmp_path, [LAB], set()) == []
    (tmp_path / f"ada+{LAB}+2026-12-01 10:00:00.000000 UTC+ab12" / "submission_secret.txt").write_text("f00d")
    assert [h.student for h in inbox.waiting(tmp_path, [LAB], set())] == ["ada"]


def test_only_new_submissions_of_the_labs_served_are_waiting(tmp_path):
    handed_in(tmp_path, f"ada+{LAB}+t+1")
    handed_in(tmp_path, "ada+another_lab+t+2")
    handed_in(tmp_path, f"bob+{LAB}+t+3")
    handed_in(tmp_path, "not-a-submission")
    assert [h.name for h in inbox.waiting(tmp_path, [LAB], {f"bob+{LAB}+t+3"})] == [f"ada+{LAB}+t+1"]


def test_a_name_is_read_as_nbgrader_writes_it_and_its_time_is_never_believed(tmp_path):
    assert inbox.parse_name(f"a+b+{LAB}+2020-01-01 00:00:00 UTC+r4nd") == ("a+b", LAB)
    assert inbox.parse_name(f"+{LAB}+t+r") is None
    handed_in(tmp_path, f"ada+{LAB}+1999-01-01 00:00:00.000000 UTC+ab12")
    (handed,) = inbox.waiting(tmp_path, [LAB], set())
    now = time.time()
    assert now - 5 < inbox.first_seen(handed, now) <= now
    assert inbox.timestamp_text(0.0) == "1970-01-01 00:00:00.000000 UTC"
