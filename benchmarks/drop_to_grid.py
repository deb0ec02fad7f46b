"""Drop → grid at a 100,000-photo library: the real window, a real photo dropped, the first screen painted.

The index holds N documents (default 100,000) with clustered synthetic 512-d vectors; each is a hard link to one of
600 realistic 12 MP JPEGs, so every result is a distinct file whose thumbnail must really be decoded. The query is
a real photo, decoded and embedded by the full-size random-init ViT-B/32 (model warm). Measured per drop, p50/p95:

- query: decode + embed + kNN (the worker's ``QueryResult.seconds``);
- first screen: drop event → every result visible in the grid's viewport painted with its thumbnail;
- where that time goes: the query's own steps (``QueryResult.stages``: lookup, read + hash, decode, embed, phash,
  kNN, labels), the rest of the drop's way to the answer on the main thread, and answer → first screen;

in three thumbnail states: **restarted** (the disk cache holds what indexing wrote — indexing makes each photo's
thumbnail from its own decode, so the library's thumbnails are written here as it would have — and the window's
memory cache is empty, as after a restart), **warm** (the same drop again) and **uncached** (the results'
thumbnails removed from disk too: photos indexed by a version that wrote none); idle, and while the window indexes
a folder of new 12 MP photos. Also the worst main-thread stall during the drops, and the indexing rate of those
photos with no drops against the rate while the drops run (the rate indexing gives up to the queries).

The library's index and thumbnails are kept between runs (one index per backend).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/drop_to_grid.py [--n 100000 --drops 20 --backend onnx-int8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import CACHE, embedder_for, full_size_models, node_url, photo_folder, print_table, subset
from elasticsearch import helpers
from gui_stall import StallMeter, drop, first_screen_ready, visible_count, wait_for
from knn import centres, photos
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from imgsearch_desktop.app.main import App
from imgsearch_desktop.context import Context
from imgsearch_desktop.core import ahead, thumbs
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import Connection, Store, doc_id
from imgsearch_desktop.core.thumbs import ThumbCache

ORIGINALS = 600  # the photos the library's documents are hard links to (the imports below use 200 … 599 again)


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
    client.options(request_timeout=3600).indices.forcemerge(index=store.index, max_num_segments=1)


def library_index(client, n: int, backend: str, embedder, paths: list[str]) -> tuple[Store, str]:
    """The N-document index for this backend's model, kept between runs; (store, what it cost)."""
    store = Store(client, f"bench-drop-{n}-{backend}")
    store.use_index(embedder.model_id, embedder.dims)
    if store.count() == n:
        return store, "kept from an earlier run"
    start = time.perf_counter()
    fill(client, store, paths, embedder.dims)
    return store, f"written in {time.perf_counter() - start:.0f} s"


def thumbnails_as_indexed(cache: ThumbCache, paths: list[str], originals: list) -> None:
    """The disk thumbnails indexing would have written for these files (each is a hard link to an original, so
    its thumbnail is the original's), made once."""
    done = cache.folder / f".complete-{len(paths)}"
    if done.exists():
        return
    made = {str(o): thumbs.make(str(o)) for o in originals}
    for i, path in enumerate(paths):
        st = os.stat(path)
        cache.put(thumbs.key(path, st.st_mtime_ns, st.st_size), made[str(originals[i % len(originals)])])
    done.touch()


def forget_thumbnails(window, paths: list[str] = ()) -> None:
    """A restart: the grid's memory cache emptied; and the disk thumbnails of ``paths`` removed."""
    loader = window.model.thumbnails
    loader.pool.waitForDone()
    window.model.pixmaps.clear()
    for path in paths:
        key = thumbs.key_now(path, loader.px)
        if key is not None:
            loader.cache.file(key).unlink(missing_ok=True)


