# Two commands on a fresh machine:
#   make run   - set everything up, build the sample index if missing, serve on http://127.0.0.1:8000
#   make test  - set everything up and run the test suite
#   make test-fast - the fast unit tests only (fakes, no models)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
INDEX_DIR ?= index/built
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run index test test-fast browser clean-index

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

index: install
	$(VENV)/bin/newsqa build --index-dir $(INDEX_DIR) --if-needed --quiet

run: index
	$(PY) -m qa serve --index-dir $(INDEX_DIR) --host $(HOST) --port $(PORT)

# Headless Chromium (Debian package) for the real-browser test.
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

test: install browser
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest tests/unit -q

clean-index:
	rm -rf $(INDEX_DIR)
