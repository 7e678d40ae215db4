# Setup and the common jobs. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SAMPLE := datasets/MNIST-5k

.PHONY: help venv sample test test-slow lint demo clean
.DEFAULT_GOAL := help

help:  ## this list of targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 14

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed  ## create .venv with the runtime and dev requirements

sample: venv  ## the offline 5,000-digit real MNIST sample, into datasets/MNIST-5k
	PYTHON=$(PY) ./download_mnist.sh --sample $(SAMPLE)

# Test processes (pytest-xdist): one alone keeps about 1.2 of 2 cores busy (README, Tests).
TEST_JOBS ?= 2

test: sample  ## the default test suite, TEST_JOBS processes (README, Tests)
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadgroup

test-slow: sample  ## the long end-to-end tests only
	$(PY) -m pytest -m slow

lint: venv  ## every pre-commit hook on every file
	PATH="$(abspath $(VENV))/bin:$$PATH" pre-commit run --all-files

demo: sample  ## classifier + GAN on the 5k sample (2 cores: 7-15 min with native bfloat16, longer without; README, Speed), then digits in outputs/
	PYTHON=$(PY) DATA=$(SAMPLE) ./scripts/demo.sh

clean:  ## remove checkpoints, logs, outputs and exported (not the datasets)
	rm -rf checkpoints logs outputs exported
