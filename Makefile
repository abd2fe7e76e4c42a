# Two commands: `make serve` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test bench golden engines-check clean

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

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
