"""Text in photos: the lines of text a photo shows (a sign, a receipt, a screenshot), each with its box and
confidence, and one searchable field of their words folded (core/textfold).

Behind a seam like the faces' ``FaceModel``: a ``TextReader`` finds text lines (``detect``) and reads them
(``recognise``, the angle classifier included), so another language's PP-OCR recognition model, or another engine,
replaces the PP-OCRv4 one (RapidOCR's ONNX files) without touching the analysis, the store or the search.

Fast where there is no text (most camera photos): detection runs first on a small copy (``PROBE_SIDE``) of a small
decode (a JPEG decoded at a quarter of 12 MP: ``FIRST_SIDE``); a photo where it finds nothing costs that one pass.
Where it finds lines, only those are read, cut from the full decode (``DECODE_SIDE``, decoded then);
lines too small to be trusted at the probe's size make detection run again at the decode's size. A screenshot
(flat areas of identical pixels) has small text everywhere: it is detected at the decode's size straight away.
The decode is EXIF-oriented already (core/images); text upside down or sideways is turned by the classifier.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np
from PIL import Image

from imgsearch_desktop.core.analyses.native import native
from imgsearch_desktop.core.textfold import fold
from imgsearch_desktop.errors import UserError

TEXT_VERSION = 1  # PP-OCRv4 det + rec (Chinese/English) + mobile v2 angle classifier; probe 640, read 1440
PROBE_SIDE = 640  # longest side of the first, cheap detection pass
SMALL_LINE_PX = 14  # a line lower than this in the probe is detected again at the decode's size
DECODE_SIDE = 1080  # shortest side of the decode read (1440 x 1080 for a 4:3 photo; a 1080p screenshot as it is)
FIRST_SIDE = 750  # shortest side of the probe's decode: a 12 MP JPEG at a quarter (1000 x 750), 23 ms against 59
# Recognition reads a line scaled to 48 px high. Where every line the probe finds is a third taller than that in the
# first decode and none reads as text there, it is not text (a texture): no larger decode. Text is always read from
# the larger decode: read from the first, "INVOICE" came out "INV0ICE" (50 px), "HARBOUR 4711" without its space.
READ_PX = 64
MIN_SCORE = 0.5  # recognition confidence below which a line is dropped (RapidOCR's own default)
FLAT_SHARE = 0.35  # share of pixels equal to their right neighbour above which an image may be a screenshot
RAMP_STEP, RAMP_SHARE = 3, 0.4  # … unless most changes between neighbours are ramps of a few levels (a photo)


@dataclass
class TextLine:
    text: str  # as read (not folded)
    score: float  # recognition confidence in [0, 1]
    quad: np.ndarray  # 4 × 2 corners in the read image's pixels, clockwise from the top left


class TextReader(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        """The text lines' quadrilaterals (4 × 2, pixels of ``rgb``), in reading order (top to bottom)."""
        ...

    def recognise(self, rgb: np.ndarray, quads: list[np.ndarray]) -> list[tuple[str, float]]:
        """The text and confidence of each line, cut from ``rgb`` (turned upright first)."""
        ...


def _import_rapidocr():
    """RapidOCR's parts; importing cv2 adds its own folder to LD_LIBRARY_PATH, which child processes (the engine,
    an opened file manager) must not inherit: restored as it was."""
    before = os.environ.get("LD_LIBRARY_PATH")
    try:
        from rapidocr_onnxruntime.ch_ppocr_cls import TextClassifier
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
        from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
        from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH, RapidOCR
        from rapidocr_onnxruntime.utils import read_yaml
        from rapidocr_onnxruntime.utils.parse_parameters import update_model_path
    except ImportError as exc:
        raise UserError(f"text in photos needs RapidOCR (the rapidocr-onnxruntime package): {exc}") from None
    finally:
        if before is None:
            os.environ.pop("LD_LIBRARY_PATH", None)
        else:
            os.environ["LD_LIBRARY_PATH"] = before
    return TextDetector, TextClassifier, TextRecognizer, RapidOCR, update_model_path(read_yaml(DEFAULT_CFG_PATH))


def available() -> bool:
    """RapidOCR is installed (a build without it, such as a packaged app made before it, indexes without text)."""
    import importlib.util

    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


