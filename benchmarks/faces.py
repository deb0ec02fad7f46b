"""Faces benchmark: the faces analysis on 12 MP JPEGs with 0–3 faces, and "folder chosen → first search" with and
without faces.

Photos: realistic 12 MP JPEGs (benchmarks/_common.py) with 0, 1, 2 or 3 real faces pasted in (tests/faces/, each
face 10–15% of the photo's longest side, as in a portrait or a few people at a table). Reported:
  photos/s of the faces analysis (read + decode at the analysis size + detect + describe) as the background pass
  runs it (one process, the next photo decoded on another thread), the same with each photo decoded in turn, the
  pass with dlib computing the descriptor itself (the pass before: the same network, on dlib, not ONNX Runtime),
  and two processes; ms per face (the slope over the face count);
  search-ready seconds (the CLIP pass: indexing writes and refreshes before any analysis) with faces off and on,
  and the whole job's seconds with faces (``--search-ready``: needs the benchmarks' node and the full-size model).

  clustering (``--cluster N``): N synthetic descriptors (people of 40 faces each, as many strangers as faces in
  people / 2 — random points, so no real-face claim), placed by core/people's grouping: seconds and peak memory.

    .venv/bin/python benchmarks/faces.py [--per-count 8] [--search-ready] [--cluster 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path

from _common import CACHE, print_table, realistic_jpeg
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imgsearch_desktop.core import images  # noqa: E402
from imgsearch_desktop.core.analyses.backfill import decoded  # noqa: E402
from imgsearch_desktop.core.analyses.face_descriptor import DlibDescriptor  # noqa: E402
from imgsearch_desktop.core.analyses.faces import DlibFaceModel, FacesAnalysis  # noqa: E402
from imgsearch_desktop.core.analyses.native import native  # noqa: E402

FACES = ["obama.jpg", "biden.jpg", "astronaut.png", "obama2.jpg"]


def face_crops() -> list[Image.Image]:
    """Head-and-shoulders crops around each test photo's face (found once with the analysis itself)."""
    analysis, out = FacesAnalysis(), []
    for name in FACES:
        im = Image.open(ROOT / "tests" / "faces" / name).convert("RGB")
        x, y, w, h = analysis.analyse(im, im.size)["faces"][0]["box"]
        out.append(im.crop((max(0, x - w // 2), max(0, y - h // 2), min(im.width, x + w * 3 // 2),
                            min(im.height, y + h * 3 // 2))))
    return out


def photos(per_count: int) -> dict[int, list[Path]]:
    folder = CACHE / "faces12mp"
    folder.mkdir(parents=True, exist_ok=True)
    crops = face_crops()
    out: dict[int, list[Path]] = {}
    for count in range(4):
        for i in range(per_count):
            path = folder / f"f{count}-{i:03d}.jpg"
            if not path.exists():
                realistic_jpeg(path, 10_000 + 100 * count + i)
                im = Image.open(path).convert("RGB")
                for j in range(count):
                    crop = crops[(i + j) % len(crops)]
                    side = 800 + 150 * ((i + j) % 3)  # the face is half the crop: 400–550 px of 4000
                    crop = crop.resize((side, round(side * crop.height / crop.width)))
                    im.paste(crop, (200 + j * 1250, 600 + 300 * (j % 2)))
                im.save(path, "JPEG", quality=92)
            out.setdefault(count, []).append(path)
    return out


@cache
def dlib_descriptor_model() -> DlibFaceModel:
    return native(DlibFaceModel, descriptor=DlibDescriptor)


def analyse(paths: list[Path], ahead: bool = True, dlib_descriptor: bool = False) -> int:
    """The faces of ``paths`` as the background pass finds them: decoded a photo ahead on another thread
    (backfill.decoded), or, with ``ahead`` False, read and decoded in turn on this one; ``dlib_descriptor``: dlib
    computes the descriptor (the pass before), not ONNX Runtime."""
    analysis = FacesAnalysis(dlib_descriptor_model() if dlib_descriptor else None)  # both made once a process
    if ahead:
        return sum(len(photo.analyse([analysis])["faces"])
                   for _, _, photo in decoded(((p, str(p)) for p in paths), [analysis]))
    photos = ((d.image, (d.width, d.height))
              for d in (images.decode(images.read_file(p), analysis.decode_side, name=str(p)) for p in paths))
    return sum(len(analysis.analyse(image, size)["faces"]) for image, size in photos)


def rate(paths: list[Path], workers: int, ahead: bool = True, dlib_descriptor: bool = False) -> tuple[float, int]:
    """photos/s of ``workers`` processes, each running the pass on its share of ``paths``."""
    shares = [paths[i::workers] for i in range(workers)]
    # spawned: a clean process each (forking one that runs threads is unsafe), its model loaded below
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        flags = [ahead] * workers, [dlib_descriptor] * workers
        list(pool.map(analyse, [[p] for p in paths[:workers]], *flags))  # each process loads the model first
        start = time.perf_counter()
        found = sum(pool.map(analyse, shares, *flags))
    return len(paths) / (time.perf_counter() - start), found


def search_ready(paths: list[Path]) -> list[tuple[str, ...]]:
    import shutil
    import uuid

    from _common import embedder_for, full_size_models, node_url

    from imgsearch_desktop.core.pipeline import Indexer
    from imgsearch_desktop.core.store import Connection, Store

    clip, text = full_size_models()
    embedder = embedder_for("torch", clip, text, 32)
    client = Connection(node_url(None)).client()
    rows = []
    for faces in (False, True):
        folder = CACHE / f"ready-{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        for p in paths:
            shutil.copy(p, folder / p.name)
        store = Store(client, f"bench-faces-{uuid.uuid4().hex[:6]}")
        store.use_index(embedder.model_id, embedder.dims)
        started = time.perf_counter()
        stats = Indexer(store, embedder, analyses=[FacesAnalysis()] if faces else []).run([str(folder)])
        whole = time.perf_counter() - started
        rows.append(("faces on" if faces else "faces off", f"{stats.seconds:.1f}", f"{whole:.1f}"))
        store.drop()
        shutil.rmtree(folder)
    return rows


def cluster(n: int) -> tuple[str, ...]:
    import resource

    import numpy as np

    from imgsearch_desktop.core.people import FaceRow, _Groups

    rng = np.random.default_rng(0)
    people = max(1, n // 50)  # 40 faces each, the rest strangers with one face
    strangers = n - 40 * people
    centres = rng.normal(0, 1, (people + strangers, 128))
    centres *= 0.9 / np.linalg.norm(centres, axis=1)[:, None]
    rows = [FaceRow(f"p{p}-{j}/0,0,1,1", f"p{p}-{j}", (centres[p] + rng.normal(0, 0.02, 128)).astype(np.float32))
            for p in range(people) for j in range(40)]
    rows += [FaceRow(f"s{s}/0,0,1,1", f"s{s}", centres[people + s].astype(np.float32)) for s in range(strangers)]
    rng.shuffle(rows)
    groups = _Groups({r.key: r for r in rows}, {})
    started = time.perf_counter()
    groups.place_all(rows)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (f"{n:,}", f"{people + strangers:,}", f"{len(groups.ids):,}", f"{seconds:.1f}", f"{peak:.0f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-count", type=int, default=8, help="photos with 0, 1, 2 and 3 faces each")
    ap.add_argument("--search-ready", action="store_true", help="also time folder → first search (needs a node)")
    ap.add_argument("--cluster", type=int, default=0, help="time grouping this many synthetic faces, then stop")
    args = ap.parse_args()
    if args.cluster:
        print_table(("faces", "true groups", "groups found", "seconds", "peak MB"), [cluster(args.cluster)])
        return 0
    sets = photos(args.per_count)
    rows, one = [], {}
    for count, paths in sets.items():
        r0, _ = rate(paths, 1, ahead=False)
        r_dlib, found_dlib = rate(paths, 1, dlib_descriptor=True)
        r1, found = rate(paths, 1)
        r2, _ = rate(paths, 2)
        assert found == found_dlib
        one[count] = 1000.0 / r1
        rows.append((f"{count} faces", f"{found}/{count * len(paths)}", *(f"{r:.1f}" for r in (r0, r_dlib, r1, r2))))
    mix = [1 / sum(1 / float(row[k]) for row in rows) * len(rows) for k in (2, 3, 4, 5)]
    rows.append(("mix: as many of each", "", *(f"{m:.1f}" for m in mix)))
    print_table(("12 MP JPEGs", "faces found", "photos/s, 1 process, decode in turn",
                 "photos/s, the pass, dlib's descriptor (before)", "photos/s, 1 process (the pass: decode ahead)",
                 "photos/s, 2 processes"), rows)
    per_face = (one[3] - one[0]) / 3
    print(f"\nms a photo with no face: {one[0]:.0f}; ms per face (slope 0 → 3 faces): {per_face:.0f}")
    if args.search_ready:
        all_paths = [p for paths in sets.values() for p in paths]
        print_table(("indexing", "search-ready s (CLIP pass)", "whole job s"), search_ready(all_paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
