"""The library's timeline at 100,000 photos: frames over 50 ms while scrolling through all of it, how long a screen
of thumbnails takes to appear after a scrubber jump, and the window's memory.

The real App (window, worker, the tiny model: no photo is embedded here) on an index of N documents (default
100,000) written straight through the store's bulk write: each a real small JPEG on disk (benchmarks/memory.py's
folder of 96×72 photos), its date spread over ten years with a month of a tenth of them (a phone's import: deep
pages in it are reached by seeking), and its thumbnail already in the disk cache, as indexing leaves it. The index
and the thumbnails are kept between runs.

- scroll: one screen a frame (16 ms) from the newest photo to the oldest, a 2 ms main-thread ticker records the
  gaps; a gap over 50 ms is a frame the window could not paint in time;
- jump: to a random place on the scrubber (a month's start, or deep inside the big month), until every tile on
  screen shows its thumbnail; p50 / p95;
- memory: the process's RSS with the window idle on the library, and after the scroll and the jumps; the
  photos and thumbnails the timeline held at the end.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/timeline_scroll.py [--n 100000 --jumps 40]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import CACHE, node_url, print_table
from gui_stall import StallMeter, wait_for
from memory import rss_mb, small_photos, tiny_models
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from imgsearch_desktop.app import timeline_model
from imgsearch_desktop.app.main import App
from imgsearch_desktop.context import Context
from imgsearch_desktop.core import thumbs
from imgsearch_desktop.core.store import PhotoDoc, Store

FRAME_MS = 16
SLOW_MS = 50


def synthetic_date(i: int) -> str | None:
    """A tenth of the photos in June 2019; the rest over 2015–2024; one in a thousand undated."""
    if i % 1000 == 999:
        return None
    if i % 10 == 0:
        return f"2019-06-{1 + i % 30:02d}T{i % 24:02d}:00:00"
    month = (i * 7919) % 120
    return f"{2015 + month // 12}-{1 + month % 12:02d}-{1 + i % 28:02d}T12:00:00"


def fill(store: Store, paths: list[Path], cache: thumbs.ThumbCache) -> None:
    """N documents (one fixed unit vector: nothing here searches by similarity) and their cached thumbnails."""
    meta = next(iter(store.client.indices.get_mapping(index=store.index).values()))["mappings"]["_meta"]
    unit = [1.0] + [0.0] * (meta["dims"] - 1)
    for start in range(0, len(paths), 5000):
        docs = []
        for i in range(start, min(len(paths), start + 5000)):
            st = paths[i].stat()
            taken = synthetic_date(i)
            docs.append(PhotoDoc(path=str(paths[i]), root=str(paths[0].parents[1]), library=store.library,
                                 sha256=f"{i:064x}", vector=unit, size=st.st_size,
                                 mtime_ns=st.st_mtime_ns if taken else 0, taken_at=taken, width=96, height=72,
                                 format="JPEG"))
            cache.put(thumbs.key(str(paths[i]), st.st_mtime_ns, st.st_size, cache.px), paths[i].read_bytes())
        failed = store.write(docs)
        assert not failed, failed[:3]
    store.refresh()


def settle(qapp, done, timeout_s: float = 60.0) -> float:
    """Run the event loop until ``done()``; seconds it took."""
    t0 = time.perf_counter()
    while not done():
        if time.perf_counter() - t0 > timeout_s:
            raise TimeoutError("the timeline did not settle")
        qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--jumps", type=int, default=40)
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    args = ap.parse_args()

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    clip, text = tiny_models()
    folder = small_photos(args.n)
    paths = sorted(folder.rglob("*.jpg"))[: args.n]
    home = CACHE / f"timeline-home-{args.n}"  # kept: the library id, the thumbnails and the index stay valid
    ctx = Context(argparse.Namespace(home=str(home), es_url=node_url(args.es_url), es_user=None, es_ca_cert=None,
                                     index=f"bench-timeline-{args.n}", image_model=clip, text_model=text,
                                     device="cpu", batch_size=32, backend="torch"))
    ctx.settings.folders = []  # nothing to scan: the documents are written below
    app = App(ctx, [], welcome=False)
    window = app.window
    window.resize(1280, 820)
    wait_for(app.worker.ready)
    store = app.worker.store
    started = time.perf_counter()
    if store.count() < args.n:
        fill(store, paths, thumbs.ThumbCache(ctx.dirs.cache / "thumbnails", 256))
        print(f"wrote {args.n:,} documents and thumbnails in {time.perf_counter() - started:.0f} s")
        window.library.refresh()
    view = window.library
    model, grid = view.model, view.grid
    bar = grid.verticalScrollBar()
    settle(qapp, lambda: model.rowCount() == args.n)

    def ready() -> bool:
        first, last = grid.visible_rows()
        return last >= first and model.thumbnails_ready(first, last)

    settle(qapp, ready)
    idle_rss = rss_mb(os.getpid())

    # Scroll: one screen a frame, newest to oldest.
    meter = StallMeter()
    stepper = QTimer()
    stepper.setInterval(FRAME_MS)
    stepper.timeout.connect(lambda: bar.setValue(bar.value() + bar.pageStep()))
    meter.start()
    t0 = time.perf_counter()
    stepper.start()
    settle(qapp, lambda: bar.value() >= bar.maximum(), timeout_s=3600)
    stepper.stop()
    meter.stop()
    scroll_s = time.perf_counter() - t0
    gaps = np.array(meter.gaps)
    frames = bar.maximum() // max(1, bar.pageStep())

    # Jumps: a month's start, or deep inside the big month.
    rng = random.Random(0)
    jump_ms, jump_meter = [], StallMeter()
    jump_meter.start()
    big = max(range(len(model.groups)), key=lambda i: model.groups[i].count)
    for _ in range(args.jumps):
        deep = rng.random() < 0.3
        where = rng.random() if deep else rng.randrange(len(model.groups))
        t0 = time.perf_counter()
        if deep:
            span = grid.tops[big + 1] - grid.tops[big] if big + 1 < len(grid.tops) else 1
            bar.setValue(grid.tops[big] + int(where * span))
        else:
            view.scrubber.jump.emit(where)
        settle(qapp, ready)
        jump_ms.append((time.perf_counter() - t0) * 1000)
    jump_meter.stop()
    after_rss = rss_mb(os.getpid())
    held, pixmaps = model.loaded_rows(), len(model.pixmaps)
    app.shutdown()

    ms = np.array(jump_ms)
    jump_gaps = np.array(jump_meter.gaps)
    print(f"{args.n:,} photos in {len(model.groups)} month groups; screen: {grid.cols} columns; "
          f"run {uuid.uuid4().hex[:6]}")
    print_table(("measure", "value"), [
        (f"scroll through all {args.n:,} photos, one screen a frame ({frames:,} frames, {scroll_s:.1f} s)",
         f"{int((gaps > SLOW_MS).sum())} frames over {SLOW_MS} ms; worst {gaps.max():.0f} ms; "
         f"p99 gap {np.percentile(gaps, 99):.0f} ms"),
        (f"scrubber jump → a screen of thumbnails, {args.jumps} jumps, p50 / p95",
         f"{np.percentile(ms, 50):.0f} / {np.percentile(ms, 95):.0f} ms"),
        ("worst main-thread gap during the jumps", f"{jump_gaps.max():.0f} ms"),
        ("window RSS: library shown, idle / after scroll and jumps", f"{idle_rss:.0f} / {after_rss:.0f} MB"),
        ("held by the timeline at the end: photos / thumbnails",
         f"{held:,} (≤ {timeline_model.MAX_PAGES * timeline_model.PAGE:,}) / {pixmaps}"),
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
