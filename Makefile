# Two commands: `make serve` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.browser-installed

.PHONY: serve test browser screenshots bench bench-peers golden engines-check clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The HTTP API on 127.0.0.1:8080 under gunicorn, with the bundled policies and payers.
serve: $(STAMP)
	$(BIN)/supportable serve --host 127.0.0.1 --port 8080

# The suite in TEST_WORKERS processes (pytest-xdist), each taking whole test files (their servers, clusters
# and browser are started once per file): most of the slow tests wait on servers they start, so two
# processes on two cores about halve the wall time. `make test TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= 2
test: $(STAMP) $(BROWSER_STAMP)
	$(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# The browser tests' own set-up: Debian's chromium and chromium-driver (apt-get, as root, when either is
# missing; never a browser download of Selenium's own) and Selenium pinned in requirements-browser.lock.
# Not root and missing: a warning here, and the browser tests skip (under CI=true they fail).
browser: $(BROWSER_STAMP)
$(BROWSER_STAMP): $(STAMP) requirements-browser.lock
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else echo "make browser: chromium and chromium-driver are missing; install them (as root: apt-get install chromium chromium-driver) to run the browser tests" >&2; fi; \
	fi
	$(BIN)/python -m pip install --quiet -r requirements-browser.lock
	touch $(BROWSER_STAMP)

# A screenshot of every page, in var/screenshots/ (not committed), for a reviewer to look at.
screenshots: $(BROWSER_STAMP)
	$(BIN)/python tests/screenshots.py var/screenshots

# Every corpus encounter under every payer against tests/data/golden.json (make test checks a sample).
golden: $(STAMP)
	$(BIN)/python tests/golden.py --check --all

# Both engines (pyDatalog, the reference, and the evaluation plan) on every corpus encounter under
# every payer: identical models and decisions with full proofs (make test checks the sample).
engines-check: $(STAMP)
	$(BIN)/python tests/engines_check.py --all

bench: $(STAMP)
	$(BIN)/python bench/bench_engine.py

# The peers' small claim policy side by side (clingo, Rego, Cedar, Python, both our evaluators), in a
# venv of its own: the peers are optional benchmark dependencies (requirements-bench.lock), never runtime ones.
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
$(BENCH_STAMP): requirements.lock requirements-bench.lock pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r requirements.lock -r requirements-bench.lock
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(BENCH_STAMP)

bench-peers: $(BENCH_STAMP)
	PYTHONPATH=. $(BENCH_VENV)/bin/python bench/bench_peers.py --require-all $(BENCH_PEERS_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache build *.egg-info
