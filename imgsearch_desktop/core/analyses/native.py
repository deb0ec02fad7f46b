"""One long-lived thread for every native model call of the analyses: dlib's detector and landmarks and the face
descriptor on ONNX Runtime (faces, eyes) and RapidOCR's OpenCV and ONNX Runtime steps (text).

A thread rather than a lock, for two crashes of the drop loop (tests/app/test_drop_loop.py):
- dlib's Python binding (pybind11, built into its module) takes the GIL back through a Python thread state it keeps
  per OS thread. A Qt pool thread gets a new thread state for each job (PySide makes and frees one around it), so
  a dlib call there could re-enter the GIL through one already freed: SIGSEGV in take_gil under
  compute_face_descriptor's result (the query photo's faces; 3 runs of 6). A Python thread keeps its state for life.
- dlib's detector crashed while OpenCV resized for the text detector on another thread: one thread also means never
  two native model calls at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_ident: int | None = None
_thread: ThreadPoolExecutor


def _mark() -> None:
    global _ident
    _ident = threading.get_ident()


def _new_thread() -> None:
    global _thread, _ident
    _thread, _ident = ThreadPoolExecutor(1, thread_name_prefix="native-models", initializer=_mark), None


_new_thread()
if hasattr(os, "register_at_fork"):  # POSIX; a fork copies the executor, not its thread: calls would wait for ever
    os.register_at_fork(after_in_child=_new_thread)


def native(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` run on the native-models thread, in turn with every other native call; the caller
    waits for its result (or its exception). Called from that thread itself, it runs at once."""
    if threading.get_ident() == _ident:
        return fn(*args, **kwargs)
    return _thread.submit(fn, *args, **kwargs).result()
