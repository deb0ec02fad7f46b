# The two commands the README promises: `make run` (the app) and `make test` (the test suite).
# Both set up whatever is missing first (OS libraries, .venv, Python packages, the local Elasticsearch).
.PHONY: setup run test lint bench screenshots

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/imgsearch-desktop $(ARGS)

lint: setup
	.venv/bin/ruff check .

test: setup lint
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	.venv/bin/python benchmarks/ingest.py
