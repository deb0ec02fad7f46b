"""Drop → grid at a 100,000-photo library: the real window, a real photo dropped, the first screen painted.

The index holds N documents (default 100,000) with clustered synthetic 512-d vectors; each is a hard link to one of
200 realistic 12 MP JPEGs, so every result is a distinct file whose thumbnail must really be decoded. The query is
a real photo, decoded and embedded by the full-size random-init ViT-B/32 (model warm). Measured per drop, p50/p95:

- query: decode + embed + kNN (the worker's ``QueryResult.seconds``);
- first screen: drop event → every result visible in the grid's viewport painted with its thumbnail;
with the thumbnail cache cold (memory and disk cleared before the drop) and warm (the same drop again), idle and
while the window indexes a folder of new 12 MP photos. Also the worst main-thread stall during the drops.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/drop_to_grid.py [--n 100000 --drops 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import uuid

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import CACHE, embedder_for, full_size_models, node_url, photo_folder, print_table, subset
from elasticsearch import helpers
from gui_stall import StallMeter, drop, wait_for
from knn import centres, photos
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from imgsearch_desktop.app.main import App
from imgsearch_desktop.context import Context
from imgsearch_desktop.core import pipeline
from imgsearch_desktop.core.store import Connection, Store, doc_id


def linked_library(n: int, originals: list) -> list[str]:
    """N distinct paths (hard links to the originals), made once and cached."""
    folder = CACHE / f"library-{n}"
    paths = [folder / f"{i // 1000:03d}" / f"IMG_{i:06d}.jpg" for i in range(n)]
    if not (folder / ".complete").exists():
        for i, path in enumerate(paths):
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                os.link(originals[i % len(originals)], path)
        (folder / ".complete").touch()
    return [str(p) for p in paths]


def fill(client, store: Store, paths: list[str], dims: int) -> None:
    vectors = photos(centres(2000, dims, 0), len(paths), 1)
    root = str(CACHE / "library-root-synthetic")  # not a watched folder: reconciling never touches these
    actions = ({"_index": store.index, "_id": doc_id(p),
                "_source": {"image_id": doc_id(p), "image_name": os.path.basename(p), "relative_path": p,
                            "path": p, "folder": os.path.dirname(p), "root": root, "width": 4000, "height": 3000,
                            "format": "JPEG", "size": 4_000_000, "mtime_ns": 0, "image_embedding": v.tolist()}}
               for p, v in zip(paths, vectors, strict=True))
    for ok, item in helpers.streaming_bulk(client, actions, chunk_size=1000, max_retries=5):
        assert ok, item
    store.refresh()
    client.indices.forcemerge(index=store.index, max_num_segments=1, request_timeout=3600)


def first_screen_ready(window) -> bool:
    """Every result whose cell intersects the grid's viewport has its thumbnail."""
    grid, model = window.grid, window.model
    if model.rowCount() == 0:
        return False
    area = grid.viewport().rect()
    for row in range(model.rowCount()):
        if grid.visualRect(model.index(row)).intersects(area) and model.hits[row].path not in model.pixmaps:
            return False
    return True


def visible_count(window) -> int:
    area = window.grid.viewport().rect()
    return sum(window.grid.visualRect(window.model.index(r)).intersects(area) for r in range(window.model.rowCount()))


def clear_thumbnails(window) -> None:
    loader = window.model.thumbnails
    loader.pool.waitForDone()
    window.model.pixmaps.clear()
    shutil.rmtree(loader.cache_dir, ignore_errors=True)
    loader.cache_dir.mkdir(parents=True)


def run_drops(qapp, window, queries, count: int, until=lambda: False) -> dict[str, list[float]]:
    """Per drop: cold then warm; the main thread's worst stall is measured from each drop to its first screen.
    Stops early once ``until()`` (indexing finished): every drop of the busy phase overlaps indexing."""
    times: dict[str, list[float]] = {"cold": [], "warm": [], "query": [], "stall": []}
    meter = StallMeter()
    for i in range(count):
        if until():
            break
        for bucket in ("cold", "warm"):
            if bucket == "cold":
                clear_thumbnails(window)
            meter.start()
            start = time.perf_counter()
            drop(window, queries[i % len(queries)])
            wait_for(window.results_shown)
            while not first_screen_ready(window):
                qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)
            times[bucket].append((time.perf_counter() - start) * 1000)
            meter.stop()
            times["stall"].append(max(meter.gaps, default=0.0))
            if bucket == "warm":
                times["query"].append(window.last_result.seconds * 1000)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--drops", type=int, default=20)
    ap.add_argument("--backend", default="torch", help="torch, onnx-fp32 or onnx-int8")
    ap.add_argument("--decode-nice", type=int, default=pipeline.BACKGROUND_NICE,
                    help="priority of indexing's decode threads (0 = the same as the window's)")
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    args = ap.parse_args()
    pipeline.BACKGROUND_NICE = args.decode_nice

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    clip, text = full_size_models()
    embedder = embedder_for(args.backend, clip, text, 32)
    originals = sorted(photo_folder(200).glob("*.jpg"))
    paths = linked_library(args.n, originals)
    url = node_url(args.es_url)
    client = Connection(url).client(request_timeout=600)
    alias = f"bench-drop-{uuid.uuid4().hex[:6]}"
    store = Store(client, alias)
    store.open(embedder.model_id, embedder.dims)
    start = time.perf_counter()
    fill(client, store, paths, embedder.dims)
    print(f"{args.n:,} documents indexed in {time.perf_counter() - start:.0f} s")

    ctx = Context(argparse.Namespace(home=str(CACHE / f"drop-home-{uuid.uuid4().hex[:6]}"), es_url=url,
                                     es_user=None, es_ca_cert=None, index=alias,
                                     image_model=embedder.image_model_name, text_model=embedder.text_model_name,
                                     device="cpu", batch_size=32))
    app = App(ctx, [], welcome=False)
    app.window.resize(1280, 800)
    wait_for(app.worker.ready)
    queries = [originals[i * 9 % len(originals)] for i in range(args.drops)]
    rows = []
    new_photos = None
    try:
        run_drops(qapp, app.window, queries, 2)  # warm-up: model, caches, first paint
        idle = run_drops(qapp, app.window, queries, args.drops)
        new_photos = subset(200, "drop")  # fresh 12 MP photos to index while dropping
        done: list[object] = []
        app.worker.finished.connect(done.append)
        app.add_folder(str(new_photos))  # as the user does: the worker starts indexing it
        busy = run_drops(qapp, app.window, queries, args.drops, until=lambda: bool(done))
        print(f"{visible_count(app.window)} results on the first screen (1280×800 window, 50 results)")
        for label, times in (("idle", idle), (f"indexing 200 new photos ({len(busy['warm'])} drops before it ended)",
                                              busy)):
            for key, name in (("query", "query: decode + embed + kNN"),
                              ("warm", "drop → first screen painted, warm thumbnails"),
                              ("cold", "drop → first screen painted, cold thumbnails")):
                ms = np.array(times[key])
                rows.append((f"{label}: {name}", f"{np.percentile(ms, 50):.0f} / {np.percentile(ms, 95):.0f} ms"))
            rows.append((f"{label}: worst main-thread stall, drop → first screen", f"{max(times['stall']):.0f} ms"))
    finally:
        app.shutdown()
        store.drop()
        if new_photos is not None:
            shutil.rmtree(new_photos, ignore_errors=True)
    print_table(("measure (p50 / p95)", "value"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
