"""How good one frame of a burst is: sharpness where it matters, motion blur, noise, exposure, and for each face
whether its eyes are open and it is wholly in the frame. The best frame of a burst is its pick (``rank``), with a
sentence that says why ("sharpest; 3 faces, eyes open").

Measured on the photographs of /usr/share/backgrounds/mate (13 of them, at 1024 px: ``scripts/shot_quality_measure.py``
prints the table), each with Gaussian blur σ 1–2 px, motion blur 7–9 px, Gaussian noise σ 8–20 levels and exposure
±1.5 EV added:
  * Laplacian variance, the usual blur measure, reads noise as detail: σ 8 noise raises it 8–100× above the sharp
    frame, which blur σ 1 lowers only 2–7×. So sharpness here is the gradient energy at half resolution after a
    Gaussian σ 1 denoise, divided by the region's variance (so a brighter or darker frame is not "sharper"): blur
    σ 1 lowers it 6–15%, motion blur 9 px 15–70%, while σ 8–20 noise raises it only 1–10% (up to 29% on a
    finely textured one) — so noise is measured on its own and costs the frame.
  * Noise: the finest diagonal wavelet band's median absolute value / 0.6745 (Donoho's robust estimate: edges are
    sparse, noise everywhere): 0–1.5 on the clean photos (5.9 on one finely grained one), 5–15 with σ 8–20 noise.
  * Exposure: a clean photo's over/under state cannot be told from the frame alone (a bright beach is bright),
    but a burst meters one scene, so a frame whose brightness strays from the burst's median is the slip, and
    clipped channels are detail lost either way.
Sharpness is taken on the faces when the frame has faces, else on its salient region (the quarter of a 6×6 grid
of tiles with the most gradient energy: the subject, not the sky).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from imgsearch_desktop.core import images
from imgsearch_desktop.core.analyses.native import native

ANALYSIS_SHORT = 640  # the frame is scored at this shortest side (the measurements above are at 1024 × 640)
NOISE_COST = 0.02  # score lost per grey level of noise above the burst's quietest frame: between the measured
# bounds (σ 15 noise on the clean Wood.jpg reads 17% sharper → > 0.018; Elephants.jpg's own grain, 5.2 levels above
# its blurred copy that is 15% less sharp → < 0.029)
BRIGHTNESS_COST = 0.5  # score lost per stop (log2) a frame's mean brightness strays from the burst's median
CLIP_COST = 1.0  # score lost per share of clipped pixels above the burst's median (not its least: noise lifts
# black areas off the limit, so a noisy frame always reads least clipped)
EAR_OPEN = 0.2  # an eye aspect ratio this high is open (Soukupová & Čech 2016 put the blink at ≈ 0.2) …
EAR_SHARE = 0.7  # … and so is one at 70% of the burst's most open frame: the open-eyed faces of tests/faces measure
# 0.196–0.35 (obama.jpg's 0.196–0.22 at 640 px), so 0.2 alone would close eyes that are open
CLOSED_COST = 0.5  # score lost per face with its eyes closed or cut by the frame's edge: a blink ruins a frame more
# than a 50% loss of sharpness
MISSING_COST = 0.2  # per face fewer than the frame with the most: a face turned away (HOG misses some faces in a
# blurred or shifted frame, so this must not outweigh a clear technical lead)
NOISE_GRADIENT = 0.0088  # gradient energy (any direction) of white noise at the sharpness scale, per σ²: measured
# on N(128, σ) images, σ 5–20, 0.0087–0.0089; subtracted, so noise on a plain area is not read as detail
CLIP_HIGH, CLIP_LOW = 245, 10  # on the smoothed half-size copy: σ 10–20 noise lifts a clipped area by 4–16 levels
TILES = 6
SALIENT_SHARE = 0.25
FACE_MIN_SCORE = 0.5  # HOG's decision value: the faces of tests/faces score 1.0–2.1 in shifted 640 px frames,
# its false detections there (a shirt's patch, a hand) −0.5–0.0


@dataclass
class FaceScore:
    box: tuple[int, int, int, int]  # x, y, w, h in the analysed frame's pixels
    eyes: float  # the smaller of the two eyes' aspect ratios
    in_frame: bool
    sharpness: float
    directions: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    eyes_open: bool = True  # set by ``rank``: EAR ≥ EAR_OPEN, or ≥ EAR_SHARE of the burst's most open frame


@dataclass
class FrameScore:
    """What one frame measures; ``score``/``why`` are set by ``rank`` against the rest of its burst."""

    sharpness: float  # normalised gradient energy on the faces, else the salient region
    anisotropy: float  # 0 = gradients in every direction, 1 = all one way (motion blur smears along one)
    noise: float  # grey levels
    brightness: float  # mean grey level, 0–1
    clipped: float  # share of pixels with a blown channel or black in all (``clipped_share``)
    faces: list[FaceScore] = field(default_factory=list)
    directions: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)  # ``directional`` energies of the same region
    score: float = 0.0
    relative_sharpness: float = 1.0  # against the burst (``rank``)
    why: str = ""

    @property
    def good_faces(self) -> int:
        """Faces with both eyes open and wholly in the frame."""
        return sum(f.eyes_open and f.in_frame for f in self.faces)

    @property
    def eyes(self) -> float | None:
        """The least open eye of the frame (None without faces)."""
        return min((f.eyes for f in self.faces), default=None)

    @property
    def exposure(self) -> float:
        """1 − the clipped share (the burst-relative brightness is in ``score``)."""
        return 1.0 - self.clipped

    def as_json(self) -> dict:
        return {"sharpness": round(self.sharpness, 5), "exposure": round(self.exposure, 4),
                "eyes": None if self.eyes is None else round(self.eyes, 3), "faces": len(self.faces),
                "noise": round(self.noise, 2), "total": round(self.score, 4)}


# ---------------------------------------------------------------- measures on a grey float image (0–255)
def gaussian(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur, edges reflected (a weighted sum of shifted views: no scipy in the packaged app)."""
    r = max(1, math.ceil(3 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-x * x / (2 * sigma * sigma))
    k /= k.sum()
    p = np.pad(a, r, mode="reflect")
    rows = sum(k[i] * p[:, i:i + a.shape[1]] for i in range(2 * r + 1))
    return sum(k[i] * rows[i:i + a.shape[0], :] for i in range(2 * r + 1))


def half(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    a = a[:h, :w]
    return (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) / 4


def _gradients(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gx = a[:-1, 1:] - a[:-1, :-1]
    gy = a[1:, :-1] - a[:-1, :-1]
    return gx, gy


def coarse(grey: np.ndarray) -> np.ndarray:
    """Half resolution, then a σ 1 Gaussian: the scale sharpness is read at (pixel noise mostly gone)."""
    return gaussian(half(grey), 1.0)


ANGLES = (0.0, math.pi / 4, math.pi / 2, 3 * math.pi / 4)


def _moments(d: np.ndarray) -> tuple[float, float, float]:
    if min(d.shape) < 4:
        return 0.0, 0.0, 0.0
    gx, gy = _gradients(d)
    return float((gx * gx).mean()), float((gy * gy).mean()), float((gx * gy).mean())


def directional(d: np.ndarray, scale: float, floor: float = 0.0) -> tuple[float, ...]:
    """Gradient energy along 0°, 45°, 90° and 135°, less ``floor`` (the noise's own: ``NOISE_GRADIENT`` σ²), over
    ``scale`` (the frame's variance: a brighter frame is not a sharper one). Motion blur smears one way: on a face
    whose edges run along the movement the total hardly drops, the energy across it does."""
    xx, yy, xy = _moments(d)
    return tuple(max(0.0, xx * math.cos(t) ** 2 + yy * math.sin(t) ** 2 + 2 * xy * math.sin(t) * math.cos(t) - floor)
                 / (scale + 1e-6) for t in ANGLES)


def anisotropy(d: np.ndarray) -> float:
    """(λ1 − λ2) / (λ1 + λ2) of the structure tensor: 0 = detail every way, 1 = all one way."""
    xx, yy, xy = _moments(d)
    total = xx + yy
    return 0.0 if total <= 0 else math.sqrt((xx - yy) ** 2 + 4 * xy * xy) / total


def noise_sigma(grey: np.ndarray) -> float:
    """Donoho's estimate: median |HH| of the finest Haar band / 0.6745."""
    h, w = grey.shape[0] // 2 * 2, grey.shape[1] // 2 * 2
    a = grey[:h, :w]
    hh = (a[0::2, 0::2] - a[1::2, 0::2] - a[0::2, 1::2] + a[1::2, 1::2]) / 2
    return float(np.median(np.abs(hh)) / 0.6745) if hh.size else 0.0


def clipped_share(rgb: np.ndarray) -> float:
    """Pixels with a blown channel or black in every channel, read on a smoothed half-size copy (CLIP_HIGH/LOW) so
    noise does not lift a clipped area off the limit."""
    top = coarse(rgb.max(axis=2).astype(np.float32))
    return float(((top >= CLIP_HIGH) | (top <= CLIP_LOW)).mean())


def salient_tiles(grey: np.ndarray) -> list[np.ndarray]:
    """The frame's most detailed tiles (a quarter of a 6×6 grid): the subject, not the sky or a blurred background."""
    h, w = grey.shape
    th, tw = h // TILES, w // TILES
    if th < 16 or tw < 16:
        return [grey]
    tiles = [grey[r * th:(r + 1) * th, c * tw:(c + 1) * tw] for r in range(TILES) for c in range(TILES)]
    energy = []
    for t in tiles:
        gx, gy = _gradients(t)
        energy.append(float((gx * gx + gy * gy).mean()))
    keep = np.argsort(energy)[::-1][:max(1, round(len(tiles) * SALIENT_SHARE))]
    return [tiles[i] for i in sorted(keep)]


def eye_aspect_ratio(eye: Sequence[tuple[float, float]]) -> float:
    """(|p2 − p6| + |p3 − p5|) / (2 |p1 − p4|) for the six points of one eye, in the 68-point order."""
    p = np.asarray(eye, dtype=np.float64)
    width = np.linalg.norm(p[0] - p[3])
    if width <= 0:
        return 0.0
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * width))


def eyes_of(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The two eyes' aspect ratios from 68 landmarks (points 36–41 and 42–47)."""
    return eye_aspect_ratio(points[36:42]), eye_aspect_ratio(points[42:48])


# ---------------------------------------------------------------- faces (dlib: HOG + the 68-point landmarks)
class EyeModel:
    """dlib's frontal face detector and 68-point shape predictor (face-recognition-models ships it)."""

    def __init__(self, folder: str | None = None) -> None:
        import dlib

        from imgsearch_desktop.core.analyses.faces import models_dir

        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(os.path.join(folder or models_dir(),
                                                        "shape_predictor_68_face_landmarks.dat"))
        self._rect = dlib.rectangle

    def faces(self, rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], list[tuple[float, float]]]]:
        """(box, 68 landmarks) of every face found."""
        return native(self._faces, rgb)  # dlib only on the native-models thread (core/analyses/native)

    def _faces(self, rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], list[tuple[float, float]]]]:
        out = []
        rects, _scores, _kinds = self._detector.run(rgb, 0, FACE_MIN_SCORE)
        for rect in rects:
            shape = self._shape(rgb, rect)
            points = [(float(shape.part(i).x), float(shape.part(i).y)) for i in range(shape.num_parts)]
            out.append(((rect.left(), rect.top(), rect.width(), rect.height()), points))
        return out


