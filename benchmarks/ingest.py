"""Ingest benchmark: the full pipeline vs the pure model vs the seed's naive loop, side by side in one run.

Realistic input: 12 MP JPEGs (~4 MB) with sensor-like texture (flat synthetic images decode ~6× faster than photos
and flatter the pipeline). Model: a full-size random-init ViT-B/32 (``CLIPConfig()`` defaults) in the hub layout,
loaded through the app's own code: the same compute as the real weights.

Reported (all measured in this run, same process and threads):
  P  pure model rate: pre-decoded 224 px images, batch 32
  D  per-image draft decode time on one core
  C  2-core ceiling = 1 / (1/P + D/2)  (decode split over two cores, the model on the rest of the time)
  pipeline marginal img/s: two folder sizes timed, start-up cancels out
  seed loop: open the full image, encode one, index one document (torch)
P, C and the pipeline for each backend: torch fp32 (sentence-transformers) and onnx-int8 (ONNX Runtime, the
packaged app's; exported with packaging/export_onnx.py's code) by default; onnx-fp32 on request.

    .venv/bin/python benchmarks/ingest.py [--small 48 --large 144 --seed-n 24 --backends torch,onnx-int8]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import time
import uuid

import numpy as np
from _common import embedder_for, full_size_models, node_url, photo_folder, print_table, subset, timed
from PIL import Image

from imgsearch_desktop.core import images
from imgsearch_desktop.core.embedder import Embedder
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import Connection, PhotoDoc, Store, doc_id


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=48)
    ap.add_argument("--large", type=int, default=144)
    ap.add_argument("--seed-n", type=int, default=24, help="images for the (slow) seed loop")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--backends", default="torch,onnx-int8", help="torch, onnx-fp32, onnx-int8 (comma-separated)")
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    args = ap.parse_args()

    import torch

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    clip, text = full_size_models()
    embedders = {b: embedder_for(b, clip, text, args.batch) for b in args.backends.split(",")}
    size = next(iter(embedders.values())).image_size
    folder = photo_folder(args.large)
    files = sorted(folder.glob("*.jpg"))
    print(f"{len(files)} JPEGs, {np.mean([f.stat().st_size for f in files]) / 1e6:.1f} MB avg, model input {size}px")

    url = node_url(args.es_url)
    client = Connection(url).client(request_timeout=120)

    # D: draft decode per image on one core (read + decode + orient + resize, as the pipeline does).
    datas = [f.read_bytes() for f in files[:24]]
    d_time = timed(lambda: [images.decode(d, size) for d in datas]) / len(datas)
    t_full = timed(lambda: [Image.open(io.BytesIO(d)).convert("RGB") for d in datas[:8]]) / 8
    rows = [("draft decode D (1 core)", f"{d_time * 1000:.1f} ms", f"full decode {t_full * 1000:.0f} ms")]
    pre = [images.load_file(f, size).loaded.image for f in files[:64]]
    pre = [im.resize((size, size)) for im in pre]
    # Profile: the other per-image work of the pipeline, on one core (the decode threads do it beside D).
    t_read = timed(lambda: [images.read_file(f) for f in files[:24]]) / 24
    t_sha = timed(lambda: [hashlib.sha256(d).hexdigest() for d in datas]) / len(datas)
    t_phash = timed(lambda: [images.perceptual_hash(im) for im in pre]) / len(pre)
    rows.append(("other work per image (1 core): read / sha256 / phash",
                 f"{t_read * 1000:.1f} / {t_sha * 1000:.1f} / {t_phash * 1000:.1f} ms", ""))

    def pipeline_seconds(embedder: Embedder, n: int) -> float:
        store = Store(client, f"bench-{uuid.uuid4().hex[:8]}")
        store.use_index(embedder.model_id, embedder.dims)
        src = subset(n, "pipe")
        try:
            start = time.perf_counter()
            stats = Indexer(store, embedder, batch_size=args.batch).run([src])
            seconds = time.perf_counter() - start
            assert stats.indexed == n, stats.summary()
            return seconds
        finally:
            store.drop()
            for f in src.iterdir():
                f.unlink()
            src.rmdir()

    def bulk_ms_per_doc(embedder: Embedder) -> float:
        """Elasticsearch's share: writing finished documents (real vectors) through the store, per document."""
        store = Store(client, f"bench-{uuid.uuid4().hex[:8]}")
        store.use_index(embedder.model_id, embedder.dims)
        docs = [PhotoDoc(path=f"/bench/{i}.jpg", root="/bench", library=store.library, sha256=str(i),
                         vector=[float(x) for x in vector], size=0, mtime_ns=0)
                for i, vector in enumerate(embedder.encode_images(pre))]
        try:
            return timed(lambda: store.write(docs)) * 1000 / len(docs)
        finally:
            store.drop()

    marginals: dict[str, float] = {}
    for backend, embedder in embedders.items():
        # P: pure model on pre-decoded images at the model's input size, batch 32 (warm-up first).
        embedder.encode_images(pre[:8])
        p_rate = len(pre) / timed(lambda e=embedder: e.image_encoder().encode(pre, args.batch))
        ceiling = 1.0 / (1.0 / p_rate + d_time / 2)
        t_small = pipeline_seconds(embedder, args.small)
        t_large = pipeline_seconds(embedder, args.large)
        marginals[backend] = (args.large - args.small) / (t_large - t_small)
        write_ms = bulk_ms_per_doc(embedder)
        rows += [
            (f"{backend}: pure model P (224 px, batch {args.batch})", f"{p_rate:.1f} img/s", ""),
            (f"{backend}: 2-core ceiling C = 1/(1/P + D/2)", f"{ceiling:.1f} img/s", ""),
            (f"{backend}: pipeline, marginal ({args.small}→{args.large})", f"{marginals[backend]:.1f} img/s",
             f"{marginals[backend] / ceiling:.2f} × C"),
            (f"{backend}: where a pipeline image's time goes (core-ms)",
             f"decode {d_time * 1000:.0f} + read/hash/phash {(t_read + t_sha + t_phash) * 1000:.0f} + model "
             f"{2000 / p_rate:.0f} (2 cores) + ES bulk {write_ms:.1f} (wall)",
             f"capacity {2000 / ((d_time + t_read + t_sha + t_phash) * 1000 + 2000 / p_rate + write_ms):.1f} img/s"),
        ]

    # The seed's loop: full decode, one image per encode (torch), one document per request.
    torch_embedder = embedders.get("torch") or embedder_for("torch", clip, text, args.batch)
    store = Store(client, f"bench-seed-{uuid.uuid4().hex[:8]}")
    store.use_index(torch_embedder.model_id, torch_embedder.dims)
    model = torch_embedder.image_encoder().model

    def seed_loop() -> None:
        for f in files[:args.seed_n]:
            im = Image.open(f).convert("RGB")
            vec = model.encode([im], normalize_embeddings=True)[0]
            client.index(index=store.index, id=doc_id(str(f)), document={
                "image_id": doc_id(str(f)), "image_name": f.name, "relative_path": f.name,
                "image_embedding": vec.tolist()})

    seed_rate = args.seed_n / timed(seed_loop)
    store.drop()
    rows.append((f"seed loop, torch ({args.seed_n} imgs)", f"{seed_rate:.1f} img/s",
                 ", ".join(f"{b} pipeline = {m / seed_rate:.1f} × seed" for b, m in marginals.items())))
    print_table(("measure", "value", "ratio"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
