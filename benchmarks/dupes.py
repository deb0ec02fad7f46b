"""Duplicate scan of a large library: time for the near and similar tiers at N photos (default 10,000).

The index holds synthetic photos written straight into Elasticsearch: 512-d CLIP-like vectors in clusters of
burst shots (similar tier) and groups of the same picture (near tier: nearly equal vectors and perceptual hashes
a few bits apart). Ground truth is known, so the run also reports precision and recall of the groups.

    .venv/bin/python benchmarks/dupes.py [--n 10000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import uuid

import numpy as np
from ingest import node_url

from imgsearch_desktop.core.dupes import DupeFinder
from imgsearch_desktop.core.store import Connection, Store, doc_id


def flip_bits(hex_hash: str, bits: int, rng) -> str:
    value = int(hex_hash, 16)
    for b in rng.choice(256, size=bits, replace=False):
        value ^= 1 << int(b)
    return f"{value:064x}"


def build(store: Store, n: int, dims: int, rng) -> tuple[set, set]:
    """n photos: 10% in same-picture groups of 3, 20% in burst clusters of 4, the rest unrelated."""
    docs, near_pairs, similar_pairs = [], set(), set()
    i = 0

    def add(vec, phash):
        nonlocal i
        path = f"/bench/lib/{i // 1000:03d}/IMG_{i:06d}.jpg"
        docs.append({"_id": doc_id(path), "image_id": doc_id(path), "path": path, "image_name": path.rsplit("/")[-1],
                     "relative_path": path, "image_embedding": (vec / np.linalg.norm(vec)).astype(float).tolist(),
                     "sha256": uuid.uuid4().hex, "size": int(rng.integers(1e6, 5e6)), "width": 4000, "height": 3000,
                     "mtime_ns": i, "format": "JPEG", "phash": phash})
        i += 1
        return path

    while i < n * 0.1:
        base, phash = rng.normal(size=dims), os.urandom(32).hex()
        group = [add(base + 0.01 * rng.normal(size=dims), flip_bits(phash, 3, rng)) for _ in range(3)]
        near_pairs |= {frozenset(p) for p in itertools.combinations(group, 2)}
    while i < n * 0.3:
        base = rng.normal(size=dims)
        group = [add(base + 0.25 * rng.normal(size=dims), os.urandom(32).hex()) for _ in range(4)]
        similar_pairs |= {frozenset(p) for p in itertools.combinations(group, 2)}
    while i < n:
        add(rng.normal(size=dims), os.urandom(32).hex())
    for start in range(0, len(docs), 2000):
        assert store.write(docs[start:start + 2000]) == []
    store.refresh()
    return near_pairs, near_pairs | similar_pairs


def pairs(groups) -> set:
    out = set()
    for g in groups:
        out |= {frozenset(p) for p in itertools.combinations([m.photo.path for m in g.members], 2)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dims", type=int, default=512)
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    args = ap.parse_args()
    url = node_url(args.es_url)
    store = Store(Connection(url).client(request_timeout=120), f"bench-dupes-{uuid.uuid4().hex[:6]}")
    store.open("synthetic", args.dims)
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    near_truth, similar_truth = build(store, args.n, args.dims, rng)
    print(f"wrote {args.n} photos in {time.perf_counter() - t:.1f} s")
    print("| tier | photos | scan time | groups | pair precision | pair recall |")
    print("|---|---|---|---|---|---|")
    try:
        for level, truth, threshold in (("near", near_truth, 0.9), ("similar", similar_truth, 0.85)):
            t = time.perf_counter()
            groups = DupeFinder(store).scan(level, threshold)
            seconds = time.perf_counter() - t
            found = pairs(groups)
            hit = len(found & truth)
            print(f"| {level} | {args.n:,} | {seconds:.1f} s | {len(groups)} | {hit / max(len(found), 1):.3f} | "
                  f"{hit / max(len(truth), 1):.3f} |")
    finally:
        store.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
