# nstjax: `make demo` and `make test` are the whole quick start (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export OPENBLAS_NUM_THREADS ?= 1
export WANDB_MODE ?= offline
export XLA_PYTHON_CLIENT_PREALLOCATE ?= false

.PHONY: install weights demo test docs lint typecheck fuzz bench bench-compare figures verdicts readme-images \
	measure-methods measure-optimizers measure-largest measure-tiling measure-flow video-figure run-noise clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,docs,dev]'
	touch $@

install: $(VENV)/.installed

weights: install
	$(VENV)/bin/nstjax-weights fetch

demo: weights
	$(VENV)/bin/nstjax hydra.run.dir=outputs/demo
	@echo "Your stylised image: $(CURDIR)/outputs/demo/final.png"

# lint (ruff, mypy) and the strict docs build first: a minute, and they fail before the tests start. The tests run
# in two processes, a file each at a time: most of a test is XLA compiling on one core, so two fill two cores
# (17.3 min in one process, 12.8 in two, on a 2-core AMD EPYC Zen 3, with a warm compilation cache; CI has none:
# 12.6-13.6 min of pytest, ~14 in all with lint and docs, on the same CPU, AVX2).
test: weights lint docs
	$(PY) -m pytest -q -n 2 --dist loadfile

# The documentation site (docs/, Sphinx + MyST): warnings are errors, so a broken link, reference or docstring
# fails here and in `make test`. Needs neither the network nor the weights (about 20 s on a 2-core AMD EPYC Zen 3).
docs: install
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "The documentation: $(CURDIR)/docs/_build/html/index.html"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

typecheck: install
	$(VENV)/bin/mypy

# Random exploration with many more examples; CI's `make test` draws the same examples every run.
fuzz: weights
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -k "hypothesis or validation or resize or mode" tests/test_robustness.py tests/test_images.py

bench: weights
	$(PY) scripts/bench.py
	$(PY) scripts/bench_sweeps.py

# The whole nstjax-compare command against a bare PyTorch eager loop (docs/performance.md); BEFORE=COMMIT measures
# that commit beside this checkout. Writes docs/results/throughput.json. Tens of minutes: run it on a quiet machine.
bench-compare: weights
	$(PY) scripts/bench_compare.py $(if $(BEFORE),--before $(BEFORE))

# Every figure of docs/figures, regenerated under today's defaults, each with its JSON (hardware, date, commit).
# Hours on a 2-core CPU (docs/reproducing.md): EXPERIMENTS="init normalized" make figures for a few.
figures: weights
	scripts/figures.sh

# The verdicts README states, each with its record in docs/results/ (scripts/verdicts.sh; resumable).
verdicts: weights
	scripts/verdicts.sh

# The measurements behind single numbers in the docs, one target each; what each prints (JSON) is the record,
# kept in docs/results/ with the CPU's name (lscpu) when docs quote it. Each is minutes on a 2-core CPU.
MEASURED = docs/results/measured
measure-methods: weights  # the methods' cost per evaluation against gram, and remd/cx's sample sizes
	mkdir -p $(MEASURED)
	$(PY) scripts/bench_remd_cx.py | tee $(MEASURED)/methods_cost.txt
	$(PY) scripts/scale_remd_cx.py | tee $(MEASURED)/remd_cx_scale.txt
measure-optimizers: weights  # L-BFGS against the other optimisers (docs/getting-started.md)
	mkdir -p $(MEASURED)
	$(PY) scripts/compare_optimizers.py | tee $(MEASURED)/optimizers.txt
measure-largest: weights  # the largest image this machine's memory fits (docs/devices-memory.md)
	mkdir -p $(MEASURED)
	$(PY) scripts/largest_image.py | tee $(MEASURED)/largest_image.json
measure-tiling: weights  # peak RSS with and without tile=512, the yardstick included (docs/results/tiled_memory_1536.json)
	$(PY) scripts/tiled_memory.py --sizes 1536 --tile 512 --steps 2 --yardstick --extra optimizer.history=5 \
		--out docs/results/tiled_memory_1536.json
measure-flow: weights  # each optical-flow method's endpoint error on clips whose flow is known (docs/video.md)
	mkdir -p $(MEASURED)
	$(PY) scripts/flow_epe.py 256 | tee $(MEASURED)/flow_epe.txt
video-figure: weights  # docs/figures/video.gif and video.json: frame by frame against the temporal loss, 256 px
	$(PY) scripts/video_demo.py outputs/video_demo 20 30 256

run-noise: weights  # the verdicts' run noise: the size check's pairs again under seed=1 (docs/results/run_noise.json)
	$(PY) scripts/run_noise.py

readme-images: weights  # README's and getting-started's style-control images
	scripts/readme_examples.sh

clean:
	rm -rf outputs multirun .pytest_cache docs/_build