class PPOCRReader:
    """PP-OCRv4 detection and recognition (Chinese + English) with the angle classifier, on ONNX Runtime."""

    name = "pp-ocrv4-ch-en"

    def __init__(self, threads: int | None = None, folder: str | None = None) -> None:
        """``folder``: where the three ONNX files are (default: inside the rapidocr-onnxruntime package)."""
        detector, classifier, recogniser, rapid, config = _import_rapidocr()
        threads = threads or min(4, os.cpu_count() or 1)
        for part in ("Det", "Cls", "Rec"):
            config[part]["intra_op_num_threads"] = threads
            config[part]["inter_op_num_threads"] = 1
            if folder:
                config[part]["model_path"] = os.path.join(folder, os.path.basename(config[part]["model_path"]))
        # The analysis chooses the detection size: the detector only rounds it to a multiple of 32.
        config["Det"].update(limit_type="max", limit_side_len=4096)
        self._det = detector(config["Det"])
        self._cls = classifier(config["Cls"])
        self._rec = recogniser(config["Rec"])
        for runner, part in ((self._det.infer, "Det"), (self._cls.infer, "Cls"), (self._rec.session, "Rec")):
            runner.session = _session(config[part]["model_path"], threads)
        self._det.get_preprocess = _Float32Preprocess.maker(self._det)
        self._sort = rapid.sorted_boxes
        self._crop = rapid.get_crop_img_list

    # Every step on the native-models thread (analyses/native): the detector keeps per-call state, and OpenCV and
    # ONNX Runtime never run beside dlib.
    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        return native(self._detect, rgb)

    def _detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        boxes, _ = self._det(np.ascontiguousarray(rgb[:, :, ::-1]))  # PP-OCR models were trained on BGR
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, dtype=np.float32) for b in self._sort(boxes)]

    def recognise(self, rgb: np.ndarray, quads: list[np.ndarray]) -> list[tuple[str, float]]:
        return native(self._recognise, rgb, quads) if quads else []

    def _recognise(self, rgb: np.ndarray, quads: list[np.ndarray]) -> list[tuple[str, float]]:
        crops = self._crop(None, np.ascontiguousarray(rgb[:, :, ::-1]), [q.copy() for q in quads])  # OpenCV too
        upright, _, _ = self._cls(crops)
        read, _ = self._rec(upright)
        return [(str(text), float(score)) for text, score in read]


def _session(model_path: str, threads: int):
    """The model's ONNX Runtime session as RapidOCR makes it, but with the CPU memory arena on: RapidOCR turns it off,
    and allocating every buffer afresh each run cost the detector a fifth of its time on the 640 px probe (62 → 50 ms
    for the session alone; with the float32 input below, the probe's detection 74 → 48 ms: benchmarks/text.py
    --parts)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])


class _Float32Preprocess:
    """RapidOCR's detection preprocessing (resize to a multiple of 32, normalise, channels first), normalising in
    float32: its own goes through float64, 9 ms of a 640 px probe."""

    def __init__(self, base) -> None:
        self._base = base
        self._gain = np.float32(base.scale) / base.std.astype(np.float32)
        self._offset = base.mean.astype(np.float32) / base.std.astype(np.float32)

    def __call__(self, img: np.ndarray) -> np.ndarray | None:
        resized = self._base.resize(img)
        if resized is None:
            return None
        return np.ascontiguousarray((resized * self._gain - self._offset).transpose((2, 0, 1))[None], np.float32)

    @classmethod
    def maker(cls, detector):
        original = detector.get_preprocess
        return lambda longest: cls(original(longest))


@cache
def default_reader() -> TextReader:
    return native(PPOCRReader)  # made where it will run (analyses/native)


def screen_like(rgb: np.ndarray) -> bool:
    """A screenshot or a clean scan: large areas of pixels exactly equal to their neighbour, with steps between
    them rather than the one-level ramps of a smooth photo (sky, bokeh) or a gradient. Its text is small everywhere:
    it is detected at the decode's size."""
    sample = rgb[::4, :, :].astype(np.int16)
    step = np.abs(sample[:, 1:] - sample[:, :-1]).max(axis=2)
    if float((step == 0).mean()) < FLAT_SHARE:
        return False
    changed = step[step > 0]
    return changed.size > 0 and float((changed <= RAMP_STEP).mean()) < RAMP_SHARE  # one colour: nothing to read


def _resized(image: Image.Image, side: int) -> tuple[np.ndarray, float]:
    scale = min(1.0, side / max(image.size))
    if scale < 1.0:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.BILINEAR)
    return np.asarray(image), scale


def _height(quad: np.ndarray) -> float:
    return float(min(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))


