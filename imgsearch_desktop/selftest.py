"""``imgsearch-desktop self-test``: load the models, index the 3 bundled samples into a throwaway index, search
image and text, delete the index, report the optional formats this build reads; one line a step."""

from __future__ import annotations

import uuid
from pathlib import Path

from imgsearch_desktop.context import Context
from imgsearch_desktop.core import images
from imgsearch_desktop.errors import UserError
from imgsearch_desktop.frozen import resource_dir


def run(ctx: Context) -> int:
    import numpy as np

    from imgsearch_desktop.core.pipeline import Indexer
    from imgsearch_desktop.core.store import Store

    embedder = ctx.embedder
    embedder.load_both()
    print(f"models: ok ({embedder.dims}-d, {embedder.backend} on {embedder.device})")
    conn = ctx.connection()
    store = Store(conn.client(), f"{ctx.settings.index}-selftest-{uuid.uuid4().hex[:8]}", connection=conn,
                  library=ctx.library)
    print(f"elasticsearch: ok ({store.check_server()} at {conn.redacted()})")
    samples = sorted((resource_dir() / "samples").glob("*.jpg"))
    if len(samples) < 3:
        raise UserError(f"bundled samples missing under {resource_dir() / 'samples'}")
    store.use_index(embedder.model_id, embedder.dims)
    try:
        stats = Indexer(store, embedder).run([str(s) for s in samples[:3]])
        if stats.indexed != 3:
            raise UserError(f"self-test: indexed {stats.indexed} of 3 samples: {stats.skipped_files}")
        print(f"index: ok ({stats.summary()})")
        vectors = embedder.encode_images([_sample_image(s, embedder.image_size) for s in samples[:1]])
        hits = store.knn(vectors[0], k=3)
        if not hits or Path(hits[0].path).name != samples[0].name or hits[0].score < 0.99:
            raise UserError(f"self-test: image search did not find the sample itself first: {hits[:1]}")
        print(f"image search: ok (best {hits[0].image_name} {hits[0].score:.4f})")
        text_hits = store.knn(embedder.encode_texts(["a photo"])[0], k=3)
        if len(text_hits) != 3 or not np.isfinite([h.score for h in text_hits]).all():
            raise UserError("self-test: text search failed")
        print(f"text search: ok ({len(text_hits)} hits)")
    finally:
        store.drop()
    print("cleanup: ok (throwaway index deleted)")
    print(f"formats: {_formats_check(samples[0], embedder.image_size)}")
    print("self-test passed")
    return 0


def _sample_image(path: Path, size: int):

    return images.open_query_image(path, size).image


def _formats_check(sample: Path, size: int) -> str:
    """The optional formats this build reads: HEIC by a round trip through pillow-heif, RAW by the bundled DNG."""
    import io

    found = [", ".join(f.label for f in images.FORMATS if f.available and not f.original and f.extensions)]
    if images.HEIF:
        buffer = io.BytesIO()
        _sample_image(sample, size).save(buffer, format="HEIF", quality=80)
        decoded = images.decode(buffer.getvalue(), size, name="self-test.heic")
        found.append(f"HEIC (round trip {decoded.width}×{decoded.height} ok)")
    else:
        found.append("no HEIC (pillow-heif not installed)")
    if images.rawpy:
        raw = images.load_file(sample.parent / "camera-raw.dng", size).loaded
        libraw = ".".join(map(str, images.rawpy.libraw_version))
        found.append(f"camera RAW previews (LibRaw {libraw}: camera-raw.dng {raw.width}×{raw.height} ok)")
    else:
        found.append("no camera RAW (rawpy not installed)")
    return ", ".join(found)