def run_drops(qapp, window, queries, count: int, until=lambda: False, pace: float = 0.0) -> dict[str, list[float]]:
    """Per query: after a restart, warm, then with its results' thumbnails gone from disk too; the main thread's
    worst stall is measured from each drop to its first screen. Stops early once ``until()`` (indexing finished):
    every drop of the busy phase overlaps indexing. ``pace``: seconds from one drop to the next (0: at once)."""
    times: dict[str, list[float]] = {"restarted": [], "warm": [], "uncached": [], "query": [], "stall": []}
    profile: list[dict[str, float]] = []  # per drop: the query's stages, the rest of its way, its first screen
    meter = StallMeter()
    began = began_last = time.perf_counter()
    for i in range(count):
        if until():
            break
        for bucket in ("restarted", "warm", "uncached"):
            if bucket == "restarted":
                forget_thumbnails(window)
            elif bucket == "uncached":
                forget_thumbnails(window, [h.path for h in window.model.hits])
            if pace:  # a person's pace: the next drop comes ``pace`` s after the last one began
                while time.perf_counter() < began_last + pace:
                    qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 20)
            meter.start()
            start = began_last = time.perf_counter()
            drop(window, queries[i % len(queries)])
            wait_for(window.results_shown)
            shown = time.perf_counter()
            while not first_screen_ready(window):
                qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)
            times[bucket].append((time.perf_counter() - start) * 1000)
            meter.stop()
            times["stall"].append(max(meter.gaps, default=0.0))
            result = window.last_result
            if bucket == "warm":
                times["query"].append(result.seconds * 1000)
            query_ms = result.seconds * 1000
            profile.append({**result.stages, "query, in no stage": query_ms - sum(result.stages.values()),
                            "drop → answer on the main thread, besides the query": (shown - start) * 1000 - query_ms,
                            f"answer → first screen painted, {bucket}": times[bucket][-1] - (shown - start) * 1000})
    times["profile"] = profile
    # How much of the phase a drop was in flight (drop → first screen), when indexing yields to it: what the
    # indexing rate can lose, at this benchmark's pace of one drop right after another.
    times["in flight"] = [sum(sum(times[b]) for b in ("restarted", "warm", "uncached"))
                          / ((time.perf_counter() - began) * 1000)]
    return times


def profile_rows(label: str, profile: list[dict[str, float]]) -> list[tuple[str, str]]:
    """The query path's breakdown: p50 / p95 of each step over the drops that ran it."""
    steps = list(dict.fromkeys(step for drop_ in profile for step in drop_))
    rows = []
    for step in steps:
        ms = np.array([d[step] for d in profile if step in d])
        rows.append((f"{label}: {step}", f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 95):.1f} ms"))
    return rows


