"""kNN latency and recall at N photos (default 100,000) on clustered synthetic 512-d vectors.

Uniform random vectors are unrealistically hard for HNSW, so photos come in clusters (events, places, bursts) like a
real library: 2,000 cluster centres, each photo a centre plus noise (cosine to its centre ≈ 0.73). Two query sets:

- in-library: new photos of the library's own clusters (held out: a photo like the ones you have) — the use case;
- unrelated: photos from clusters the library does not have (dozens of near-ties, the hard case).

For each vector index variant (built into its own index, bulk + force-merge) and each ``num_candidates`` (with and
without ``rescore_vector`` on quantised variants): p50/p95 latency of ``Store.knn`` (what the app calls, client
included) and recall@10 against an exact cosine ranking in numpy.

    .venv/bin/python benchmarks/knn.py [--n 100000 --queries 200 --variants int8_hnsw,bbq_hnsw,hnsw]

Each variant's index is kept between runs (``--rebuild`` to build again, ``--drop`` to delete after measuring), so a
1,000,000-vector build (most of an hour on two cores) is paid once; the table says how long it took.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings

import numpy as np
from _common import cpu_line, node_url
from elasticsearch import helpers

from imgsearch_desktop.core.store import Connection, Store, concrete_name, mapping

NOISE = 0.6


def centres(count: int, dims: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, dims)).astype(np.float32)


def photos(around: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vecs = around[rng.integers(0, len(around), n)] + NOISE * rng.normal(size=(n, around.shape[1])).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def variant_options(variant: str) -> dict:
    """``int8_hnsw`` or ``int8_hnsw:m=32:ef=200`` → the dense_vector ``index_options``."""
    kind, *params = variant.split(":")
    options: dict = {"type": kind}
    for param in params:
        key, value = param.split("=")
        options[{"m": "m", "ef": "ef_construction"}[key]] = int(value)
    return options


def alias_for(variant: str, n: int, clusters: int, dims: int) -> str:
    """One alias per (variant, corpus): a build is kept between runs and found again by its name."""
    slug = re.sub(r"[^a-z0-9]+", "-", variant.lower()).strip("-")
    return f"bench-knn-{slug}-{n}-{clusters}c-{dims}d"


def build(client, variant: str, vectors: np.ndarray, clusters: int, rebuild: bool) -> tuple[Store, float, bool]:
    """(store, build seconds, reused): the index with this variant's vector options behind an alias Store opens
    like the app's own; an earlier complete build of the same corpus is reused (its build time is in its _meta)."""
    alias = alias_for(variant, len(vectors), clusters, vectors.shape[1])
    index = concrete_name(alias, "synthetic", vectors.shape[1])
    if client.indices.exists(index=index):
        meta = client.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
        complete = "build_seconds" in meta and client.count(index=index)["count"] == len(vectors)
        if complete and not rebuild:
            store = Store(client, alias)
            store.use_index("synthetic", vectors.shape[1], create=False)
            return store, float(meta["build_seconds"]), True
        client.indices.delete(index=index)  # an interrupted build, or --rebuild
    body = mapping(vectors.shape[1], "synthetic")
    body["properties"]["image_embedding"]["index_options"] = variant_options(variant)
    client.indices.create(index=index, mappings=body, aliases={alias: {}},
                          settings={"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1",
                                    "translog.durability": "async"})  # a bulk load: no fsync per request
    store = Store(client, alias)
    store.use_index("synthetic", vectors.shape[1], create=False)
    start = time.perf_counter()
    actions = ({"_index": index, "_id": str(i), "_source": {"image_id": str(i), "path": f"/bench/{i}.jpg",
                                                           "image_embedding": v.tolist()}}
               for i, v in enumerate(vectors))
    for done, (ok, item) in enumerate(helpers.streaming_bulk(client, actions, chunk_size=1000, max_retries=5), 1):
        assert ok, item
        if done % 100_000 == 0:
            print(f"  {variant}: {done:,} sent in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    client.indices.put_settings(index=index, settings={"index.refresh_interval": "1s"})
    store.refresh()
    client.options(request_timeout=4 * 3600).indices.forcemerge(index=index, max_num_segments=1)
    seconds = time.perf_counter() - start
    # recorded last: an index without it is an interrupted build
    client.indices.put_mapping(index=index, meta={**body["_meta"], "build_seconds": round(seconds, 1)})
    return store, seconds, False


def footprint(client, store: Store) -> str:
    """Disk bytes of the vector files (what the page cache must hold for searches to stay fast) and the node's heap."""
    with warnings.catch_warnings():  # the disk-usage API is a technical preview; its figures are what we need
        warnings.simplefilter("ignore")
        usage = client.indices.disk_usage(index=store.index, run_expensive_tasks=True)[store.index]
    field = usage["fields"]["image_embedding"]
    vectors = field.get("knn_vectors_in_bytes", 0)
    total = usage["store_size_in_bytes"]
    heap = client.nodes.stats(metric="jvm")["nodes"]
    used = max(n["jvm"]["mem"]["heap_used_in_bytes"] for n in heap.values())
    limit = max(n["jvm"]["mem"]["heap_max_in_bytes"] for n in heap.values())
    mib = 1 << 20
    return (f"vector files {vectors / mib:,.0f} MiB (whole index {total / mib:,.0f} MiB); "
            f"node heap {used / mib:,.0f} of {limit / mib:,.0f} MiB")


def measure(store: Store, queries: np.ndarray, truth: list[set[str]], nc: int, rescore: bool) -> tuple:
    for q in queries[:10]:  # warm the graph into the page cache
        store.knn(q, k=10, num_candidates=nc, rescore=rescore)
    latency, recall = [], []
    for q, expected in zip(queries, truth, strict=True):
        start = time.perf_counter()
        hits = store.knn(q, k=10, num_candidates=nc, rescore=rescore)
        latency.append((time.perf_counter() - start) * 1000)
        recall.append(len({h.image_id for h in hits} & expected) / 10)
    return np.percentile(latency, 50), np.percentile(latency, 95), float(np.mean(recall))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dims", type=int, default=512)
    ap.add_argument("--clusters", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--variants", default="int8_hnsw,int8_hnsw:m=32:ef=200,hnsw")
    ap.add_argument("--candidates", default="50,100,200,400")
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    ap.add_argument("--rebuild", action="store_true", help="build again even where a complete build is kept")
    ap.add_argument("--drop", action="store_true", help="delete each index after measuring (default: keep it)")
    ap.add_argument("--build-only", action="store_true", help="build (or find) the indexes, measure nothing")
    args = ap.parse_args()

    library = centres(args.clusters, args.dims, 0)
    vectors = photos(library, args.n, 1)
    query_sets = {"in-library": photos(library, args.queries, 2),
                  "unrelated": photos(centres(args.clusters, args.dims, 3), args.queries, 4)}
    truth = {name: [set(np.argpartition(-(vectors @ q), 10)[:10].astype(str)) for q in qs]
             for name, qs in query_sets.items()}
    url = node_url(args.es_url)
    client = Connection(url).client(request_timeout=600)
    print(f"{args.n:,} vectors, {args.dims}-d, {args.clusters} clusters; {args.queries} queries per set")
    print(cpu_line())
    print("| index | num_candidates | rescore | in-library p50 / p95 ms | recall@10 | unrelated p50 / p95 ms "
          "| recall@10 |")
    print("|---|---|---|---|---|---|---|")
    for variant in args.variants.split(","):
        store, seconds, reused = build(client, variant, vectors, args.clusters, args.rebuild)
        kept = "kept from an earlier run" if reused else "bulk + force-merge"
        print(f"| {variant}: built in {seconds:.0f} s ({kept}); {footprint(client, store)} | | | | | | |", flush=True)
        if args.build_only:
            continue
        try:
            for rescore in (False, True) if variant.startswith(("int8", "int4", "bbq")) else (False,):
                for nc in map(int, args.candidates.split(",")):
                    cells = []
                    for name, queries in query_sets.items():
                        p50, p95, recall = measure(store, queries, truth[name], nc, rescore)
                        cells += [f"{p50:.1f} / {p95:.1f}", f"{recall:.3f}"]
                    print(f"| {variant} | {nc} | {'yes' if rescore else 'no'} | " + " | ".join(cells) + " |",
                          flush=True)
        finally:
            if args.drop:
                store.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
