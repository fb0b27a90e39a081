# The README's quickstart is exactly `make demo` and `make test`; both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench system-deps replay-env clean

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Debian packages the project runs, installed by the project (never downloaded by a test tool), in one
# apt-get call for whatever is missing; skipped when everything is present:
#   chromium, fonts-wqy-zenhei, fontconfig  browser tests and the CJK fonts they render
#   sqlite3                                 the archive's command-line checks
#   libreoffice-writer-nogui                DOC/WPS/RTF attachments → DOCX (parsers/formats/office.py)
#   antiword                                text-only fallback for DOC when LibreOffice is absent
#   tesseract-ocr, tesseract-ocr-chi-sim    OCR of scanned reports (parsers/ocr/)
#   redis-server                            the crawl's shared queue
SYSTEM_PACKAGES := chromium fonts-wqy-zenhei fontconfig sqlite3 libreoffice-writer-nogui antiword \
	tesseract-ocr tesseract-ocr-chi-sim redis-server
system-deps:
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "system-deps: installing$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@test -x /usr/bin/chromium || { echo "system-deps: /usr/bin/chromium is missing (apt-get install chromium)" >&2; exit 1; }
	@fc-list | grep -qi wqy || { echo "system-deps: no WenQuanYi font (apt-get install fonts-wqy-zenhei)" >&2; exit 1; }
	@command -v soffice >/dev/null || { echo "system-deps: soffice is missing (apt-get install libreoffice-writer-nogui)" >&2; exit 1; }
	@command -v antiword >/dev/null || { echo "system-deps: antiword is missing (apt-get install antiword)" >&2; exit 1; }
	@tesseract --list-langs 2>/dev/null | grep -qx chi_sim || { echo "system-deps: tesseract with chi_sim is missing (apt-get install tesseract-ocr tesseract-ocr-chi-sim)" >&2; exit 1; }
	@command -v redis-server >/dev/null || { echo "system-deps: redis-server is missing (apt-get install redis-server)" >&2; exit 1; }

# DEMO_ARGS passes options through, e.g. `make demo DEMO_ARGS=--no-serve` (stop after the build) or
# `make demo DEMO_ARGS="--serve-check --port 8123"` (check Datasette answers, then exit).
DEMO_ARGS ?=
demo: $(STAMP)
	$(VENV)/bin/nianbao demo $(DEMO_ARGS)

# pywb, for the WARC replay test (tests/crawler/test_warc_replay.py), in a venv of its own: it pins
# redis==2.10.6, which the crawl queue's redis client (dramatiq[redis]) excludes from .venv.
REPLAY := .venv-replay
REPLAY_STAMP := $(REPLAY)/.installed
$(REPLAY_STAMP):
	test -x $(REPLAY)/bin/python || $(PYTHON) -m venv $(REPLAY)
	$(REPLAY)/bin/python -m pip install -q 'pywb>=2.9,<3'
	touch $(REPLAY_STAMP)
replay-env: $(REPLAY_STAMP)

test: $(STAMP) $(REPLAY_STAMP) system-deps
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/parse.py

clean:
	rm -rf $(VENV) $(REPLAY) data test-artifacts .pytest_cache
