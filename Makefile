# The two commands a newcomer needs: `make demo` and `make test` (see README.md).
VENV := .venv
PY := $(VENV)/bin/python
# torch is pinned to the CPU build this project is developed with; an unpinned torch
# pulls a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: demo install python js browser test lab bench

demo: install lab

lab:
	$(VENV)/bin/jupyter lab notebooks/01_quickstart.ipynb

install: python js browser

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

test:
	@if [ -f js/package.json ]; then npm test --prefix js; fi
	$(PY) -m pytest

bench:
	$(PY) benchmarks/run_all.py
