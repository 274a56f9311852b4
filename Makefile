# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
# Both create the environment from the committed lock file first; nothing is installed by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
RUN := $(UV) run --frozen --no-sync

DEMO_DIR ?= data/demo

.PHONY: python-check install browser postgres demo serve test test-fast lint mlflow-ui clean clean-records

# The suite runs on CPython 3.11 (CI) and 3.12; see pyproject.toml.
python-check:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))' 2>/dev/null || { \
		echo "anbu is set up and tested with Python 3.11 or 3.12, and PYTHON=$(PYTHON) is $$($(PYTHON) --version 2>/dev/null || echo missing): install python3.11 (or run make PYTHON=/path/to/python3.11)."; \
		exit 1; }

.tools/bin/uv: | python-check
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.synced: uv.lock pyproject.toml | python-check $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

install: .venv/.synced

DEMO_AS_OF ?= 2026-07-31
DEMO_GU ?= 관악구

# The main job end to end on embedded defaults: synthetic city -> validated delivery -> features and
# training (MLflow in models/) -> promotion -> every household scored -> one district's list.
demo: install
	$(RUN) anbu generate --scale small --seed 7 --out $(DEMO_DIR)
	$(RUN) anbu validate --data $(DEMO_DIR)
	$(RUN) anbu train --data $(DEMO_DIR) --config experiments/baseline.toml
	$(RUN) anbu promote
	$(RUN) anbu score --data $(DEMO_DIR) --as-of $(DEMO_AS_OF)
	$(RUN) anbu rank --data $(DEMO_DIR) --as-of $(DEMO_AS_OF) --gu $(DEMO_GU) --capacity 15
	@echo
	@echo "Next:"
	@echo "  make serve       # the scoring API and the planner page on http://127.0.0.1:3000 (keys: see README)"
	@echo "  make mlflow-ui   # every training run and the model registry on http://127.0.0.1:5000"
	@echo "  $(RUN) anbu rank --data $(DEMO_DIR) --as-of $(DEMO_AS_OF) --gu $(DEMO_GU) --capacity 15 --format xlsx"

# The scoring API and the planner page on the demo city (creates one API key per role on first start).
serve: install
	$(RUN) anbu serve --data $(DEMO_DIR) --as-of $(DEMO_AS_OF)

# The planner page is tested in a real headless Chromium: Debian's chromium and its driver, plus a
# CJK font so the page's Korean renders in the screenshot. Installed once, only when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-cjk

browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
		echo "Installing $(BROWSER_PACKAGES) for the planner page test"; \
		$(SUDO) apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null \
		|| { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; }; \
	fi

# The records' PostgreSQL path is tested against a real server: Debian's postgresql package (each
# test run starts its own private cluster from it, tests/support/local_postgres.py). Installed once.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		echo "Installing postgresql for the records tests"; \
		$(SUDO) apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
		|| { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }; \
	fi

test: install browser postgres
	$(RUN) pytest -n 2

# The tests that need no generated city, training run or real server: a check while editing.
test-fast: install browser postgres
	$(RUN) pytest -n 2 -m "not slow"

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

mlflow-ui: install
	$(RUN) mlflow ui --backend-store-uri sqlite:///$(CURDIR)/models/mlflow.db --default-artifact-root $(CURDIR)/models/artifacts

# What make rebuilds: the environment, the caches, and the demo city with everything the pipeline
# derived from it (only a synthetic city, one with _truth/: a DEMO_DIR pointed at a city's own
# deliveries is left alone). The demo's records are not rebuilt by anything (API keys, the chain key, the
# audit, outcome, override and care records), so they stay; `make clean-records` deletes them.
clean:
	rm -rf .venv .tools .pytest_cache
	@if [ -d "$(DEMO_DIR)/_truth" ]; then \
		find "$(DEMO_DIR)" -mindepth 1 -maxdepth 1 ! -name _records -exec rm -rf {} +; \
		echo "Removed the demo city in $(DEMO_DIR) (make demo rebuilds it)"; \
	elif [ -d "$(DEMO_DIR)" ]; then \
		echo "Left $(DEMO_DIR) as it is: no _truth/ in it, so it is not a synthetic city make demo wrote"; \
	fi
	@if [ -d "$(DEMO_DIR)/_records" ]; then \
		echo "Kept $(DEMO_DIR)/_records: API keys, the records' chain key, the audit, outcomes and overrides (make clean-records deletes them)"; \
	fi

clean-records:
	@echo "Deleting $(DEMO_DIR)/_records: the demo's API keys, the records' chain key and every audit, outcome, override and care record"
	rm -rf "$(DEMO_DIR)/_records"
