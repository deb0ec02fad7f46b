"""The drop loop, for crashes rather than speed: N photos dropped on the real window, one after another, each
drop's first screen awaited — with the thumbnails cold (memory and disk caches emptied), after a restart (memory
emptied, disk kept) and warm, half of them idle and half while the window indexes new folders.

Run it under ``python -X faulthandler``: a crash (the SIGSEGV this loop once hit in 2 runs of 3) prints every
thread's stack and ends the process with a signal, so any exit but 0 is a failure. tests/app/test_drop_loop.py
runs it in CI with the tiny test models; the figure in the README comes from 500 drops with the full-size model:

    QT_QPA_PLATFORM=offscreen .venv/bin/python -X faulthandler benchmarks/drop_loop.py --drops 500
"""

from __future__ import annotations

import argparse
import itertools
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_stall import drop, first_screen_ready
from PIL import Image
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from imgsearch_desktop.app.main import App
from imgsearch_desktop.context import Context

BUCKETS = ("cold", "restarted", "warm")


def make_photos(folder: Path, count: int, size: tuple[int, int], seed: int) -> list[Path]:
    """Smooth random scenes (decode like photos, each different), written once."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        path = folder / f"IMG_{seed:03d}_{i:04d}.jpg"
        if not path.exists():
            small = Image.fromarray(rng.uniform(0, 255, (6, 8, 3)).astype(np.uint8))
            small.resize(size, Image.Resampling.BICUBIC).save(path, "JPEG", quality=90)
        out.append(path)
    return out


def imports(work: Path, count: int, size: tuple[int, int]) -> queue.Queue:
    """Folders of new photos (new content: nothing to reuse, every one decoded and embedded), made one after
    another on a thread while the drops go on, two ahead at most."""
    ready: queue.Queue = queue.Queue(maxsize=2)

    def make() -> None:
        for k in itertools.count(100):
            folder = work / f"import-{k}"
            make_photos(folder, count, size, seed=k)
            ready.put(folder)

    threading.Thread(target=make, name="imports", daemon=True).start()
    return ready


def forget_thumbnails(window, disk: bool) -> None:
    """What a restart forgets (the grid's pixmaps), and with ``disk`` the on-disk cache too."""
    loader = window.model.thumbnails
    loader.pool.waitForDone()
    window.model.pixmaps.clear()
    if disk:
        shutil.rmtree(loader.cache_dir, ignore_errors=True)
        loader.cache_dir.mkdir(parents=True, exist_ok=True)  # indexing may have made it again meanwhile


def wait_until(qapp, ready, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drops", type=int, default=500)
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    ap.add_argument("--image-model", help="default: the benchmarks' full-size random-init ViT-B/32")
    ap.add_argument("--text-model")
    ap.add_argument("--photos", type=int, default=60, help="photos per folder")
    ap.add_argument("--size", default="3000x2000", help="pixel size of the generated photos")
    ap.add_argument("--work", help="folder for photos and the app's home (default: a temporary one)")
    ap.add_argument("--timeout", type=float, default=120, help="seconds one drop may take before it counts as hung")
    args = ap.parse_args()

    if args.image_model is None or args.es_url is None:
        from _common import full_size_models, node_url

        clip, text = full_size_models()
        args.image_model, args.text_model = args.image_model or clip, args.text_model or text
        args.es_url = node_url(args.es_url)
    work = Path(args.work or tempfile.mkdtemp(prefix="drop-loop-"))
    size = tuple(int(x) for x in args.size.split("x"))
    originals = make_photos(work / "originals", args.photos, size, seed=1)
    library = work / "originals"
    new_folders = imports(work, args.photos, size)

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    ctx = Context(argparse.Namespace(home=str(work / f"home-{uuid.uuid4().hex[:6]}"), es_url=args.es_url,
                                     es_user=None, es_ca_cert=None, index=f"drop-loop-{uuid.uuid4().hex[:6]}",
                                     image_model=args.image_model, text_model=args.text_model or args.image_model,
                                     device="cpu", batch_size=8, backend="torch"))
    ctx.settings.folders = [str(library)]
    app = App(ctx, [], welcome=False)
    window = app.window
    window.resize(1280, 800)
    jobs: list[object] = []
    app.worker.finished.connect(jobs.append)
    counts = {"idle": 0, "indexing": 0}
    slowest = 0.0
    try:
        wait_until(qapp, lambda: bool(jobs), 600, "the first index of the library")
        for i in range(args.drops):
            busy = i >= args.drops // 2
            if busy and (jobs or i == args.drops // 2) and not new_folders.empty():  # the last import is indexed
                jobs.clear()
                app.add_folder(str(new_folders.get()))
            bucket = BUCKETS[i % len(BUCKETS)]
            if bucket != "warm":
                forget_thumbnails(window, disk=bucket == "cold")
            shown: list[int] = []
            window.results_shown.connect(shown.append)
            start = time.perf_counter()
            drop(window, originals[(i * 7) % len(originals)])
            wait_until(qapp, lambda shown=shown: bool(shown) and first_screen_ready(window), args.timeout,
                       f"drop {i + 1}")
            window.results_shown.disconnect(shown.append)
            slowest = max(slowest, time.perf_counter() - start)
            if not shown[-1]:
                raise SystemExit(f"drop {i + 1} showed no results")
            counts["indexing" if busy and not jobs else "idle"] += 1
    finally:
        app.shutdown()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{args.drops} drops, no crash: {counts['idle']} with the index idle, {counts['indexing']} while it "
          f"indexed; slowest drop → first screen {slowest * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
