"""A warm sandbox serves many students' runs one after another: nothing of one run reaches the next.

(Each channel between runs, shown against the same code without the defence, is in
`tests/test_run_isolation.py`.)

Each test runs real notebook cells in a real bubblewrap sandbox (`grading.sandbox.warm`), the
first run doing what a student's code could to leave something behind, the next one looking for
it. One warm sandbox serves the whole module, as a worker serves a class.
"""

from __future__ import annotations

import json
import logging

import pytest

from grading.execution.notebook_run import TimeLimits, follow_notebook
from grading.sandbox.launch import HOME, Mounts, Sandbox
from grading.sandbox.protocol import OutputLimits
from grading.sandbox.warm import ColdRun, WarmSandbox

pytestmark = pytest.mark.sandbox

LAB = f"{HOME}/lab"
TIMES = TimeLimits(cell=10, responsive_wait=3, notebook=60)


@pytest.fixture(scope="module")
def lab_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab")
    (folder / "utils.py").write_text("ANSWER = 42\n")
    return folder


@pytest.fixture(scope="module")
def warm(lab_folder):
    mounts = Mounts(work=LAB, read_only={lab_folder / "utils.py": f"{LAB}/utils.py"})
    sandbox = WarmSandbox(Sandbox(), mounts, {})
    yield sandbox
    sandbox.stop()


def run_cells(sandbox: WarmSandbox, *sources: str) -> list[str]:
    """Each cell's text output (errors as 'ename: evalue')."""
    request = {"cells": [{"index": i, "source": source} for i, source in enumerate(sources)], "cell_timeout": 10}
    run = sandbox.run("notebook", json.dumps(request).encode())
    try:
        result = follow_notebook(run, request, OutputLimits(), TIMES, "a test", logging.getLogger("test"))
    finally:
        run.close()
    texts = []
    for index in range(len(sources)):
        outputs = result["cells"].get(str(index), {}).get("outputs", [])
        texts.append(
            "".join(
                o.get("text", "") or f"{o.get('ename')}: {o.get('evalue')}"
                if o["output_type"] != "execute_result"
                else o["data"]["text/plain"]
                for o in outputs
            )
        )
    return texts


def test_runs_share_the_warm_start_but_not_their_state(warm):
    first = run_cells(warm, "import utils\nutils.ANSWER = 0\nsecret = 'left by the first'\nprint(utils.ANSWER)")
    second = run_cells(warm, "import utils\nprint(utils.ANSWER, 'secret' in globals())")
    assert first == ["0\n"] and second == ["42 False\n"]


def test_files_written_anywhere_are_gone_for_the_next_run(warm):
    wrote = run_cells(
        warm,
        "import os\n"
        "for path in ('/tmp/left', os.path.expanduser('~/left'), 'left', '/dev/shm/left'):\n"
        "    try:\n        open(path, 'w').write('x')\n        print('wrote', path)\n"
        "    except OSError as error:\n        print('could not write', path, error.errno)\n"
        "os.makedirs('sub/deeper', exist_ok=True); os.chmod('sub', 0)",
    )
    assert wrote[0].count("wrote") >= 3, wrote
    # /tmp may hold the Python environment's folder, when the course lives there: only 'left' matters
    found = run_cells(
        warm,
        "import os\nprint('left' in os.listdir('/tmp'), sorted(os.listdir('.')),"
        " os.path.exists(os.path.expanduser('~/left')), os.path.exists('/dev/shm/left'))",
    )
    assert found == ["False ['utils.py'] False False\n"], found


def test_a_process_left_behind_is_stopped_before_the_next_run(warm):
    started = run_cells(
        warm,
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time, os\\n"
        'time.sleep(1.5)\\nopen("/tmp/late", "w").write("x")\'], start_new_session=True)\n'
        "print('started', p.pid)",
    )
    assert started[0].startswith("started"), started
    later = run_cells(
        warm,
        "import time, os\ntime.sleep(2.5)\nprint(os.path.exists('/tmp/late'),"
        " sorted(p for p in os.listdir('/proc') if p.isdigit()) != [])",
    )
    assert later == ["False True\n"], later


def test_the_server_cannot_be_read_by_a_run(warm):
    seen = run_cells(
        warm,
        "import os\nparent = os.getppid()\n"
        "try:\n    open(f'/proc/{parent}/environ', 'rb').read()\n    print('read')\n"
        "except OSError as error:\n    print('refused', error.errno)",
    )
    assert seen[0].startswith("refused"), seen


def test_a_run_sees_only_its_own_processes_and_cannot_touch_its_supervisor(warm):
    seen = run_cells(
        warm,
        "import os, resource, signal\n"
        "print(os.getppid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        "for attempt in (lambda: resource.prlimit(1, resource.RLIMIT_CPU, (1, 1)),\n"
        "                lambda: os.kill(1, signal.SIGKILL)):\n"
        "    try:\n        attempt(); print('changed')\n"
        "    except OSError as error:\n        print('refused', error.errno)",
    )
    assert seen == ["1 [1, 2]\nrefused 1\nrefused 1\n"], seen


def test_a_run_that_kills_everything_it_can_reaches_nothing_but_itself(warm):
    before = warm.starts
    survived = run_cells(
        warm,
        "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\nprint('still here')",
        "os.kill(os.getpid(), signal.SIGKILL)",
    )
    assert survived[0] == "still here\n" and "DeadKernelError" in survived[1], survived
    assert run_cells(warm, "print('fine')") == ["fine\n"] and warm.starts == before


def test_a_warm_run_gives_what_a_cold_run_gives(warm, lab_folder):
    cells = (
        "import numpy as np\nx = np.arange(6).reshape(2, 3)\nprint(x.sum(axis=0))",
        "x.mean()",
        "raise ValueError('shown as in a kernel')",
    )
    request = {"cells": [{"index": i, "source": source} for i, source in enumerate(cells)], "cell_timeout": 10}
    mounts = Mounts(work=LAB, read_only={lab_folder / "utils.py": f"{LAB}/utils.py"})
    cold = ColdRun(Sandbox(), mounts, "notebook", json.dumps(request).encode(), {})
    try:
        cold_result = follow_notebook(cold, request, OutputLimits(), TIMES, "a test", logging.getLogger("test"))
    finally:
        cold.close()
    warm_run = warm.run("notebook", json.dumps(request).encode())
    try:
        warm_result = follow_notebook(warm_run, request, OutputLimits(), TIMES, "a test", logging.getLogger("test"))
    finally:
        warm_run.close()
    assert warm_result == cold_result


def test_a_cell_past_its_time_shows_one_error_with_the_students_frames_and_none_of_the_runners(warm):
    request = {
        "cells": [{"index": 0, "source": "def spin():\n    while True:\n        pass\nspin()"}],
        "cell_timeout": 1,
    }
    run = warm.run("notebook", json.dumps(request).encode())
    try:
        result = follow_notebook(
            run,
            request,
            OutputLimits(),
            TimeLimits(cell=1, responsive_wait=3, notebook=30),
            "a test",
            logging.getLogger("test"),
        )
    finally:
        run.close()
    outputs = result["cells"]["0"]["outputs"]
    assert [output["ename"] for output in outputs] == ["CellTimeoutError"], outputs
    traceback = outputs[0]["traceback"]
    assert traceback[-1] == "CellTimeoutError: The cell ran past its time limit of 1 s and was interrupted."
    assert any("in spin()" in frame for frame in traceback[:-1])
    assert not any("notebook_runner" in frame or "_on_alarm" in frame for frame in traceback)
