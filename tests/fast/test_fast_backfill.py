"""The analyses pass (core/analyses/backfill) on real small photos and the in-memory store: it lets a query go
first before each photo's analysis, reads ahead of it, and what it could not read is reported, not analysed."""

from __future__ import annotations

import threading

from PIL import Image

from imgsearch_desktop.core.analyses.backfill import backfill
from tests.fast.fake_store import FakeStore


class Recording:
    """An analysis that writes the photo's size and records when it ran, on which thread."""

    name, version, decode_side = "size", 1, 64

    def __init__(self, events: list) -> None:
        self.events = events

    def mapping(self) -> dict:
        return {}

    def analyse(self, image: Image.Image, original: tuple[int, int], larger=None) -> dict:
        self.events.append(("analyse", threading.get_ident()))
        return {"size_seen": list(original)}


def test_each_analysis_waits_for_queries_first_and_an_unreadable_photo_is_reported(tmp_path):
    store = FakeStore()
    for i in range(4):
        path = tmp_path / f"p{i}.png"
        Image.new("RGB", (80 + i, 60), (i * 40, 90, 200)).save(path)
        store.add(str(path), [1.0, 0.0])
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    store.add(str(tmp_path / "broken.png"), [0.0, 1.0])
    events: list = []
    stats = backfill(store, [Recording(events)], before_each=lambda: events.append(("yield",
                                                                                      threading.get_ident())))
    assert stats.analysed == 4 and stats.skipped == 1 and "broken.png" in stats.skipped_files[0][0]
    here = threading.get_ident()
    analysed = [i for i, (what, _) in enumerate(events) if what == "analyse"]
    assert len(analysed) == 4 and all(events[i][1] == here for i in analysed)
    for i in analysed:  # right before each analysis, on the pass's own thread: a query in flight goes first
        assert events[i - 1] == ("yield", here)
    assert any(what == "yield" and thread != here for what, thread in events)  # and on the decode thread
    sizes = sorted(tuple(src["size_seen"]) for src in store.docs.values() if "size_seen" in src)
    assert sizes == [(80, 60), (81, 60), (82, 60), (83, 60)]
