"""Fast tests: the real functions against small fakes — no Elasticsearch, no model, no Qt, no network.

``make test-fast`` runs this folder on its own (``--confcutdir=tests/fast``: tests/conftest.py, which wires the real
node and the tiny models, is not imported). Under ``make test`` these tests run with the rest, and both conftests'
autouse fixtures apply; they agree (both clear IMGSEARCH_* and point IMGSEARCH_HOME at a tmp path).
"""

from __future__ import annotations

import pytest

from tests.env_vars import isolate


@pytest.fixture(autouse=True)
def fast_isolated_home(tmp_path, monkeypatch):
    """No fast test reads the developer's IMGSEARCH_* settings or touches the real config, data or keyring."""
    home = isolate(tmp_path, monkeypatch)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return home


class FakeClock:
    """A monotonic clock the test moves by hand (stands in for ``time`` in the module under test)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
