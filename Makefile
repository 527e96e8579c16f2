# Two set-up commands on a fresh machine: `make run` and `make test` (see README.md).
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= $(CURDIR)/demo-data
DEMO_ARCHIVE ?= $(DEMO_DIR)/demo.dxa.sqlite
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint bench dist system-packages venv clean

system-packages:
	@bash scripts/install-system-packages.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: system-packages $(STAMP)

run: venv
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  test -f "$(DEMO_ARCHIVE)" || $(BIN)/python main.py --archive "$(DEMO_ARCHIVE)" demo --out "$(DEMO_DIR)/files"; \
	  $(BIN)/python main.py --archive "$(DEMO_ARCHIVE)"; \
	else \
	  echo "No display: running the headless demo pipeline."; \
	  $(BIN)/python main.py --archive "$(DEMO_ARCHIVE)" demo --out "$(DEMO_DIR)/files"; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# In parallel on every core; each test file stays on one worker (module fixtures are built
# once) and the files are handed out in the order tests/conftest.py sets (longest first).
PYTEST_XDIST ?= -n auto --dist loadfile --no-loadscope-reorder

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_XDIST)

bench: venv
	@for f in bench/*.py; do echo "== $$f"; QT_QPA_PLATFORM=offscreen $(BIN)/python $$f || exit 1; done

dist: venv
	$(BIN)/pyinstaller --noconfirm --log-level WARN pyinstaller.spec
	@echo "Bundle: dist/dxa (dxa = app, dxa-cli = command line)"

clean:
	rm -rf build dist demo-data .mypy_cache .ruff_cache .pytest_cache
