# Two commands do all set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
WHEELS := $(HOME)/.cache/assistant/wheels
LLAMA := llama-cpp-python==0.3.36
STAMP := $(VENV)/.installed

.PHONY: install run ingest serve test test-fast lint bench browser clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or make PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# the CPU build of torch lies on this machine's disk; installing it first stops pip taking a CUDA build
	$(PIP) install -q torch==2.13.0
	# llama.cpp must not be built for the native CPU (AMX kernels segfault): build once, cache the wheel
	@mkdir -p $(WHEELS)
	@ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || { \
	  echo "building $(LLAMA) (about 5 minutes, once)"; \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) wheel -q --no-deps $(LLAMA) -w $(WHEELS); }
	$(PIP) install -q --prefer-binary --find-links $(WHEELS) -e ".[dev]"
	touch $(STAMP)

ingest: install
	$(PY) ingest.py

serve: install
	$(PY) -m assistant serve

run: ingest serve

lint: install
	$(VENV)/bin/ruff check .

# Debian's chromium for the browser test; if apt cannot install it, that test is skipped with the reason
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
	  || echo "chromium could not be installed: the browser test will be skipped"; }

test: install lint browser
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

# the tests that need neither the language model nor a server: a quick loop while editing (not a substitute)
test-fast: install lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not llm and not server and not slow"

# every benchmark (about 30 minutes on 2 quiet cores), each writing bench/out/<name>.json, then one table
# in bench/RESULTS.md; run it on an otherwise idle machine, or the timings measure the other work too
bench: install
	$(PY) bench/ingest.py
	$(PY) bench/retrieval.py
	$(PY) bench/answer.py
	$(PY) bench/ui_load.py
	$(PY) bench/summary.py

clean:
	rm -rf $(VENV) data
