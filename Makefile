# make test  : set up .venv if needed, then ruff and the whole test suite
# make run   : set up, then the bot (`chatbot run` with a TELEGRAM_BOT_TOKEN, else the sandbox)
# make bench : set up with the benchmark peers, then print the benchmark table
# make lock  : re-pin requirements.lock (what a deployment installs) from pyproject.toml
#
# The tests on PostgreSQL start their own server from the machine's PostgreSQL binaries. Where
# there are none, `make test` installs Debian's `postgresql` package when it runs as root with
# apt-get (as CI does), so CI always runs them; elsewhere those tests are skipped, saying how.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: test run bench lint format clean lock pg-binaries

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	@touch $@

pg-binaries: $(STAMP)
	@$(BIN)/python -m tests.pg_server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "PostgreSQL server binaries not found: installing Debian's postgresql package"; \
	    export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	      apt-get install -y -qq --no-install-recommends postgresql >/dev/null || { \
	      echo "apt-get install postgresql failed: the PostgreSQL tests cannot run"; exit 1; }; \
	  else \
	    echo "note: $$($(BIN)/python -m tests.pg_server 2>&1 | tail -1); those tests will skip"; \
	  fi; }

test: $(STAMP) pg-binaries
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

run: $(STAMP)
	@if [ -n "$$TELEGRAM_BOT_TOKEN" ] || grep -qs '^TELEGRAM_BOT_TOKEN=..*' .env; then \
		exec $(BIN)/chatbot run; else exec $(BIN)/chatbot sandbox; fi

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file=requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
