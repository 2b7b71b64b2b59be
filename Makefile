# Two entry points a fresh machine needs: `make run` and `make test`.
# Both create .venv on first use. torch is pinned and installed first so pip takes the
# CPU wheel instead of pulling gigabytes of CUDA packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# Every other package at the version CI last passed with; empty for the newest releases.
CONSTRAINTS ?= constraints.txt
RUN_ARGS ?= --env SeqGAN-v0 --algo ppo

.PHONY: run test docs lint format clean venv

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e ".[dev,sweep,docs]" $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
	touch $@

run: venv
	$(BIN)/python scripts/train_agent.py $(RUN_ARGS)

# Two pytest-xdist workers, one torch thread each (tests/conftest.py): CI's two cores.
# --dist loadgroup keeps the Ray tests (xdist_group "ray") in one worker, one at a time.
# --durations=20 prints the slowest tests, so a CI log shows where its minutes went.
PYTEST_WORKERS ?= 2

test: venv
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=20 $(PYTEST_ARGS)

# The documentation site, built as the docs test builds it: any warning fails.
docs: venv
	$(BIN)/mkdocs build --strict

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) runs site .pytest_cache .ruff_cache
