"""The status bar's arithmetic: time left, rate over unpaused time only, and what it says while paused."""

from __future__ import annotations

import pytest

from imgsearch_desktop.app.index_status import IndexClock, eta_seconds, format_left, progress_text


def test_eta_from_the_rate_so_far_and_counting_down_between_updates():
    assert eta_seconds(100, 1100, counted=100, active=10.0) == pytest.approx(100.0)  # 10 img/s, 1,000 to go
    assert eta_seconds(100, 1100, counted=100, active=10.0, since_update=4.0) == pytest.approx(96.0)
    assert eta_seconds(100, 1100, counted=100, active=10.0, since_update=500.0) == 0.0  # late, never negative
    assert eta_seconds(0, 1100, counted=0, active=3.0) is None  # no rate yet: say nothing rather than guess
    assert eta_seconds(5, 0, counted=5, active=1.0) is None


@pytest.mark.parametrize(("seconds", "text"), [(None, ""), (3, "almost done"), (42, "42 s left"),
                                               (720, "12 min left"), (7500, "2 h 05 min left")])
def test_time_left_in_words(seconds, text):
    assert format_left(seconds) == text


def test_progress_line():
    assert progress_text(1234, 20000, 25.0, 720, paused=False) == "Indexing 1,234 / 20,000 · 25 img/s · 12 min left"
    assert progress_text(1234, 20000, 25.0, 720, paused=True) == "Indexing 1,234 / 20,000 · paused"
    assert progress_text(0, 10, 0.0, None, paused=False) == "Indexing 0 / 10"


def test_clock_keeps_moving_says_paused_and_leaves_the_pause_out_of_the_rate():
    clock = IndexClock()
    clock.progress(0, 900, now=0.0)
    clock.progress(100, 900, now=10.0)  # 10 img/s
    assert clock.text(10.0) == "Indexing 100 / 900 · 10 img/s · 80 s left"
    assert clock.text(40.0) == "Indexing 100 / 900 · 10 img/s · 50 s left"  # no new batch yet: still counts down
    clock.pause(40.0)
    assert clock.text(500.0) == "Indexing 100 / 900 · paused"
    clock.resume(1000.0)  # 960 s paused
    assert clock.text(1000.0).endswith("50 s left")  # the pause is not time spent indexing
    clock.progress(200, 900, now=1010.0)  # 100 more in 40 s of work (30 before the pause, 10 after)
    assert clock.rate() == pytest.approx(200 / 50)
    assert "img/s" in clock.text(1010.0) and "paused" not in clock.text(1010.0)


def test_a_new_job_starts_a_new_estimate():
    clock = IndexClock()
    clock.progress(0, 1000, now=0.0)
    clock.progress(900, 1000, now=9.0)
    clock.progress(0, 5, now=100.0)  # a watcher job after the scan
    assert clock.rate() == 0.0 and clock.text(100.0) == "Indexing 0 / 5"


def test_the_faces_phase_has_its_own_name_count_and_rate(qtbot):
    from imgsearch_desktop.app.index_status import IndexStatus

    status = IndexStatus()
    qtbot.addWidget(status)
    status.on_progress(900, 1000)
    assert status.adding  # photos still being made searchable: an empty answer says so
    status.finished("Up to date · 1,000 added")
    status.set_phase("Finding faces")
    assert status.message.text() == "Finding faces…"
    status.on_progress(0, 40)
    assert status.indexing and not status.adding and status.message.text() == "Finding faces 0 / 40"
    status.set_paused(True)
    assert status.message.text() == "Finding faces 0 / 40 · paused"
    status.finished("Up to date")
    status.on_progress(0, 3)  # the next job is indexing again
    assert status.message.text() == "Indexing 0 / 3"
