# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
# Both create the environment from the committed lock file first; nothing is installed by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
RUN := $(UV) run --frozen --no-sync

DEMO_DIR ?= data/demo

.PHONY: install demo test lint mlflow-ui clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: .venv/.synced

demo: install
	$(RUN) anbu generate --scale small --seed 7 --out $(DEMO_DIR)
	$(RUN) anbu validate --data $(DEMO_DIR)
	$(RUN) anbu features --data $(DEMO_DIR) --as-of 2026-07-31 --out $(DEMO_DIR)/_rounds/2026-07-31.parquet

test: install
	$(RUN) pytest -n 2

lint: install
	$(RUN) ruff check .

mlflow-ui: install
	$(RUN) mlflow ui --backend-store-uri sqlite:///$(CURDIR)/models/mlflow.db --default-artifact-root $(CURDIR)/models/artifacts

clean:
	rm -rf .venv .tools data .pytest_cache
