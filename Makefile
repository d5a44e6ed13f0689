# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1

.PHONY: venv demo test lint format clean

# torch is pinned to the release that lies on this kind of machine's disk, so set-up
# needs no multi-gigabyte download; everything else comes from PyPI.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev,ray]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/t2i-audit run

lint: $(STAMP)
	$(VENV)/bin/ruff check audit tests dashboard
	$(VENV)/bin/ruff format --check audit tests dashboard
	$(VENV)/bin/mypy audit

test: lint
	$(PY) -m pytest -q -m "not gpu"

format: $(STAMP)
	$(VENV)/bin/ruff format audit tests dashboard
	$(VENV)/bin/ruff check --fix audit tests dashboard

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
