# The two commands the README promises: `make run` (the app) and `make test` (the test suite).
# Both set up whatever is missing first (OS libraries, .venv, Python packages, the local Elasticsearch).
.PHONY: setup setup-test setup-bundle run test test-fast lint bench screenshots bundle bundle-check deb

setup:
	@bash scripts/setup.sh

# + what the tests need beyond the app (qemu-user: the int8 check on an emulated AVX2-only CPU)
setup-test:
	@WITH_TEST_TOOLS=1 bash scripts/setup.sh

# + what building the packaged app needs (a JDK with jlink, for the engine's Java runtime)
setup-bundle:
	@WITH_BUNDLE_TOOLS=1 bash scripts/setup.sh

run: setup
	.venv/bin/imgsearch-desktop $(ARGS)

lint: setup
	.venv/bin/ruff check .

test: setup-test lint
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest $(PYTEST_ARGS)

# Seconds: the fast unit tests with small fakes (no Elasticsearch, no model, no Qt). --confcutdir keeps
# tests/conftest.py (the real node and models) out; these tests also run as part of `make test`.
test-fast: setup
	.venv/bin/python -m pytest tests/fast -q -p no:cacheprovider -p no:pytest-qt --confcutdir=tests/fast \
		-o timeout=60 $(PYTEST_ARGS)

bench: setup
	.venv/bin/python benchmarks/ingest.py

# The packaged app (packaging/build.sh): BUNDLE_ARGS="full", "--export", "--export --int8", "--models DIR" ...
bundle: setup-bundle
	bash packaging/build.sh $(BUNDLE_ARGS)

# The lean bundle as a Debian package (/opt/imgsearch-desktop, /usr/bin link, menu entry, icon): BUNDLE_ARGS as above.
deb: setup-bundle
	bash packaging/build.sh lean --deb $(BUNDLE_ARGS)

# CI: the lean bundle with tiny random models exported to ONNX, wrapped in a .deb; the package checked with
# dpkg-deb, and its extracted tree smoke-tested as a user runs it (offline, its own engine, no Java or Python).
bundle-check: setup-bundle
	.venv/bin/python -m imgsearch_desktop.devtools.random_models build/tiny-models
	bash packaging/build.sh lean --models build/tiny-models/onnx --no-archive --deb
	bash packaging/deb.sh --check dist/imgsearch-desktop_*.deb
