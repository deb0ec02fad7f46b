"""Queries go ahead of indexing: a foreground spell holds indexing's decoders until it ends (no model needed)."""

from __future__ import annotations

import threading
import time

from imgsearch_desktop.core.embedder import Embedder


def decoder_waits(embedder: Embedder) -> threading.Event:
    """A decode thread's turn: set once ``yield_to_queries`` lets it go."""
    went = threading.Event()
    threading.Thread(target=lambda: (embedder.yield_to_queries(timeout=5), went.set()), daemon=True).start()
    return went


def test_a_foreground_spell_holds_decoders_until_it_ends_and_ends_once():
    embedder = Embedder("image-model", "text-model")
    end = embedder.foreground()
    went = decoder_waits(embedder)
    time.sleep(0.3)
    assert not went.is_set()  # the first screen is still loading: indexing waits
    end()
    assert went.wait(2)
    end()  # a second call (the timer after the thumbnails arrived) changes nothing
    assert embedder._queries_waiting == 0


def test_spells_overlap_a_query_and_the_decoders_wait_for_both():
    embedder = Embedder("image-model", "text-model")
    first_screen = embedder.foreground()
    with embedder.query():
        first_screen()
        went = decoder_waits(embedder)
        time.sleep(0.3)
        assert not went.is_set()  # the next query is in flight
    assert went.wait(2)


def test_ending_a_spell_never_waits_for_a_running_model_call():
    """The window's main thread ends spells: it must not block while an ingest slice holds the model lock."""
    embedder = Embedder("image-model", "text-model")
    end = embedder.foreground()
    holding = threading.Event()
    release = threading.Event()

    def slice_running() -> None:
        with embedder._lock:  # what an ingest slice holds while the model runs
            holding.set()
            release.wait(5)

    threading.Thread(target=slice_running, daemon=True).start()
    assert holding.wait(2)
    start = time.monotonic()
    end()
    assert time.monotonic() - start < 0.5 and embedder._queries_waiting == 0
    release.set()


def test_a_spell_nobody_ends_holds_an_ingest_slice_for_a_bounded_time(monkeypatch):
    """A window closed before its first screen's timer fired left a spell open: indexing (and closing, which waits
    for it) hung for good. Now an ingest slice goes on after QUERY_PRECEDENCE_S."""
    import numpy as np

    import imgsearch_desktop.core.embedder as embedder_module

    monkeypatch.setattr(embedder_module, "QUERY_PRECEDENCE_S", 0.3)

    class Encoder:
        dims = 2

        def encode(self, inputs, batch_size):
            return np.ones((len(inputs), 2), dtype=np.float32)

    embedder = Embedder("image-model", "text-model")
    embedder.foreground()  # never ended
    start = time.monotonic()
    out = embedder._encode(Encoder(), ["a", "b"], priority=False)
    assert out.shape == (2, 2) and 0.25 < time.monotonic() - start < 3