def read_lines(reader: TextReader, image: Image.Image, probe_side: int = PROBE_SIDE,
               larger: Callable[[], Image.Image] | None = None) -> list[TextLine]:
    """The lines of text in ``image`` (RGB, oriented), in reading order, boxes in ``image``'s pixels. ``larger()``:
    the photo at the size to read it at (else ``image`` is read), asked only where the probe finds text."""
    first = np.asarray(image.convert("RGB"))

    def to_read() -> np.ndarray:
        wanted = larger() if larger else image
        return first if wanted is image else np.asarray(wanted.convert("RGB"))

    if screen_like(first):
        full = to_read()
        quads = reader.detect(full)
    else:
        probe, scale = _resized(image, probe_side)
        found = reader.detect(probe)
        if not found:
            return []
        lowest = min(_height(q) for q in found)  # in the probe's pixels
        if larger and lowest / scale >= READ_PX and not _read(reader, first, found, scale):
            return []  # lines tall enough to read in ``image`` that read as nothing: not text (a texture)
        full = to_read()
        scale *= image.width / full.shape[1]  # probe pixels per pixel of the image read
        quads = reader.detect(full) if scale < 1.0 and lowest < SMALL_LINE_PX else [q / scale for q in found]
    back = image.width / full.shape[1]  # the boxes in ``image``'s pixels
    return [TextLine(line.text, line.score, line.quad * back) for line in _read(reader, full, quads)]


def _read(reader: TextReader, rgb: np.ndarray, quads: list[np.ndarray], scale: float = 1.0) -> list[TextLine]:
    """The lines at ``quads`` (in pixels of ``rgb`` times ``scale``) that read as text."""
    quads = [q / scale for q in quads]
    lines = []
    for quad, (text, score) in zip(quads, reader.recognise(rgb, quads), strict=True):
        text = " ".join(text.split())
        if text and score >= MIN_SCORE:
            lines.append(TextLine(text, score, quad))
    return lines


def lines_in(reader: TextReader, image: Image.Image, original: tuple[int, int],
             larger: Callable[[], Image.Image] | None = None) -> list[dict]:
    """The lines as stored: text as read, box [x, y, w, h] around the line in the original photo's pixels (clipped
    to it), confidence."""
    fx, fy = original[0] / image.width, original[1] / image.height
    out = []
    for line in read_lines(reader, image, larger=larger):
        xs, ys = line.quad[:, 0] * fx, line.quad[:, 1] * fy
        left, top = max(0, int(xs.min())), max(0, int(ys.min()))
        right, bottom = min(original[0], round(float(xs.max()))), min(original[1], round(float(ys.max())))
        out.append({"text": line.text, "box": [left, top, max(1, right - left), max(1, bottom - top)],
                    "score": round(line.score, 4)})
    return out


def text_fields(lines: list[dict]) -> dict:
    """The document's fields for these lines: as read (``text_lines``), folded for search (``text``)."""
    return {"text_lines": lines, "text": fold("\n".join(line["text"] for line in lines)), "has_text": bool(lines)}


def _one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by at most one letter added, dropped, changed, or two neighbours swapped."""
    if abs(len(a) - len(b)) > 1:
        return False
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return (a[i + 1:] == b[i + 1:] or a[i + 1:] == b[i:] or a[i:] == b[i + 1:]
            or (a[i:i + 2] == b[i:i + 2][::-1] and a[i + 2:] == b[i + 2:]))


def matched_boxes(lines: list[dict] | None, terms: list[str] | tuple[str, ...]) -> list[list[int]]:
    """The boxes of the lines holding a query term (folded) as the search matches it: a word it begins, or one of 4
    letters or more one typo off (what the window outlines on the preview)."""
    out = []
    for line in lines or []:
        words = re.findall(r"\w+", fold(line["text"]))
        if any(w.startswith(t) or (len(t) >= 4 and _one_edit(w, t)) for t in terms for w in words):
            out.append(line["box"])
    return out


def text_in_photo(lines: list[dict] | None) -> str:
    """The text as read, one line a line (the CLI's ``text_in_photo``, the window's "Copy text in photo")."""
    return "\n".join(line["text"] for line in lines or [])


class TextAnalysis:
    """The text analysis: ``text_lines`` (kept, not indexed), ``text`` (folded words, searchable), ``has_text``."""

    name = "text"
    version = TEXT_VERSION
    decode_side = DECODE_SIDE
    first_side = FIRST_SIDE  # the decode it starts on (backfill.first_side)

    def __init__(self, reader: TextReader | None = None) -> None:
        self._reader = reader

    @property
    def reader(self) -> TextReader:
        if self._reader is None:
            self._reader = default_reader()
        return self._reader

    def mapping(self) -> dict:
        # Only the standard analyzer exists on the bundled engine: ``text`` holds words already folded
        # (core/textfold), so lowercasing is all it adds. Prefix and one-typo matching are query-side.
        return {"text": {"type": "text", "analyzer": "standard"},
                "text_lines": {"type": "object", "enabled": False},
                "has_text": {"type": "boolean"}}

    def analyse(self, image: Image.Image, original: tuple[int, int],
                larger: Callable[[], Image.Image] | None = None) -> dict:
        return text_fields(lines_in(self.reader, image, original, larger))
