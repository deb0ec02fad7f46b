"""GUI responsiveness: the worst main-thread stall while the window indexes 200 photos, and drop → grid latency.

A 2 ms QTimer on the main thread records the gap between its ticks while the real App (window, indexer thread,
thumbnail pool) indexes a folder of realistic 12 MP JPEGs with a full-size random-init ViT-B/32 and answers drops.
A gap far above 2 ms is time the main thread could not paint.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_stall.py [--n 200 --drops 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import CACHE, full_size_models, node_url, photo_folder, print_table
from PySide6.QtCore import QElapsedTimer, QEventLoop, QMimeData, QObject, QPoint, QPointF, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from imgsearch_desktop.app.main import App
from imgsearch_desktop.context import Context


class StallMeter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.gaps: list[float] = []
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(2)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self.clock.start()
        self.timer.start()

    @Slot()
    def start_once(self) -> None:
        if not self.timer.isActive():
            self.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        self.gaps.append(self.clock.restart())


def wait_for(signal, timeout_ms: int = 600_000):
    loop = QEventLoop()
    got = []

    def slot(*a) -> None:
        got.append(a)
        loop.quit()

    signal.connect(slot)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(slot)  # callers wait on the same signal many times
    if not got:
        raise TimeoutError(f"no signal within {timeout_ms} ms")
    return got[0]


def drop(window, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, QDragEnterEvent(QPoint(400, 300), *args))
    QApplication.sendEvent(window, QDropEvent(QPointF(400, 300), *args))


def first_screen_ready(window) -> bool:
    """Every result whose cell intersects the grid's viewport has its thumbnail."""
    grid, model = window.grid, window.model
    if model.rowCount() == 0:
        return False
    area = grid.viewport().rect()
    return all(model.hits[row].path in model.pixmaps for row in range(model.rowCount())
               if grid.visualRect(model.index(row)).intersects(area))


def visible_count(window) -> int:
    area = window.grid.viewport().rect()
    return sum(window.grid.visualRect(window.model.index(r)).intersects(area) for r in range(window.model.rowCount()))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--drops", type=int, default=10)
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    args = ap.parse_args()

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    clip, text = full_size_models()
    folder = photo_folder(args.n)
    home = CACHE / f"gui-home-{uuid.uuid4().hex[:6]}"
    url = node_url(args.es_url)
    ctx = Context(argparse.Namespace(home=str(home), es_url=url, es_user=None, es_ca_cert=None,
                                     index=f"bench-gui-{uuid.uuid4().hex[:6]}", image_model=clip, text_model=text,
                                     device="cpu", batch_size=32, backend="torch"))
    ctx.settings.folders = [str(folder)]
    startup, meter = StallMeter(), StallMeter()
    app = App(ctx, [], welcome=False)
    startup.start()  # window up; Elasticsearch and the models load in the background
    wait_for(app.worker.ready)
    startup.stop()
    app.worker.progress.connect(meter.start_once)  # from the first batch on (queued to this main thread)
    started = time.perf_counter()
    stats = wait_for(app.worker.finished)[0]
    seconds = time.perf_counter() - started
    meter.stop()
    index_gaps = np.array(meter.gaps)
    startup_gaps = np.array(startup.gaps[3:])  # the first ticks include the window's first paint

    window = app.window
    files = sorted(folder.glob("*.jpg"))
    cold, warm = [], []
    for i in range(args.drops):
        for bucket in (cold, warm):  # first drop of a photo: thumbnails decoded; second: from the cache
            t0 = time.perf_counter()
            drop(window, files[(i * 7) % len(files)])
            wait_for(window.results_shown)
            while not window.model.thumbnails_ready():
                qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)  # no busy loop on a core
            bucket.append(time.perf_counter() - t0)
    app.shutdown()
    app.worker.store.drop()

    print(f"indexed {stats.indexed} photos in {seconds:.1f} s ({stats.indexed / seconds:.1f} img/s, window up)")
    rows = [(f"worst main-thread stall while indexing {args.n} photos", f"{index_gaps.max():.0f} ms"),
            ("p99 main-thread tick gap while indexing", f"{np.percentile(index_gaps, 99):.0f} ms"),
            ("worst main-thread stall while the models load (window up)", f"{startup_gaps.max():.0f} ms")]
    for name, vals in (("cold thumbnail cache", cold), ("warm thumbnail cache", warm)):
        ms = np.array(vals) * 1000
        rows.append((f"drop → grid painted, {name}, p50 / p95",
                     f"{np.percentile(ms, 50):.0f} / {np.percentile(ms, 95):.0f} ms"))
    print_table(("measure", "value"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
