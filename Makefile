# Two commands do all set-up on a fresh machine:
#   make book   create .venv, install everything, execute every chapter (quick profile), render _build/html
#   make test   same set-up, then unit tests + nbval of every chapter + jupytext drift check + book build -W
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Installed before everything else, so that nothing pulls a different (CUDA) build of torch.
# On a CPU-only machine this is the CPU wheel; override with e.g. TORCH_SPEC="torch==2.13.0+cu128".
TORCH_SPEC ?= torch==2.13.0
# Where torch comes from, if not the default index (GitHub Actions: the CPU wheels,
# TORCH_INDEX=https://download.pytorch.org/whl/cpu, since PyPI's Linux wheel is the CUDA build).
TORCH_INDEX ?=

# make test shares its tests between this many workers (tests/schedule.py): one per core, at most four.
# (One more worker than cores was slower on 2 cores: pytest 1314 s against 1026 s, Dec 2026.)
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 4 ? n : 4 )))

export LSL_PROFILE ?= quick
export LSL_PROGRESS ?= 0
export LSL_CACHE_DIR ?= $(CURDIR)/_build/lsl_cache
export PYDEVD_DISABLE_FILE_VALIDATION = 1
# Each profile builds into its own folder, so chapters executed in one profile are never reused in another:
# quick -> _build/html, paper -> _build/paper/_build/html.
BOOK_OUT := $(if $(filter quick,$(LSL_PROFILE)),.,_build/$(LSL_PROFILE))
export LSL_JUPYTER_CACHE := $(BOOK_OUT)/_build/.jupyter_cache

.PHONY: help install book test unit chapters pairs build-book sync clean bench bench-curvature bench-kernels verdicts student records

help:
	@echo "make book   - set up .venv, execute every chapter ($$LSL_PROFILE profile), render _build/html"
	@echo "make test   - set up .venv, run unit tests, nbval every chapter once, check jupytext pairs, build the book with -W,"
	@echo "              open every page in headless Chromium (tests/browser_check.py)"
	@echo "make sync   - re-pair every chapter's .ipynb with its .py twin (jupytext --sync)"
	@echo "make student - the student edition (no exercise solutions) into _build/student"
	@echo "make verdicts - record this build's verdicts (smoke and quick) into book/verdicts, to commit with the change that moved them"
	@echo "make records PROFILE=large - the scale ladder (lsl/book/ladder.py): the scale-sensitive chapters at a rung"
	@echo "              (smoke, quick, medium, large; paper on a GPU) and run seeds SEEDS=\"0 1\", records into book/verdicts;"
	@echo "              resumable; LADDER_ARGS=\"--engine dask --address tcp://host:8786\" runs it on a Dask cluster"
	@echo "make clean  - remove _build (keeps .venv)"
	@echo "make bench  - install the peers (torch pinned), run benchmarks/ -> benchmarks/results.{md,json}; BENCH_ARGS=\"--quick --only tunnel\""
	@echo "make bench-curvature - only the top-20 eigenvalue rows (lsl against every peer); bench-kernels: under each CPU kernel set"

# The toolchain is pinned by constraints.txt (its header says how to update it); its versions need
# Python >= 3.11, which is checked first so that an older Python fails with a clear message.
$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "make: the book toolchain (constraints.txt) needs Python >= 3.11; $(PYTHON) is " + sys.version.split()[0] + ". Run e.g. make test PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[book,test,ladder]"
	@touch $@

install: $(VENV)/.installed

book: install
	$(BIN)/jupyter-book build . --path-output $(BOOK_OUT) --keep-going
	@echo "The book is in $(BOOK_OUT)/_build/html/index.html"

test: install
	$(BIN)/python -m pytest -p tests.nbval_cache -p tests.schedule -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		tests book --nbval-lax --nbval-current-env --durations=25
	$(BIN)/jupyter-book build . --path-output $(BOOK_OUT) -W --keep-going
	$(BIN)/python -m tests.browser_check $(BOOK_OUT)/_build/html --install-browser

unit: install
	$(BIN)/python -m pytest tests

chapters: install
	$(BIN)/python -m pytest -p tests.nbval_cache book --nbval-lax --nbval-current-env

# The student edition: the book without the exercises' solutions (_ext/edition.py), in a folder of its own.
student: install
	LSL_EDITION=student $(BIN)/jupyter-book build . --path-output _build/student --keep-going
	@echo "The student edition is in _build/student/_build/html/index.html"

# The committed verdicts (book/verdicts/<profile>/<chapter>.json): make test fails when a verdict differs from
# them (unless it is borderline); after a deliberate change, this rewrites them from a fresh run, to be
# committed in the same commit as the change.
verdicts: install
	LSL_RECORD_VERDICTS=1 $(BIN)/python -m pytest -p tests.schedule -n $(TEST_WORKERS) tests/test_smoke.py
	LSL_RECORD_VERDICTS=1 $(BIN)/jupyter-book build . --path-output $(BOOK_OUT) --keep-going
	git status --short book/verdicts

# The scale ladder (lsl/book/ladder.py, README "The scale ladder"): outside CI. Each (rung, seed, chapter) is one
# fresh kernel; finished ones are skipped, so an interrupted run resumes. PROFILE names one rung (or several).
PROFILE ?= medium
SEEDS ?= 0 1
LADDER_ARGS ?=
records: install
	$(BIN)/python -m lsl.book.ladder --rungs $(PROFILE) --seeds $(SEEDS) $(LADDER_ARGS)
	git status --short book/verdicts

sync: install
	$(BIN)/jupytext --sync book/*.ipynb

clean:
	rm -rf _build

# Benchmarks (benchmarks/README.md). The peers go into .venv only for this target, never as dependencies
# of lsl: the `bench` extra with torch pinned to $(TORCH_SPEC) by a constraint file, then curvlinops and
# backpack without their dependencies (backpack requires torchvision, which must not be installed here;
# pyproject.toml explains why).
BENCH_NODEPS ?= backpack-for-pytorch==1.7.1 curvlinops-for-pytorch==3.0.1
BENCH_ARGS ?=

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml benchmarks/requirements.txt
	echo "$(TORCH_SPEC)" > $(VENV)/torch-constraint.txt
	$(BIN)/python -m pip install --quiet -c $(VENV)/torch-constraint.txt -e ".[bench]" -r benchmarks/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps $(BENCH_NODEPS)
	@touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# The curvature rows alone (top-20 eigenvalues against every peer), one thread, then the same under each
# of torch's CPU kernel sets this CPU has (ATEN_CPU_CAPABILITY), each row recording its kernels.
bench-curvature: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks.run --only hessian_top20 --devices cpu --threads 1 $(BENCH_ARGS)

bench-kernels: $(VENV)/.bench-installed
	for k in default avx2 avx512; do \
		ATEN_CPU_CAPABILITY=$$k $(BIN)/python -m benchmarks.run --only hessian_top20 --devices cpu --threads 1 $(BENCH_ARGS) || exit 1; \
	done