def index_folder(qapp, app, folder, during=None) -> tuple[float, dict | None]:
    """Add a folder of new photos and wait until the window has indexed it: (photos per second, ``during``'s
    outcome — run while it indexes)."""
    done: list[object] = []
    app.worker.finished.connect(done.append)
    app.add_folder(str(folder))
    outcome = during(lambda: bool(done)) if during else None
    while not done:
        qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
    app.worker.finished.disconnect(done.append)
    return done[-1].rate, outcome


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--drops", type=int, default=20)
    ap.add_argument("--backend", default="torch", help="torch, onnx-fp32 or onnx-int8")
    ap.add_argument("--decode-nice", type=int, default=ahead.BACKGROUND_NICE,
                    help="priority of indexing's decode threads (0 = the same as the window's)")
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    ap.add_argument("--analyses", action="store_true", help="leave faces and text in photos on (default: off)")
    ap.add_argument("--pace", type=float, default=0.0,
                    help="while indexing, seconds from one drop to the next (default 0: one right after another)")
    ap.add_argument("--prepare", action="store_true",
                    help="only write (or find) the index and the thumbnails, then stop: the slow part, done ahead")
    args = ap.parse_args()
    ahead.BACKGROUND_NICE = args.decode_nice

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    clip, text = full_size_models()
    embedder = embedder_for(args.backend, clip, text, 32)
    folder = photo_folder(ORIGINALS)
    originals = [folder / f"img{i:04d}.jpg" for i in range(ORIGINALS)]  # a fixed list: the cached links map to it
    paths = linked_library(args.n, originals)
    url = node_url(args.es_url)
    client = Connection(url).client(request_timeout=600)
    store, cost = library_index(client, args.n, args.backend, embedder, paths)
    print(f"{args.n:,} documents: index {cost}", flush=True)
    home = CACHE / f"drop-home-{args.n}"
    ctx = Context(argparse.Namespace(home=str(home), es_url=url, es_user=None, es_ca_cert=None, index=store.alias,
                                     image_model=embedder.image_model_name, text_model=embedder.text_model_name,
                                     device="cpu", batch_size=32, backend="torch"))  # the models named decide
    ctx.settings.folders = []  # the library's documents are synthetic; only the new photos below are watched
    # Faces and text off: "while indexing" is the CLIP pass that makes photos searchable. With them on, the
    # analyses phase after each job reads every synthetic document's 12 MP photo (hours at 100,000), and the
    # second import would wait behind it.
    ctx.settings.faces = ctx.settings.text = args.analyses
    ctx.settings.save(ctx.dirs)
    start = time.perf_counter()
    thumbnails_as_indexed(ctx.thumbnails(), paths, originals)
    print(f"thumbnails as indexing writes them: {time.perf_counter() - start:.0f} s", flush=True)
    if args.prepare:
        return 0
    app = App(ctx, [], welcome=False)
    app.window.resize(1280, 800)
    wait_for(app.worker.ready)
    queries = [originals[i * 9 % len(originals)] for i in range(args.drops)]
    rows, profiles = [], []
    imports = []
    try:
        run_drops(qapp, app.window, queries, 2)  # warm-up: model, caches, first paint
        idle = run_drops(qapp, app.window, queries, args.drops)
        imports.append(subset(200, "alone", first=200))
        alone, _ = index_folder(qapp, app, imports[-1])
        imports.append(subset(200, "drops", first=400))
        shared, busy = index_folder(qapp, app, imports[-1],
                                    lambda ended: run_drops(qapp, app.window, queries, args.drops, until=ended,
                                                            pace=args.pace))
        print(f"{visible_count(app.window)} results on the first screen (1280×800 window, 50 results)")
        paced = f", a drop every {args.pace:g} s" if args.pace else ""
        for label, times in (("idle", idle), (f"indexing 200 new photos ({len(busy['warm'])} queries × 3 drops "
                                              f"before it ended{paced})", busy)):
            for key, name in (("query", "query: decode + embed + kNN"),
                              ("restarted", "drop → first screen painted, after a restart"),
                              ("warm", "drop → first screen painted, warm"),
                              ("uncached", "drop → first screen painted, no thumbnail on disk")):
                ms = np.array(times[key])
                rows.append((f"{label}: {name}", f"{np.percentile(ms, 50):.0f} / {np.percentile(ms, 95):.0f} ms"))
            rows.append((f"{label}: worst main-thread stall, drop → first screen", f"{max(times['stall']):.0f} ms"))
            profiles.append(profile_rows(label.split(" (")[0], times["profile"]))
        rows.append(("indexing rate, no drops / during the drops",
                     f"{alone:.1f} / {shared:.1f} photos/s ({(1 - shared / alone) * 100:.0f}% given to the queries)"))
        rows.append(("indexing: share of the time a drop was in flight (drop → first screen)",
                     f"{busy['in flight'][0] * 100:.0f}%"))
    finally:
        app.shutdown()
        ctx.settings.folders = []
        ctx.settings.save(ctx.dirs)
        # What the window indexed is labelled with its library id: removed as that library, the index stays N photos.
        imported = Store(client, store.alias, library=ctx.library)
        imported.use_index(embedder.model_id, embedder.dims)
        Indexer(imported, embedder).remove_paths([str(f) for f in imports])
        for folder in imports:
            shutil.rmtree(folder, ignore_errors=True)
    print_table(("measure (p50 / p95)", f"{args.backend}, {args.n:,} photos"), rows)
    print_table(("where a drop's time goes (p50 / p95 over every drop)", f"{args.backend}, {args.n:,} photos"),
                [row for rows_ in profiles for row in rows_])
    return 0


if __name__ == "__main__":
    sys.exit(main())
