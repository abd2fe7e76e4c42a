# Two commands: `make serve` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test bench bench-peers golden engines-check clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The HTTP API on 127.0.0.1:8080 under gunicorn, with the bundled policies and payers.
serve: $(STAMP)
	$(BIN)/supportable serve --host 127.0.0.1 --port 8080

test: $(STAMP)
	$(BIN)/python -m pytest

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
