# streamlab: `make demo` and `make test` work on a fresh machine (Debian 12, Python 3.11, root or sudo).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export RAY_USAGE_STATS_ENABLED := 0
export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := true
export PYTHONUNBUFFERED := 1

.PHONY: setup venv system player data demo test test-fast bench clean

setup: venv system player data

# torch first from the local CPU wheel: a looser pin pulls gigabytes of CUDA wheels.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $@

venv: $(STAMP)

# Debian packages the tests and the demo start and stop by PID (never a download from elsewhere):
# chromium for the players, varnish (and nginx) as real edge engines, redis-server for the telemetry stream.
DEBIAN_PACKAGES := chromium varnish nginx redis-server prometheus
system:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# hls.js and Shaka Player from the npm registry (no CDN links), vendored into the player's static dir.
player:
	@if [ -f streaming/player/package.json ]; then $(MAKE) -s -C streaming/player vendor; fi

data: venv
	$(VENV)/bin/streamlab data fetch

demo: setup
	$(VENV)/bin/streamlab demo

# Imports run one way (the layers contract in pyproject.toml), then every test, slow ones included.
test: setup
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest -q --durations=30

test-fast: setup
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest -q -m "not slow"

bench: setup
	$(PY) -m benchmarks.run

clean:
	rm -rf .state benchmarks/results/*.json
