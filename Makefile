# Two commands on a fresh machine with Python 3.11 and make: `make run`, `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint browser bench clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# pip's output goes to a log; it is shown only when the install fails.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing contacts-etl into $(VENV) (log: $(VENV)/install.log) ..."
	@$(BIN)/python -m pip install --disable-pip-version-check -q -e . >$(VENV)/install.log 2>&1 \
		|| (cat $(VENV)/install.log; exit 1)
	@touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing contacts-etl with its test tools into $(VENV) (log: $(VENV)/install.log) ..."
	@$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[test]' >$(VENV)/install.log 2>&1 \
		|| (cat $(VENV)/install.log; exit 1)
	@touch $(STAMP) $@

# With no FIVE9_* credentials (environment or .env), the load goes into a local sandbox.
run: $(STAMP)
	$(BIN)/contacts-etl load data/samples/contacts.csv --list demo --rejects out/rejects.csv --report out/report.json

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# The HTML report's test opens it in the machine's own Chromium (Debian's `chromium` package),
# installed here when missing (CONTACTS_CHROMIUM may name another build).
browser:
	@[ -n "$$CONTACTS_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 \
		|| command -v chromium-browser >/dev/null 2>&1 \
		|| { echo "Installing Chromium for the report's browser test (apt-get) ..."; \
		     SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		     $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		     $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Three workers on two cores: most of the suite waits on real HTTP and real pacing, not the CPU.
# The tests of the one Prefect server share a worker (see tests/conftest.py).
test: lint browser
	$(BIN)/python -m pytest -n 3

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
