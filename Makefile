# nstjax: `make demo` and `make test` are the whole quick start (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export OPENBLAS_NUM_THREADS ?= 1
export WANDB_MODE ?= offline
export XLA_PYTHON_CLIENT_PREALLOCATE ?= false

.PHONY: install weights demo test fuzz bench readme-images clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

weights: install
	$(VENV)/bin/nstjax-weights fetch

demo: weights
	$(VENV)/bin/nstjax hydra.run.dir=outputs/demo
	@echo "Your stylised image: $(CURDIR)/outputs/demo/final.png"

test: weights
	$(PY) -m pytest -q

# Random exploration with many more examples; CI's `make test` draws the same examples every run.
fuzz: weights
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -k "hypothesis or validation or resize or mode" tests/test_robustness.py tests/test_images.py

bench: weights
	$(PY) scripts/bench.py
	$(PY) scripts/bench_sweeps.py

clean:
	rm -rf outputs multirun .pytest_cache
