# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
# Debian's chromium, for the browser tests; nothing to install elsewhere than Linux, where
# those tests skip.
CHROMIUM := /usr/bin/chromium
ifeq ($(shell uname -s),Linux)
BROWSER := $(CHROMIUM)
endif

.PHONY: demo test static-checks lint typecheck unit backend-test bench clean skill-folder screenshot dist completions docs

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The demo ends with the HTML report: the runtime install takes its extra (plotly).
$(RUNTIME_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[report]'
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(RUNTIME_STAMP)

demo: $(RUNTIME_STAMP)
	$(PY) examples/demo_workflow.py

# The Phoenix venv of backend-test (~90 s of pip, once per checkout) and Debian's chromium
# (the browser tests') install beside our own venv, lint and the type check, which leave the
# second core free; the tests then have the machine to themselves.
test:
	$(MAKE) --no-print-directory -j2 --output-sync=target static-checks dist docs $(PHOENIX_STAMP) \
		$(BROWSER)
	$(MAKE) --no-print-directory unit backend-test

static-checks: lint typecheck

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

# Independent tests run on $(WORKERS) processes (pytest-xdist); the `serial` ones (racing
# writers, kills timed to the millisecond) run after them alone. Both add to one coverage
# measurement, whose threshold is checked once, on the whole.
WORKERS ?= 2
# The package is compiled once first: where PYTHONDONTWRITEBYTECODE is set (as on these
# machines) no process writes its bytecode, so every child process the tests start would
# compile the whole package from source again, 0.1 s each. (A .pyc older than its source is
# ignored as usual.)
# The browser tests run in a pytest run of their own: Playwright's sync API keeps an asyncio
# loop running in the thread that opened the browser, for as long as the browser lives (one
# per worker), and every later asyncio.run() in that process then fails.
unit: $(DEV_STAMP) $(BROWSER)
	rm -f .coverage .coverage.*
	$(PY) -m compileall -q src
	$(VENV)/bin/pytest -n $(WORKERS) --dist worksteal \
		-m "not serial and not backend and not browser" \
		--cov=betty_telemetry --cov-report= --cov-fail-under=0
	$(VENV)/bin/pytest -n $(WORKERS) --dist worksteal -m "browser" \
		--cov=betty_telemetry --cov-append --cov-report= --cov-fail-under=0
	$(VENV)/bin/pytest -p no:xdist -m serial --cov=betty_telemetry --cov-append \
		--cov-report=term-missing --cov-fail-under=95

# The browser tests (tests/browser.py) drive Debian's chromium, installed here when it is
# missing, as CI's clean machine has it: the file itself is the target, so a machine that
# has it never runs apt (CHROMIUM and BROWSER are set at the top: make reads a rule's
# prerequisites where the rule stands). apt's output is shown only if the install fails.
$(CHROMIUM):
	@log=$$(mktemp) && \
	if { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
		--no-install-recommends chromium; } >"$$log" 2>&1; then rm -f "$$log"; \
	else cat "$$log" >&2; rm -f "$$log"; \
		echo "make: could not install Debian's chromium (the browser tests need $@):" \
			"run as root on Debian/Ubuntu, or install the 'chromium' package yourself" >&2; \
		exit 1; fi

# The `backend` tests export to a real tracing backend, Arize Phoenix (issue 12). It gets a
# venv of its own, from exact pins, so its ~140 dependencies never mix with ours; the stamp is a
# copy of the pins, which the tests compare to tell a stale install. Cost, measured: installing
# ~90 s and 860 MB once per clean checkout; starting ~25 s and ~500 MB once per session. Run in
# one process, after `unit`: under xdist each worker would start its own Phoenix.
PHOENIX_VENV := .venv-phoenix
PHOENIX_REQS := tests/backend/requirements-phoenix.txt
PHOENIX_STAMP := $(PHOENIX_VENV)/.installed

$(PHOENIX_STAMP): $(PHOENIX_REQS)
	rm -rf $(PHOENIX_VENV)
	$(PYTHON) -m venv $(PHOENIX_VENV)
	$(PHOENIX_VENV)/bin/python -m pip install --quiet -r $(PHOENIX_REQS)
	cp $(PHOENIX_REQS) $@

backend-test: $(DEV_STAMP) $(PHOENIX_STAMP)
	$(VENV)/bin/pytest -p no:xdist -m backend

bench: $(DEV_STAMP)
	$(PY) bench/run.py
	$(PY) bench/decorator.py
	$(PY) bench/peers.py
	$(PY) bench/instructions.py
	$(PY) bench/redaction.py
	$(PY) bench/throughput.py
	$(PY) bench/read.py
	$(PY) bench/stores.py
	$(PY) bench/rotation.py
	$(PY) bench/lifecycle.py
	$(PY) bench/sql.py
	$(PY) bench/checking.py
	$(PY) bench/cli_stream.py
	$(PY) bench/cli_capture.py
	$(PY) bench/export.py
	$(PY) bench/hook.py
	$(PY) bench/html_report.py

# The Betty skill folder with the package inside it (pure Python), to copy by hand into
# skills/telemetry.capture/ of a Betty checkout; `betty-telemetry install-skill CHECKOUT`
# does the copy itself (with a backup of the folder it replaces).
SKILL_FOLDER := dist/telemetry.capture

skill-folder: $(RUNTIME_STAMP)
	rm -rf $(SKILL_FOLDER)
	$(PY) -m betty_telemetry install-skill --output $(SKILL_FOLDER)

clean:
	rm -rf $(VENV) $(PHOENIX_VENV) .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache demo site

# The README's picture of the HTML report, taken by the browser test that checks it.
screenshot: $(DEV_STAMP) $(BROWSER)
	REPORT_SCREENSHOT=$(CURDIR)/docs/report.png $(VENV)/bin/pytest -q -p no:cacheprovider \
		tests/test_report_browser.py -k readme_screenshot

# The sdist and the wheel, as they would be published: built by hatchling (the build backend,
# in the dev venv: no download), checked by twine (metadata, the README as PyPI renders it),
# and the wheel installed into a fresh venv whose command must answer.
dist: $(DEV_STAMP)
	rm -rf dist
	$(VENV)/bin/hatchling build -d dist
	$(VENV)/bin/twine check --strict dist/*
	rm -rf dist/.venv-check
	$(PYTHON) -m venv dist/.venv-check
	dist/.venv-check/bin/pip install --quiet --no-deps dist/*.whl
	dist/.venv-check/bin/betty-telemetry --version
	rm -rf dist/.venv-check

# The shell completion scripts (bash, zsh, fish), generated from the parser by shtab and
# committed: run after changing a command or an option (tests/test_completion.py fails until).
completions: $(DEV_STAMP)
	$(PY) tools/completions.py

# The documentation site (mkdocs.yml, the pages in docs/, the API page from the docstrings),
# built into site/ in strict mode: any warning fails, and the validation settings make a link
# to a missing page or to an anchor no heading has a warning. Never --quiet: it drops warnings
# before strict mode counts them, and the build passes. Material's banner about MkDocs 2 is no
# warning of ours: NO_MKDOCS_2_WARNING keeps it off the output.
docs: $(DEV_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --clean
