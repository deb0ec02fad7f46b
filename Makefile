# The two commands the README promises: `make run` (the app) and `make test` (the test suite).
# Both set up whatever is missing first (OS libraries, .venv, Python packages, the local Elasticsearch).
.PHONY: setup run test lint bench screenshots bundle bundle-check

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

# The packaged app (packaging/build.sh): BUNDLE_ARGS="full", "--export", "--export --int8", "--models DIR" ...
bundle: setup
	bash packaging/build.sh $(BUNDLE_ARGS)

# CI: the lean bundle with tiny random models exported to ONNX, smoke-tested as a user runs it (real local ES).
bundle-check: setup
	.venv/bin/python -m imgsearch_desktop.devtools.random_models build/tiny-models
	bash packaging/build.sh lean --models build/tiny-models/onnx --no-archive --smoke-test
