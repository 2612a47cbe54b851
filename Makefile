# The course kit's commands. `make setup` is shared by all the others.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# nbgrader calls `alembic` by name when it creates a gradebook: the environment's bin goes first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export MPLBACKEND ?= Agg
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

LAB ?= anomaly_detection

.PHONY: setup sandbox-check data release demo test test-fast lint grade formgrader hub bench student clean help

help:
	@echo "make setup    create $(VENV), install the kit, fetch and verify the datasets"
	@echo "make test     set up, then run the test suite: the fast tier, then the rest (ARGS=... for pytest's options)"
	@echo "make test-fast  set up, then run the tests that need no sandbox, browser, database, cluster or kernel"
	@echo "make lint     check the code with ruff (lint and format); ruff format . fixes the layout"
	@echo "make demo     set up, then grade a sample class of every lab (in build/demo; UNSAFE=1 without a sandbox)"
	@echo "make release  rebuild the student releases in assignments/ from the masters in solutions/"
	@echo "make grade LAB=<lab>  autograde records/submitted/*/<lab>, write feedback and records/grades.csv"
	@echo "make formgrader  start JupyterLab in the course for nbgrader's formgrader (as root too)"
	@echo "make hub     start the course's JupyterHub on 127.0.0.1 (as root): real accounts, nbgrader's exchange, grading on submission"
	@echo "make bench    print how long each master notebook runs, how fast a class is graded, how many students one grading process can take and how soon a hand-in's feedback comes back (as root)"
	@echo "make student LAB=<lab>  copy the lab's release to ~/course-work/<lab> (keeping your work; WORK=<dir> for another folder) and open it in JupyterLab"

# grading.sandbox.launch.INSTALL_BWRAP says the same, for what runs after set-up
INSTALL_BWRAP := apt-get install bubblewrap (Debian/Ubuntu) or dnf install bubblewrap (Fedora)

setup: $(VENV)/.installed data sandbox-check
	@mkdir -p records/exchange  # stands in for nbgrader's exchange, which the course does not use
	@$(PY) -c 'from pathlib import Path; from grading.verdicts.student_cases import ensure_course_secret; \
		print(f"setup: the course secret, from which each student'"'"'s hidden cases are drawn, is in", \
		ensure_course_secret(Path("records")), "(keep it with the course'"'"'s backups; never commit it)")'
	@echo "setup: done: the kit in $(VENV), the datasets verified, bubblewrap $$(command -v bwrap >/dev/null 2>&1 \
		&& echo 'in place' || echo 'missing (no grading; the tests that need it are skipped)')"

# Grading runs every submission in a bubblewrap sandbox. As root with apt-get (a fresh server, CI),
# set-up installs it; otherwise it says in one line how to get it, and the rest of set-up goes on
# (the tests that need a sandbox are skipped, saying why; the demo says how to run without one).
sandbox-check:
	@command -v bwrap >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "setup: bubblewrap (bwrap) is missing; grading needs it: installing Debian's bubblewrap package"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; } >/dev/null 2>&1 \
				|| { echo "setup: could not install bubblewrap (apt-get install bubblewrap)"; exit 1; }; \
		else \
			echo "setup: bubblewrap (bwrap) is missing; grading needs it: $(INSTALL_BWRAP)"; \
		fi; }

# uv installs the kit in seconds; where it cannot (no uv wheel for this machine, an index only pip
# is configured for), pip does, in a minute or two. Both compile the packages' bytecode: sandboxes
# see the environment read-only, and without it every run would compile each import again. Their own lines are kept in $(VENV)/setup.log;
# the terminal gets a few lines of progress.
$(VENV)/.installed: pyproject.toml
	@echo "setup: creating $(VENV) and installing the kit and its dependencies (uv's or pip's log: $(VENV)/setup.log)"
	@$(PYTHON) -m venv $(VENV)
	@if { $(PY) -m pip install --disable-pip-version-check --progress-bar off uv \
			&& $(VENV)/bin/uv pip install --compile-bytecode --python $(PY) -e '.[test]'; } >$(VENV)/setup.log 2>&1; then \
		echo "setup: $$(grep -o 'Installed [0-9]* packages' $(VENV)/setup.log | tail -n 1 | sed 's/Installed/installed/') with uv"; \
	else \
		echo "setup: uv could not install the kit (the end of $(VENV)/setup.log says why); installing with pip instead"; \
		PYTHONUNBUFFERED=1 $(PY) -m pip install --disable-pip-version-check --progress-bar off -e '.[test]' 2>&1 \
			| tee -a $(VENV)/setup.log | awk -f tools/pip_progress.awk \
			|| { echo "setup: installing failed; the end of $(VENV)/setup.log:"; tail -n 15 $(VENV)/setup.log; exit 1; }; \
	fi
	@touch $@
	@echo "setup: the kit is installed in $(VENV)"

data: $(VENV)/.installed
	$(PY) data/fetch.py

release: setup
	$(PY) -m grading release

demo: setup
	@command -v bwrap >/dev/null 2>&1 || [ -n "$(UNSAFE)" ] || { echo "demo: grading runs each submission in a" \
		"bubblewrap sandbox and bwrap is missing: $(INSTALL_BWRAP); or run the demo without one: make demo UNSAFE=1"; \
		exit 1; }
	$(PY) -m grading demo $(if $(UNSAFE),--unsafe-no-sandbox)

# The fast tier is every test that needs nothing beyond Python (no sandbox, browser, PostgreSQL,
# Dask cluster, kernel or notebook run; markers in pyproject.toml). `make test` runs it first, then
# the rest: each test runs once. A pass that ARGS leaves without a test (pytest's status 5) is fine.
FAST := not (sandbox or browser or postgres or cluster or slow)

test-fast: setup
	$(PY) -m pytest -m "$(FAST)" $(ARGS) || [ $$? -eq 5 ]

test: test-fast
	$(PY) -m pytest -m "not ($(FAST))" $(ARGS) || [ $$? -eq 5 ]

# Ruff's settings are in pyproject.toml; `$(VENV)/bin/ruff format .` applies the layout it checks.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

grade: setup
	$(PY) -m grading autograde $(LAB)
	$(PY) -m grading feedback $(LAB)
	$(PY) -m grading export

formgrader: setup
	$(PY) -m grading formgrader

# The course's JupyterHub (grading/hub/site.py): its proxy, configurable-http-proxy, comes from npm.
HUB_PROXY := .hub-node/node_modules/.bin/configurable-http-proxy
$(HUB_PROXY):
	@command -v npm >/dev/null 2>&1 || { echo "hub: npm is missing; the hub's proxy comes from npm: apt-get install npm"; exit 1; }
	@echo "hub: installing configurable-http-proxy from npm into .hub-node"
	@npm install --silent --no-audit --no-fund --prefix .hub-node configurable-http-proxy >/dev/null

hub: setup $(HUB_PROXY)
	$(PY) -m grading hub $(if $(PORT),--port $(PORT))

bench: setup
	$(PY) benchmarks/notebook_speed.py
	$(PY) benchmarks/class_speed.py
	$(PY) benchmarks/coordinator_ceiling.py --students 1000
	$(PY) benchmarks/sandbox_cost.py
	$(PY) benchmarks/feedback_time.py

# A student's copy of a lab, outside the course (only missing files are copied), opened in
# JupyterLab with the student's tools only: see grading/student.py. No bubblewrap needed.
student: $(VENV)/.installed data
	$(PY) -m grading.student $(LAB) $(if $(WORK),--work-dir "$(WORK)")

clean:
	rm -rf build .pytest_cache
