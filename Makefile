# The two commands a newcomer needs: `make demo` and `make test` (see README.md).
VENV := .venv
PY := $(VENV)/bin/python
# torch is pinned to the CPU build this project is developed with; an unpinned torch
# pulls a multi-GB CUDA build.
TORCH := torch==2.13.0
# SAM 2 (the [sam2] extra) gets its own venv: it needs torchvision, which the core install
# avoids. Only `make test` builds it (about 2 minutes, 6 GB: the CUDA build of torch).
VENV_SAM2 := .venv-sam2
TORCH_SAM2 := torch==2.14.1 torchvision==0.29.1

.PHONY: demo install python js browser test test-sam2 install-sam2 lab bench

demo: install lab

# Jupyter refuses to run as root unless told; containers often run as root.
lab:
	$(VENV)/bin/jupyter lab notebooks/01_quickstart.ipynb $$([ "$$(id -u)" = 0 ] && echo --allow-root)

install: js python browser  # js first: the Python build then finds the bundle built

python:
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" -e ".[dev]"

js:
	@if [ -f js/package.json ]; then npm ci --prefix js --no-audit --no-fund && npm run build --prefix js; fi

# The browser test drives Debian's Chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && apt-get install -y -q chromium; \
	  else echo "Chromium not found: install it (e.g. sudo apt-get install chromium) to run the browser test."; fi; }

# SAM2_BUILD_CUDA=0 skips sam2's optional CUDA extension (it only fills small holes in masks).
install-sam2:
	test -x $(VENV_SAM2)/bin/python || python3 -m venv $(VENV_SAM2)
	$(VENV_SAM2)/bin/python -m pip install -q --upgrade pip
	SAM2_BUILD_CUDA=0 $(VENV_SAM2)/bin/python -m pip install -q $(TORCH_SAM2) -e ".[dev,sam2]"

test: test-sam2
	@if [ -f js/package.json ]; then npm test --prefix js; fi
	$(PY) -m pytest

test-sam2: install-sam2
	VSEG_REQUIRE_SAM2=1 $(VENV_SAM2)/bin/python -m pytest tests/sam2_engine

# Quality and speed figures, written to benchmarks/results/ (see benchmarks/README.md).
bench:
	$(PY) benchmarks/bench_metrics.py
	$(PY) benchmarks/bench_classic.py
	$(PY) benchmarks/bench_learned.py
	$(PY) benchmarks/bench_confidence.py
	$(PY) benchmarks/bench_player.py
	$(PY) benchmarks/bench_session_size.py
	$(PY) benchmarks/bench_batch.py
	$(PY) benchmarks/bench_html_size.py
