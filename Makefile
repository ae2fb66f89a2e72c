# Everything runs in .venv, created on first use from the interpreter below.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench clean redis-server

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv  # uv installs the rest in a fraction of pip's time
	$(BIN)/uv pip install -q -p $(VENV) -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/byok demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The state tests run a real redis-server; installed from Debian's packages when missing (as root, like CI).
redis-server:
	@command -v redis-server >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null)

# pytest exits 5 when it collected no test: that is a failure here, said plainly.
unit: $(STAMP) redis-server
	@$(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; fi; exit $$rc

test: lint typecheck unit

bench: $(STAMP) redis-server
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.steps
	$(BIN)/python -m benchmarks.state
	$(BIN)/python -m benchmarks.fleet
	$(BIN)/python -m benchmarks.goodput

# The docs site (mkdocs-material + mkdocstrings), built offline; --strict turns every warning into a failure.
.PHONY: docs
DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --default-pip >/dev/null
	$(BIN)/python -m pip install -q -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) site .mypy_cache .ruff_cache .pytest_cache
