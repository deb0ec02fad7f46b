"""Work ahead of its consumer (core/ahead): in order, bounded, errors at their item, nothing left running."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from imgsearch_desktop.core.ahead import BACKGROUND_NICE, ahead


def test_results_come_in_the_items_order_whatever_finishes_first():
    def slow_first(i: int) -> int:
        time.sleep(0.05 if i == 0 else 0)
        return i * 10

    assert list(ahead(slow_first, range(6), 3, 4, "t")) == [0, 10, 20, 30, 40, 50]


def test_no_more_than_lookahead_items_are_started_before_the_consumer_takes_one():
    started: list[int] = []
    results = ahead(lambda i: started.append(i) or i, range(100), 2, 3, "t")
    assert next(results) == 0
    time.sleep(0.1)
    assert len(started) <= 4  # the three submitted first, then one more for the one taken
    results.close()


def test_an_error_is_raised_at_its_item_and_the_rest_is_not_started():
    started: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        if i == 2:
            raise ValueError("item 2")
        return i

    results = ahead(work, range(50), 1, 2, "t")
    assert [next(results), next(results)] == [0, 1]
    with pytest.raises(ValueError, match="item 2"):
        next(results)
    assert max(started) <= 4


def test_stopping_early_leaves_no_thread_running():
    before = threading.active_count()
    results = ahead(lambda i: time.sleep(0.01) or i, range(1000), 2, 4, "t")
    assert next(results) == 0
    results.close()
    assert threading.active_count() == before


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are a Linux feature")
def test_the_work_runs_at_background_priority_and_the_caller_keeps_its_own():
    seen = list(ahead(lambda _: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), range(3), 1, 2, "t"))
    assert min(seen) >= BACKGROUND_NICE
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < BACKGROUND_NICE
