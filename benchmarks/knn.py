"""kNN latency and recall at N photos (default 100,000) on clustered synthetic 512-d vectors.

Uniform random vectors are unrealistically hard for HNSW, so photos come in clusters (events, places, bursts) like a
real library. Each setting of ``num_candidates`` (with and without ``rescore_vector``) gets p50/p95 latency over
the queries and recall@10 against an exact cosine ranking computed in numpy.

    .venv/bin/python benchmarks/knn.py [--n 100000 --queries 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

import numpy as np
from elasticsearch import helpers
from ingest import CACHE

from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.local_es import LocalNode
from imgsearch_desktop.core.store import Connection, Store


def clustered(n: int, dims: int, rng, clusters: int = 2000) -> np.ndarray:
    centres = rng.normal(size=(clusters, dims)).astype(np.float32)
    vecs = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dims)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dims", type=int, default=512)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    vectors = clustered(args.n, args.dims, rng)
    url = args.es_url or LocalNode(AppDirs.resolve(CACHE / "home")).start()
    client = Connection(url).client(request_timeout=300)
    store = Store(client, f"bench-knn-{uuid.uuid4().hex[:6]}")
    store.open("synthetic", args.dims)
    client.indices.put_settings(index=store.index, settings={"index.refresh_interval": "-1"})
    t = time.perf_counter()
    actions = ({"_index": store.index, "_id": str(i), "_source": {"image_id": str(i), "path": f"/bench/{i}.jpg",
                                                                 "image_embedding": v.tolist()}}
               for i, v in enumerate(vectors))
    for ok, item in helpers.streaming_bulk(client, actions, chunk_size=1000, max_retries=5):
        assert ok, item
    client.indices.put_settings(index=store.index, settings={"index.refresh_interval": "1s"})
    store.refresh()
    client.indices.forcemerge(index=store.index, max_num_segments=1, request_timeout=1800)
    print(f"indexed {args.n:,} vectors in {time.perf_counter() - t:.0f} s (bulk + force-merge)")
    queries = clustered(args.queries, args.dims, np.random.default_rng(1))
    exact = [set(np.argsort(-(vectors @ q))[:10].astype(str)) for q in queries]
    print("| num_candidates | rescore | p50 ms | p95 ms | recall@10 |")
    print("|---|---|---|---|---|")
    try:
        for rescore in (False, True):
            for nc in (20, 50, 100, 200, 400):
                lat, rec = [], []
                for q, truth in zip(queries, exact, strict=True):
                    t = time.perf_counter()
                    hits = store.knn(q, k=10, num_candidates=nc, rescore=rescore)
                    lat.append((time.perf_counter() - t) * 1000)
                    rec.append(len({h.image_id for h in hits} & truth) / 10)
                print(f"| {nc} | {'yes' if rescore else 'no'} | {np.percentile(lat, 50):.1f} | "
                      f"{np.percentile(lat, 95):.1f} | {np.mean(rec):.3f} |")
    finally:
        store.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
