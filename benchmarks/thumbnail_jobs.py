"""Where a first screen's thumbnails wait: benchmarks/drop_to_grid.py with each thumbnail job timed.

For every job the window's ThumbnailLoader runs: how long it waited in the pool's queue (request → start) and how
long it ran (read from the disk cache, or made from the photo, decoded, centred), split into the idle drops and the
drops while indexing. Same arguments as drop_to_grid.py, whose tables it prints first:

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/thumbnail_jobs.py --n 100000 --backend onnx-int8
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import drop_to_grid
from _common import print_table

from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.core import thumbs

PHASE = ["idle"]
TIMES: dict[str, list[tuple[float, float]]] = {}  # "<phase>, <from disk | made>" → (queued ms, ran ms) per job
ASKED: dict[tuple[str, int | None], tuple[float, str]] = {}  # → (asked at, "from disk" or "made from the photo")


def main() -> int:
    real_request, real_job, real_index = ThumbnailLoader.request, ThumbnailLoader._job, drop_to_grid.index_folder

    def request(self, path, urgent=False, cell=None):
        key = thumbs.key_now(path, self.px)
        cached = key is not None and self.cache.file(key).exists()
        ASKED[(path, cell)] = (time.perf_counter(), "from disk" if cached else "made from the photo")
        return real_request(self, path, urgent, cell)

    def job(self, path, key, generation, cell=None):
        start = time.perf_counter()
        real_job(self, path, key, generation, cell)
        if PHASE[0] != "not measured" and (path, cell) in ASKED:
            asked, source = ASKED[(path, cell)]
            TIMES.setdefault(f"{PHASE[0]}, {source}", []).append(((start - asked) * 1000,
                                                                  (time.perf_counter() - start) * 1000))

    def index_folder(qapp, app, folder, during=None):
        PHASE[0] = "indexing" if during is not None else "not measured"  # the import without drops has none
        try:
            return real_index(qapp, app, folder, during)
        finally:
            PHASE[0] = "not measured"

    ThumbnailLoader.request, ThumbnailLoader._job, drop_to_grid.index_folder = request, job, index_folder
    drop_to_grid.main()
    rows = []
    for phase, times in sorted(TIMES.items()):  # every entry holds at least one job
        queued, ran = np.array(times).T
        rows.append((f"{phase}: {len(times)} jobs", *(f"{np.percentile(a, 50):.1f} / {np.percentile(a, 95):.1f}"
                                                     f" / {a.max():.1f} ms" for a in (queued, ran))))
    print_table(("thumbnail jobs", "queued p50 / p95 / max", "ran p50 / p95 / max"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
