"""Duplicate scan of a large library: time, groups before/after the star split, precision and recall, for the
same-picture and similar tiers at N photos (default 10,000).

The index holds synthetic documents written straight into Elasticsearch, for files that exist on disk (the scan
resolves every candidate to its real file, and the same-picture tier re-checks candidates from the files):
  10%  same-picture groups of 3: a small real photo, a resized JPEG and a PNG of it (indexed hashes computed from
       the files as the indexer does; CLIP-like vectors nearly equal)
  20%  burst clusters of 4 (vectors around a centre, tiny files)
   5%  chains of 6 (vectors turning in a plane, neighbours at cosine 0.93, the ends far apart: union-find alone
       links each chain into one group whose members fail the threshold against its keeper)
  the rest unrelated (no file needed: never a candidate).
Ground truth is known: a pair is true when both are of one same-picture group, of one burst, or of one chain at a
cosine ≥ the threshold. Reported: linked sets (union-find alone) → star groups, photos the union-find group would
have held below the rule against its keeper → after the split (counted from the groups: must be 0), precision of
the (keeper, member) pairs the groups claim, recall of true pairs grouped together, files re-read for the strict
same-picture check.

    .venv/bin/python benchmarks/dupes.py [--n 10000] [--dims 512]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from _common import cpu_line, node_url, print_table
from PIL import Image

from imgsearch_desktop.core import images
from imgsearch_desktop.core.dupes import NEAR_BITS, DupeFinder, Tier, hamming
from imgsearch_desktop.core.store import DEFAULT_LIBRARY, Connection, PhotoDoc, Store

SIMILAR = 0.85  # the similar tier's threshold in this run
CHAIN_STEP = 0.93  # cosine between chain neighbours (two steps: 0.73, below SIMILAR)


def small_photo(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A distinct textured picture per seed (coloured blobs over a gradient, noise)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = rng.uniform(0, 255, 3)[None, None, :] * (0.5 + 0.5 * (xx / w))[..., None] + rng.normal(0, 6, (h, w, 3))
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.08, 0.3) * min(w, h)
        img[((xx - cx) ** 2 + (yy - cy) ** 2) < r * r] = rng.uniform(0, 255, 3)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


class Library:
    """Documents and files of the synthetic library, with the true pairs."""

    def __init__(self, root: Path, dims: int, rng) -> None:
        self.root, self.dims, self.rng = root, dims, rng
        self.docs: list[PhotoDoc] = []
        self.vectors: dict[str, np.ndarray] = {}
        self.near_truth: set[frozenset] = set()
        self.similar_truth: set[frozenset] = set()

    def add(self, vec: np.ndarray, phash: str, data: bytes | None = None, suffix: str = ".jpg",
            fmt: str = "JPEG", size: tuple[int, int] = (4000, 3000)) -> str:
        i = len(self.docs)
        path = str(self.root / f"{i // 1000:03d}" / f"IMG_{i:06d}{suffix}")
        if data is not None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(path).write_bytes(data)
        unit = vec / np.linalg.norm(vec)
        self.vectors[path] = unit
        self.docs.append(PhotoDoc(path=path, root=str(self.root), library=DEFAULT_LIBRARY, sha256=uuid.uuid4().hex,
                                  vector=unit.astype(float).tolist(),
                                  size=len(data) if data else int(self.rng.integers(1e6, 5e6)), mtime_ns=i,
                                  phash=phash, width=size[0], height=size[1], format=fmt))
        return path

    def same_picture_group(self, seed: int) -> None:
        base = self.rng.normal(size=self.dims)
        pic = small_photo(seed)
        group = []
        for suffix, fmt, im, kwargs in ((".jpg", "JPEG", pic, {"quality": 90}),
                                        (".jpg", "JPEG", pic.resize((120, 90)), {"quality": 70}),
                                        (".png", "PNG", pic, {})):
            path = self.root / "tmp" / f"x{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            im.save(path, fmt, **kwargs)
            data = path.read_bytes()
            phash = images.perceptual_hash(images.load_file(path, 224).loaded.image)
            group.append(self.add(base + 0.01 * self.rng.normal(size=self.dims), phash, data, suffix, fmt,
                                  im.size))
        self.near_truth |= {frozenset(p) for p in itertools.combinations(group, 2)}

    def burst(self) -> None:
        base = self.rng.normal(size=self.dims)
        group = [self.add(base + 0.25 * self.rng.normal(size=self.dims), os.urandom(32).hex(), b"burst")
                 for _ in range(4)]
        self.similar_truth |= {frozenset(p) for p in itertools.combinations(group, 2)}

    def chain(self, length: int = 6) -> None:
        e1, e2 = np.linalg.qr(self.rng.normal(size=(self.dims, 2)))[0].T
        theta = np.arccos(CHAIN_STEP)
        group = [self.add(np.cos(i * theta) * e1 + np.sin(i * theta) * e2, os.urandom(32).hex(), b"chain")
                 for i in range(length)]
        self.similar_truth |= {frozenset((a, b)) for a, b in itertools.combinations(group, 2)
                               if float(self.vectors[a] @ self.vectors[b]) >= SIMILAR}

    def build(self, n: int) -> None:
        seed = 0
        while len(self.docs) < n * 0.1:
            self.same_picture_group(seed)
            seed += 1
        while len(self.docs) < n * 0.3:
            self.burst()
        while len(self.docs) < n * 0.35:
            self.chain()
        while len(self.docs) < n:
            self.add(self.rng.normal(size=self.dims), os.urandom(32).hex())


def score(groups, truth: set[frozenset], level: Tier, near_bits: int) -> tuple[float, float, int]:
    """(keeper-pair precision, pair recall, members failing the rule against their keeper)."""
    claimed, together, failing = set(), set(), 0
    for g in groups:
        paths = [m.photo.path for m in g.members]
        claimed |= {frozenset((g.keep.path, p)) for p in paths[1:]}
        together |= {frozenset(p) for p in itertools.combinations(paths, 2)}
        for m in g.members[1:]:
            cos = float(g.keep.vector @ m.photo.vector)
            near_ok = hamming(g.keep.phash, m.photo.phash) <= near_bits and cos >= 0.95
            failing += not (cos >= SIMILAR if level is Tier.SIMILAR else near_ok or m.tier is Tier.EXACT)
    precision = len(claimed & truth) / max(len(claimed), 1)
    recall = len(together & truth) / max(len(truth), 1)
    return precision, recall, failing


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="photos in the index (default 10,000)")
    ap.add_argument("--dims", type=int, default=512)
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    ap.add_argument("--candidates", default="join,knn",
                    help="how candidate pairs are found, compared side by side: join (exact, in memory; the "
                         "default up to EXACT_JOIN_MAX photos) and knn (a kNN query per photo)")
    args = ap.parse_args()
    url = node_url(args.es_url)
    store = Store(Connection(url).client(request_timeout=120), f"bench-dupes-{uuid.uuid4().hex[:6]}")
    store.use_index("synthetic", args.dims)
    root = Path(tempfile.mkdtemp(prefix="bench-dupes-"))
    try:
        t = time.perf_counter()
        lib = Library(root, args.dims, np.random.default_rng(0))
        lib.build(args.n)
        for start in range(0, len(lib.docs), 2000):
            assert store.write(lib.docs[start:start + 2000]) == []
        store.refresh()
        files = sum(1 for _ in root.rglob("IMG_*"))
        print(f"wrote {args.n:,} photos ({files:,} files on disk) in {time.perf_counter() - t:.1f} s")
        rows = []
        tiers = ((Tier.SAME_PICTURE, lib.near_truth), (Tier.SIMILAR, lib.near_truth | lib.similar_truth))
        methods = args.candidates.split(",")
        runs = [(tier, how) for t, tier in enumerate(tiers) for how in (methods if t % 2 == 0 else methods[::-1])]
        for (level, truth), how in runs:  # the order alternates: neither method always finds the caches warm
            finder = DupeFinder(store, exact_join_max=args.n if how == "join" else 0)
            t = time.perf_counter()
            groups = finder.scan(level, SIMILAR)
            seconds = time.perf_counter() - t
            precision, recall, failing = score(groups, truth, level, NEAR_BITS)
            s = finder.stats
            rows.append((f"{level.label}, {how}", f"{args.n:,}", f"{seconds:.1f} s",
                         f"{s.linked_sets:,} → {len(groups):,}",
                         f"{s.off_keeper:,} → {failing}", f"{precision:.3f}", f"{recall:.3f}",
                         f"{s.files_checked:,} in {s.check_seconds:.1f} s"))
        print_table(("tier, candidates", "photos", "scan time", "linked sets → groups",
                     "off-keeper members before → after",
                     "keeper-pair precision", "pair recall", "files re-checked"), rows, cpu_line())
    finally:
        store.drop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
