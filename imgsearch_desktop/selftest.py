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
    print(f"analyses: {_analyses_check()}")
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


SELF_TEST_WORDS = "PHOTO 2026"


def _analyses_check() -> str:
    """The per-photo analyses this build runs, each on a real picture: faces (dlib: a face and its 128-d
    descriptor; its 68 landmarks, the eyes a burst's pick looks at) on the bundled portrait, and text in photos
    (PP-OCRv4) read back from words drawn here. A part that is not installed is said; one that fails raises."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from imgsearch_desktop.core import shot_quality
    from imgsearch_desktop.core.analyses import faces as face_analysis
    from imgsearch_desktop.core.analyses import text as text_analysis

    found = []
    portrait = resource_dir() / "samples" / "face" / "astronaut.png"
    rgb = np.asarray(images.decode(images.read_file(portrait), 512, name=str(portrait)).image.convert("RGB"))
    try:
        model = face_analysis.DlibFaceModel()
    except (ImportError, UserError) as exc:
        found.append(f"no faces ({exc})")
    else:
        faces = model.faces(rgb)
        if len(faces) != 1 or len(faces[0].descriptor) != face_analysis.DIMS:
            raise UserError(f"self-test: {len(faces)} faces found in {portrait.name}, 1 expected")
        eyes = shot_quality.EyeModel().faces(rgb)
        if len(eyes) != 1 or min(shot_quality.eyes_of(eyes[0][1])) < shot_quality.EAR_OPEN:
            raise UserError(f"self-test: the eyes of {portrait.name} were not found open")
        found.append(f"faces ({portrait.name}: 1 face, {face_analysis.DIMS}-d descriptor, eyes open)")
    if not text_analysis.available():
        found.append("no text in photos (rapidocr-onnxruntime not installed)")
    else:
        page = Image.new("RGB", (640, 200), "white")
        ImageDraw.Draw(page).text((40, 60), SELF_TEST_WORDS, fill="black", font=ImageFont.load_default(size=64))
        read = " ".join(line.text for line in text_analysis.read_lines(text_analysis.default_reader(), page))
        if SELF_TEST_WORDS.replace(" ", "") not in read.replace(" ", "").upper():
            raise UserError(f"self-test: text in photos read {read!r} instead of {SELF_TEST_WORDS!r}")
        found.append(f"text in photos (read {read!r})")
    return ", ".join(found)
