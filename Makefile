# sim06 — two commands: `make run` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format typecheck bench bench-peers contracts seed clean native pure

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The generator compiled by mypyc (issue #20: about 2.7x less CPU, the same bytes), built in place
# when one of its sources changed; SIM06_PURE_PYTHON=1 neither builds nor loads it, and without a
# C compiler sim06 runs pure Python (one line says so). NATIVE_MODULES must equal MODULES in
# mock_registry/compiled.py (tests/mock_registry/test_native.py checks it).
NATIVE := $(VENV)/.native
NATIVE_MODULES := population citizen cards card_history accounts census address names lifecycle \
	ids cmnd ethnicity admin_units draws
$(NATIVE): $(STAMP) $(NATIVE_MODULES:%=mock_registry/%.py) mock_registry/compiled.py scripts/build_native.py
	@if [ -n "$$SIM06_PURE_PYTHON" ]; then echo "sim06: SIM06_PURE_PYTHON is set: generator not compiled"; \
	else $(BIN)/python scripts/build_native.py && touch $(NATIVE); fi

native: $(STAMP)  ## compile the generator now (whatever the stamp says)
	$(BIN)/python scripts/build_native.py && touch $(NATIVE)

pure: $(STAMP)  ## remove the compiled generator (built again by the next run/test unless SIM06_PURE_PYTHON=1)
	$(BIN)/python scripts/build_native.py --clean
	rm -f $(NATIVE)

run: $(STAMP) $(NATIVE)  ## seed the default population if absent, then serve every service on 127.0.0.1
	$(BIN)/sim06 up

# The Node SOAP client the tests generate from the served WSDL (tests/node/soap-client): its
# locked dependencies, installed here (never by a test) when npm is there.
NODE_CLIENT := tests/node/soap-client
$(NODE_CLIENT)/node_modules/.package-lock.json: $(NODE_CLIENT)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then cd $(NODE_CLIENT) && npm ci --no-audit --no-fund --silent; \
	else echo "npm not found: the Node SOAP client test will fail (install nodejs and npm)"; fi

test: $(STAMP) $(NATIVE) $(NODE_CLIENT)/node_modules/.package-lock.json  ## the whole test suite
	$(BIN)/pytest

lint: $(STAMP)  ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

contracts: $(STAMP)  ## regenerate contracts/openapi/*.yaml from the apps
	$(BIN)/sim06 contract write

bench: $(STAMP) $(NATIVE)  ## micro-benchmarks, then the HTTP benchmarks (see benchmarks/README.md)
	$(BIN)/pytest benchmarks/bench_core.py benchmarks/bench_chip.py -o python_files='bench_*.py' \
		--benchmark-enable --benchmark-only -p no:cacheprovider
	$(BIN)/python benchmarks/bench_seed.py --size 1000000
	$(BIN)/python benchmarks/bench_registry_http.py
	$(BIN)/python benchmarks/bench_identity_flows.py
	$(BIN)/python benchmarks/bench_chip_http.py

bench-peers: $(STAMP)  ## sim06 vs MockPass (installs MockPass from npm into /tmp)
	bash benchmarks/peers/mockpass.sh

seed: $(STAMP) $(NATIVE)
	$(BIN)/sim06 seed

clean:
	rm -rf $(VENV) .sim06 .pytest_cache .mypy_cache .ruff_cache .benchmarks
	rm -rf build/native build/native.log mock_registry/*.so mock_registry/native.json
