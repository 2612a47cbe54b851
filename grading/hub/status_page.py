"""The instructor's live page of grading on submission, served by the grading service on the hub.

One page, `/services/grading/`, for the instructor only (JupyterHub's OAuth: the hub grants the
`access:services!service=grading` scope to the course's instructors): for each lab, how many
students have submitted, how many are graded and how many wait; the histogram of the scores that
count so far; and the queue, who is waiting and who is being graded, and for how long. It reloads
itself every few seconds, with no script (the page's Content-Security-Policy forbids them), and
links to each lab's class report. Every name on it is escaped.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

from grading.attempts import Attempt, AttemptPolicy, Ledger

BINS = 10
RELOAD_SECONDS = 5


@dataclass
class LabView:
    """What the page shows of one lab."""

    lab: str
    submitted: int
    graded: int
    waiting: int
    fractions: list[float]  # the scores that count, as fractions of the maximum


def lab_view(ledger: Ledger, policy: AttemptPolicy, waiting: int) -> LabView:
    """The lab's counts and scores, from one reading of its ledger."""
    by_student: dict[str, list[Attempt]] = {}
    for attempt in ledger.attempts().values():
        if attempt.state != "refused":
            by_student.setdefault(attempt.student, []).append(attempt)
    fractions = []
    for attempts in by_student.values():
        counted = policy.one_that_counts(attempts)
        if counted is not None and counted.max_score:
            fractions.append((counted.score or 0.0) / counted.max_score)
    return LabView(ledger.lab, len(by_student), len(fractions), waiting, fractions)


def histogram(fractions: list[float]) -> list[int]:
    """Counts of scores in ten bins of a tenth of the maximum each (the maximum in the last)."""
    counts = [0] * BINS
    for fraction in fractions:
        counts[min(BINS - 1, max(0, int(fraction * BINS)))] += 1
    return counts


def histogram_svg(fractions: list[float]) -> str:
    counts, width, height = histogram(fractions), 24, 80
    top = max(counts) or 1
    bars = []
    for i, count in enumerate(counts):
        bar = round(height * count / top)
        bars.append(
            f"<rect x='{i * width + 2}' y='{height - bar}' width='{width - 4}' height='{bar}'><title>"
            f"{10 * i}-{10 * (i + 1)}%: {count}</title></rect>"
            f"<text x='{i * width + width / 2}' y='{height + 12}' text-anchor='middle'>{10 * i}</text>"
        )
    return (
        f"<svg class='histogram' width='{BINS * width}' height='{height + 16}' role='img'"
        f" aria-label='scores that count, by tenth of the maximum: {', '.join(map(str, counts))}'>{''.join(bars)}</svg>"
    )


def how_long(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def queue_rows(waiting: list[Attempt], grading: dict[str, float], now: float) -> str:
    rows = []
    for attempt in sorted(waiting, key=lambda a: a.seen):
        if attempt.name in grading:
            state = f"being graded for {how_long(now - grading[attempt.name])}"
        else:
            state = "waiting"
        rows.append(
            f"<tr><td>{html.escape(attempt.student)}</td><td>{html.escape(attempt.lab)}</td>"
            f"<td>{attempt.number}</td><td>{state}</td><td>{how_long(now - attempt.seen)}</td></tr>"
        )
    if not rows:
        return "<p>Nobody is waiting.</p>"
    return (
        "<table><tr><th>student</th><th>lab</th><th>attempt</th><th>now</th><th>since handed in</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def render(views: list[LabView], waiting: list[Attempt], grading: dict[str, float], now: float | None = None) -> str:
    """The page, from the labs' views and the service's queue."""
    now = time.time() if now is None else now
    labs = "".join(
        f"<section><h2>{html.escape(v.lab)}</h2><p><b>{v.submitted}</b> submitted, <b>{v.graded}</b> graded,"
        f" <b>{v.waiting}</b> waiting. <a href='report/{html.escape(v.lab)}'>Class report</a></p>"
        f"<p>Scores that count so far (% of the maximum):</p>{histogram_svg(v.fractions)}</section>"
        for v in views
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Grading on submission</title>"
        f"<meta http-equiv='refresh' content='{RELOAD_SECONDS}'>"
        "<style>body{font-family:sans-serif;max-width:48em;margin:1em auto}table{border-collapse:collapse}"
        "td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}.histogram rect{fill:#4a78b5}"
        ".histogram text{font-size:10px}</style></head><body><h1>Grading on submission</h1>"
        f"{labs}<h2>Queue</h2>{queue_rows(waiting, grading, now)}"
        f"<p><small>Updated {time.strftime('%H:%M:%S', time.localtime(now))}; reloads every {RELOAD_SECONDS} s.</small></p>"
        "</body></html>"
    )
