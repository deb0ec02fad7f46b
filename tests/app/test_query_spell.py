"""A query holds indexing back from the ask to its answer's delivery, where the window's first-screen spell takes
over: no gap between the two lets indexing's waiting bulk write and decoders in (benchmarks/drop_to_grid.py)."""

from __future__ import annotations

import threading

from imgsearch_desktop.app.query_runner import QueryRunner
from imgsearch_desktop.core.query import Query
from tests.photos import write_photo


def test_indexing_waits_until_the_answer_is_delivered_and_then_goes_on(qtbot, store, embedder, tmp_path):
    photo = tmp_path / "asked.jpg"
    write_photo(photo, seed=7)
    runner = QueryRunner()
    runner.attach(store, embedder)
    at_delivery: list[int] = []
    runner.answered.connect(lambda _result: at_delivery.append(embedder._queries_waiting))
    runner.submit(Query(path=str(photo)))
    qtbot.waitUntil(lambda: bool(at_delivery), timeout=60_000)
    assert at_delivery == [1], "indexing was let go before the answer reached the window"
    qtbot.waitUntil(lambda: embedder._queries_waiting == 0, timeout=2_000)  # and the spell ended with it


def test_a_failed_query_lets_indexing_go_on(qtbot, store, embedder, tmp_path):
    runner = QueryRunner()
    runner.attach(store, embedder)
    unreadable = []
    runner.unreadable.connect(lambda part, problem: unreadable.append(problem))
    runner.submit(Query(path=str(tmp_path / "gone.jpg")))
    qtbot.waitUntil(lambda: bool(unreadable), timeout=60_000)
    assert embedder._queries_waiting == 0


def test_closing_the_window_ends_the_spells_of_queries_still_in_flight(qtbot, store, embedder, tmp_path,
                                                                       monkeypatch):
    """Shutdown blocks the main thread: no answer and no timer could end a query's spell, and indexing's cancelled
    batch would wait for it at every step."""
    import imgsearch_desktop.app.query_runner as query_runner

    photo = tmp_path / "asked.jpg"
    write_photo(photo, seed=8)
    held = threading.Event()
    real = query_runner.run_query
    monkeypatch.setattr(query_runner, "run_query", lambda *args: (held.wait(30), real(*args))[1])
    runner = QueryRunner()
    runner.attach(store, embedder)
    answered = []
    runner.answered.connect(answered.append)
    runner.submit(Query(path=str(photo)))
    assert embedder._queries_waiting == 1  # asked; its job held before it starts
    runner.end_spells()  # what App.shutdown does
    assert embedder._queries_waiting == 0
    held.set()
    qtbot.waitUntil(lambda: bool(answered), timeout=60_000)
    qtbot.waitUntil(lambda: embedder._queries_waiting == 0, timeout=2_000)  # the late answer ends nothing twice