@functools.cache
def default_eye_model() -> EyeModel | None:
    """The face model, or None when dlib or its models are missing (frames are then scored without faces)."""
    try:
        return native(EyeModel)  # made where it will run (core/analyses/native)
    except Exception:  # ImportError, a missing model file (RuntimeError from dlib), UserError from models_dir
        return None


# ---------------------------------------------------------------- one frame
def load_frame(path: str) -> Image.Image:
    """The frame, oriented RGB, shortest side ANALYSIS_SHORT. Raises images.ImageSkipped."""
    return images.decode(images.read_file(path), ANALYSIS_SHORT, name=path).image


def measure(image: Image.Image, eye_model: EyeModel | None = None) -> FrameScore:
    """What one frame measures (no burst context yet): faces first, else the salient region."""
    rgb = np.asarray(image.convert("RGB"))
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    h, w = grey.shape
    d = coarse(grey)
    scale = float(d.var())
    sigma = noise_sigma(grey)
    floor = NOISE_GRADIENT * sigma * sigma
    faces: list[FaceScore] = []
    for (x, y, fw, fh), points in (eye_model.faces(rgb) if eye_model else []):
        # Sharpness on the landmarks' box (brows, eyes, nose, mouth, jaw): the detector's box moves and grows from
        # frame to frame (hair, background) by up to 18% in sharpness on one face; the landmarks follow the face.
        px, py = [p[0] for p in points], [p[1] for p in points]
        x0, y0 = max(0, int(min(px))), max(0, int(min(py)))
        x1, y1 = min(w, int(max(px)) + 1), min(h, int(max(py)) + 1)
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        # cut by the edge: the face reaches past the frame (dlib's box and landmarks then lie partly outside it)
        inside = x >= 0 and y >= 0 and x + fw <= w and y + fh <= h and min(px) >= 0 and min(py) >= 0 \
            and max(px) < w and max(py) < h
        dirs = directional(d[y0 // 2:y1 // 2, x0 // 2:x1 // 2], scale, floor)
        faces.append(FaceScore((x, y, fw, fh), min(eyes_of(points)), inside, sum(dirs), dirs))
    tiles = salient_tiles(d)
    regions = [f.directions for f in faces] or [directional(t, scale, floor) for t in tiles]
    dirs = tuple(float(v) for v in np.mean(regions, axis=0))
    return FrameScore(sum(dirs), float(np.mean([anisotropy(t) for t in tiles])), sigma,
                      float(grey.mean() / 255), clipped_share(rgb), faces, dirs)


# ---------------------------------------------------------------- a burst
def rank(frames: Sequence[FrameScore]) -> int:
    """Score every frame against its burst (``score``, ``why``) and return the index of the pick, the highest
    score: sharpness relative to the burst's sharpest, less noise above the quietest frame, brightness off the
    burst's median, clipping above its median, each face with eyes closed or cut by the edge, each face missing."""
    if not frames:
        raise ValueError("an empty burst has no pick")
    widest = max((f.eyes for f in frames if f.eyes is not None), default=0.0)
    for f in frames:
        for face in f.faces:
            face.eyes_open = face.eyes >= min(EAR_OPEN, EAR_SHARE * widest)
    most = max(len(f.faces) for f in frames)
    best_dirs = np.max([f.directions for f in frames], axis=0)
    weights = best_dirs / max(float(best_dirs.sum()), 1e-12)
    quiet = min(f.noise for f in frames)
    typical_clip = float(np.median([f.clipped for f in frames]))
    median = float(np.median([f.brightness for f in frames])) or 1e-3
    for f in frames:
        ratios = np.clip(np.asarray(f.directions) / np.maximum(best_dirs, 1e-12), 1e-6, 1.0)
        f.relative_sharpness = float(np.exp((weights * np.log(ratios)).sum()))
        stray = abs(math.log2(max(f.brightness, 1e-3) / median))
        f.score = (f.relative_sharpness - NOISE_COST * max(0.0, f.noise - quiet) - BRIGHTNESS_COST * stray
                   - CLIP_COST * max(0.0, f.clipped - typical_clip)
                   - CLOSED_COST * (len(f.faces) - f.good_faces) - MISSING_COST * (most - len(f.faces)))
    best = max(range(len(frames)), key=lambda i: (frames[i].score, -i))
    for i, f in enumerate(frames):
        f.why = explain(f, frames, i == best)
    return best


def explain(f: FrameScore, frames: Sequence[FrameScore], picked: bool) -> str:
    """"sharpest; 3 faces, eyes open" for the pick; for another frame what it lacks ("less sharp (62%)", "noisier",
    "darker", "1 of 2 faces with eyes closed")."""
    rel = f.relative_sharpness
    parts = []
    if picked:
        parts.append("sharpest" if rel >= 0.999 else f"sharp ({rel:.0%} of the sharpest)")
        if f.noise <= min(g.noise for g in frames) + 1:
            parts.append("least noise")
    else:
        if rel < 0.95:
            parts.append(f"less sharp ({rel:.0%})")
        if f.anisotropy > min(g.anisotropy for g in frames) + 0.1:
            parts.append("motion blur")
        if f.noise > min(g.noise for g in frames) + 2:
            parts.append(f"noisier (σ {f.noise:.0f})")
    median = float(np.median([g.brightness for g in frames])) or 1e-3
    stray = math.log2(max(f.brightness, 1e-3) / median)
    if stray > 0.15:
        parts.append("brighter than the rest" + (f", {f.clipped:.0%} clipped" if f.clipped > 0.02 else ""))
    elif stray < -0.15:
        parts.append("darker than the rest" + (f", {f.clipped:.0%} clipped" if f.clipped > 0.02 else ""))
    if f.faces:
        closed = sum(not x.eyes_open for x in f.faces)
        cut = sum(not x.in_frame for x in f.faces)
        n = len(f.faces)
        words = f"{n} face{'s' if n > 1 else ''}"
        if not closed and not cut:
            parts.append(f"{words}, eyes open")
        else:
            if closed:
                parts.append(f"{words}: {closed} with eyes closed")
            if cut:
                parts.append(f"{words}: {cut} cut by the edge")
    most = max(len(g.faces) for g in frames)
    if len(f.faces) < most:
        parts.append(f"{most - len(f.faces)} face{'s' if most - len(f.faces) > 1 else ''} fewer than another frame")
    return "; ".join(parts) or "like the pick"
