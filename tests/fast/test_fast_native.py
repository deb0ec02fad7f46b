"""core/analyses/native: every native model call on one Python thread, in turn, results and errors handed back."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from imgsearch_desktop.core.analyses.native import native


def test_calls_from_many_threads_run_on_one_thread_one_at_a_time():
    running, most = [0], [0]
    lock = threading.Lock()

    def call(i: int) -> tuple[int, str]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.002)
        with lock:
            running[0] -= 1
        return i, threading.current_thread().name

    with ThreadPoolExecutor(4) as callers:
        results = list(callers.map(lambda i: native(call, i), range(40)))
    assert [i for i, _ in results] == list(range(40))
    assert {name for _, name in results} == {results[0][1]} and results[0][1].startswith("native-models")
    assert most[0] == 1


def test_an_error_reaches_the_caller_and_the_thread_goes_on():
    def fail() -> None:
        raise ValueError("broken model file")

    with pytest.raises(ValueError, match="broken model file"):
        native(fail)
    assert native(lambda a, b=0: a + b, 2, b=3) == 5


def test_a_call_from_the_native_thread_itself_runs_at_once():
    assert native(lambda: native(threading.current_thread)) is native(threading.current_thread)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_process_gets_its_own_native_thread():
    """A fork copies the executor but not its thread (a process pool's worker, benchmarks/faces.py): without a new
    one there, the child's first native call waited for ever."""
    assert native(lambda: threading.current_thread().name).startswith("native-models")  # the parent's thread runs
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its native call came back, on a thread of its own
        os._exit(0 if native(lambda: threading.current_thread().name).startswith("native-models") else 3)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's native call never returned")
