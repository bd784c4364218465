# KPI-Cockpit: `make run` sets up and starts the app on demo data; `make test` sets up and runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export KPI_DB ?= data/kpi.duckdb

.PHONY: run test lint audit bench browser-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Without .streamlit/secrets.toml: development mode (everyone admin, warning banner) bound to
# 127.0.0.1 only, so a newcomer can try every page but nobody else on the network can.
run: $(STAMP)
	$(BIN)/kpi demo --if-empty
	@if [ -f .streamlit/secrets.toml ]; then $(BIN)/streamlit run serve.py; else \
	  echo "Entwicklungsmodus: keine .streamlit/secrets.toml – alle Besucher sind Administrator, nur über http://127.0.0.1:8501 erreichbar."; \
	  KPI_DEV_ROLE=admin $(BIN)/streamlit run serve.py --server.address 127.0.0.1; fi

# Debian's chromium for the real-browser tests (no downloaded browsers), DejaVu for the PDF report,
# poppler-utils to look at PDF pages.
SYSTEM_DEPS_OK = command -v chromium >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
	&& test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
browser-deps:
	@$(SYSTEM_DEPS_OK) || { \
	  echo "Installiere Debian-Pakete chromium, fonts-dejavu-core, poppler-utils …"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium fonts-dejavu-core poppler-utils >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) browser-deps lint
	$(BIN)/python -m pytest

# --strict: a package that cannot be looked up (e.g. no route to the advisory database) fails the
# audit instead of being skipped behind a reassuring "No known vulnerabilities found".
audit: $(STAMP)
	$(BIN)/pip-audit --skip-editable --strict

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/metrics.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
