"""Background tasks: every outcome reaches the main thread, and thousands of them never crash the app."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from PySide6.QtCore import QObject

from imgsearch_desktop.app import pools
from imgsearch_desktop.app.workers import run_task
from imgsearch_desktop.errors import UserError

STRESS = textwrap.dedent("""
    import gc, sys, time
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from imgsearch_desktop.app.workers import run_task
    done = []
    n = int(sys.argv[1])
    for i in range(n):
        run_task(lambda: [object() for _ in range(200)], done.append, done.append)
        if i % 3 == 0:
            gc.collect()  # what a busy app does at random moments: frees whatever the pool let go of
        app.processEvents()
    deadline = time.monotonic() + 120
    while len(done) < n and time.monotonic() < deadline:
        app.processEvents()
    print("delivered", len(done))
""")


def test_outcomes_arrive_on_the_main_thread(qtbot):
    import threading

    got = []
    run_task(lambda: threading.current_thread().name, lambda v: got.append(("ok", v, threading.current_thread())),
             lambda m: got.append(("err", m, None)))

    def fails():
        raise UserError("the index is not ready")

    run_task(fails, lambda v: got.append(("ok", v, None)), lambda m: got.append(("err", m, threading.current_thread())))
    qtbot.waitUntil(lambda: len(got) == 2, timeout=10_000)
    ok = next(g for g in got if g[0] == "ok")
    err = next(g for g in got if g[0] == "err")
    assert ok[1] != threading.main_thread().name and ok[2] is threading.main_thread()  # ran on the pool
    assert err[1] == "the index is not ready" and err[2] is threading.main_thread()


def test_thousands_of_tasks_do_not_crash():
    """Once a SIGSEGV in one drop loop of three: each task's signals object died on a pool thread mid-delivery."""
    out = subprocess.run([sys.executable, "-X", "faulthandler", "-c", STRESS, "2000"], capture_output=True, text=True,
                         timeout=600, cwd=Path(__file__).resolve().parents[2],
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "delivered 2000"


def test_shutdown_waits_for_every_pool_of_its_own_in_one_place(qapp):
    """pools.wait_all: what runs in any pool made by new_pool ends before it returns, what is queued never starts,
    and a pool deleted with its owner is left out; a job that does not end is bounded, not waited for forever."""
    ran: list[str] = []
    release = threading.Event()
    owner = QObject()
    first, second, gone = pools.new_pool(1), pools.new_pool(1, owner), pools.new_pool(1, QObject())
    assert {first, second} <= set(pools.live_pools()) and gone not in pools.live_pools()  # its parent is gone
    started = threading.Barrier(3)

    def job(name: str) -> None:
        started.wait(timeout=10)
        release.wait(timeout=10)
        ran.append(name)

    first.start(functools.partial(job, "first"))
    second.start(functools.partial(job, "second"))
    first.start(functools.partial(ran.append, "queued"))  # behind "first" on its one thread
    started.wait(timeout=10)  # both jobs are running
    assert pools.wait_all(100) is False and ran == []  # bounded: they are still running
    release.set()
    assert pools.wait_all(10_000) is True
    assert sorted(ran) == ["first", "second"]  # the queued job was dropped, not run
