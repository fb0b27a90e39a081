# The README's quickstart is exactly `make demo` and `make test`; both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Debian's chromium and CJK fonts for the browser tests: installed by the project, never downloaded
# by a test tool. Skipped when already present.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi wqy; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			chromium fonts-wqy-zenhei fontconfig sqlite3 >/dev/null; \
	fi
	@test -x /usr/bin/chromium || { echo "system-deps: /usr/bin/chromium is missing (apt-get install chromium)" >&2; exit 1; }
	@fc-list | grep -qi wqy || { echo "system-deps: no WenQuanYi font (apt-get install fonts-wqy-zenhei)" >&2; exit 1; }

# DEMO_ARGS passes options through, e.g. `make demo DEMO_ARGS=--no-serve` (stop after the build) or
# `make demo DEMO_ARGS="--serve-check --port 8123"` (check Datasette answers, then exit).
DEMO_ARGS ?=
demo: $(STAMP)
	$(VENV)/bin/nianbao demo $(DEMO_ARGS)

test: $(STAMP) system-deps
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/parse.py

clean:
	rm -rf $(VENV) data test-artifacts .pytest_cache
