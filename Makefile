# Two commands on a fresh Debian machine:  make run   |   make test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The real peers the tests judge us against (installed when running as root).
DEBS := glusterfs-server glusterfs-client qemu-utils qemu-block-extra fio tshark

.PHONY: run test lint venv debs bench bench-resources fuzz soak clean

$(VENV)/.stamp: pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3-pip; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@# byte-compile now: a start-up must not compile (PYTHONDONTWRITEBYTECODE may be set)
	$(PY) -m compileall -q fakegluster client >/dev/null
	touch $@

venv: $(VENV)/.stamp

debs:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	  fi; \
	else echo "not root: not installing $(DEBS); tests needing them are skipped (they fail under CI=true)"; fi

# Serve one in-memory volume "testvol" on glusterd's port and a unix socket; prints the URIs.
RUN_LISTEN ?= --listen tcp://127.0.0.1:24007 --listen unix:///tmp/fakegluster.sock
run: venv
	@$(PY) -m compileall -q fakegluster client >/dev/null
	$(VENV)/bin/fakegluster serve --volume testvol $(RUN_LISTEN) --log-level info

# --durations: every run ends with its slowest setups/calls/teardowns (where the suite's time goes)
test: debs venv lint
	$(PY) -m pytest --durations=40

# Style, lint and types (ruff; mypy, strict on proto/ and store/: see pyproject.toml); `make test` runs it first.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Benchmarks against a real GlusterFS 10.3 (root; ~15 min): bench/results/latest.{json,md,png}
# (make bench BENCH_ARGS=--quick: one repetition, a smoke run; BENCH_ARGS="--select layouts,clients,ready,memory,bricks":
# bench/scale.py's multi-brick, many-client, time-to-ready and memory runs, any subset, -> bench/results/scale.*)
BENCH_ARGS ?=
bench: debs venv
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) -m compileall -q fakegluster client >/dev/null
	$(PY) bench/run.py $(BENCH_ARGS)

# What one client costs the others (issue #14): idle connections, stalls under misbehaving
# peers, RSS -> bench/results/resources.{json,md} (~3 min; BENCH_ARGS=--quick: ~1 min)
bench-resources: venv
	$(PY) bench/resources.py $(BENCH_ARGS)

# Hostile and malformed messages to glusterd and the bricks, a well-behaved client alongside
# (issue #14): time-boxed, seeded, replayable (tools/fuzz.py --replay SEED:CASE)
FUZZ_ARGS ?= --seed 1 --messages 1000000 --seconds 1800
fuzz: venv
	$(PY) tools/fuzz.py $(FUZZ_ARGS) --out bench/results/fuzz.json

# 64 clients of mixed IO on a directory volume while the server is killed -9 and restarted,
# every fsync'd byte checked (issue #14): bench/results/soak.json
SOAK_ARGS ?= --clients 64 --seconds 300 --interval 10
soak: venv
	$(PY) bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache
