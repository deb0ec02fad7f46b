"""Faces: detect every face in a photo, and describe each by a 128-d vector where one person's faces lie close.

Behind a seam like the CLIP encoders': ``FaceModel`` is a detector + descriptor in one (``faces(rgb array)``), so an
ONNX export (RetinaFace/SCRFD + ArcFace) can replace dlib without touching the analysis, the store or the people.
The dlib model: HOG frontal-face detector without upsampling on a decode whose longest side is ``MAX_SIDE``,
5-point landmarks for alignment, the ResNet descriptor (faces of one person: Euclidean distance < 0.6; DESIGN.md's
"Faces and text in photos"). HOG's window is 80 px: at 800 px it finds faces of at least a tenth of the photo's
longest side (a portrait, a few people at a table); smaller faces in a crowd are missed at this setting.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np
from PIL import Image

from imgsearch_desktop.core.analyses.face_descriptor import CHIP, DIMS, Descriptor, ResnetDescriptor
from imgsearch_desktop.core.analyses.native import native
from imgsearch_desktop.errors import UserError

MAX_SIDE = 800  # measured: 8.8 portrait photos/s a core, every face found (DESIGN.md)
MIN_SCORE = 0.0  # HOG's decision value; below 0 dlib itself does not report a face
FACES_VERSION = 1  # dlib HOG 800 px + 5-point + ResNet v1


@dataclass
class Face:
    box: tuple[int, int, int, int]  # x, y, w, h in the analysed image's pixels
    score: float  # the detector's confidence
    landmarks: list[tuple[float, float]]  # the 5 points (eye corners, nose) in the analysed image's pixels
    descriptor: np.ndarray  # DIMS floats


class FaceModel(Protocol):
    name: str

    def faces(self, rgb: np.ndarray) -> list[Face]:
        """Every face in an RGB uint8 array (H, W, 3), most confident first."""
        ...


def models_dir() -> str:
    """Where the model files are: the packaged app's ``resources/face_models``, else where
    face-recognition-models keeps them, found without importing it (its __init__ needs pkg_resources, which a
    current setuptools no longer has)."""
    from imgsearch_desktop.frozen import is_frozen, resource_dir

    if is_frozen():
        return str(resource_dir() / "face_models")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the face models are not installed (the face-recognition-models package)")
    return os.path.join(next(iter(spec.submodule_search_locations)), "models")


class DlibFaceModel:
    """dlib's HOG detector and 5-point landmarks; dlib's ResNet descriptor run on ONNX Runtime (face_descriptor.py:
    the same weights, descriptors within 1e-6 of dlib's own, 6.5 ms a face against 76), all faces of a photo at once."""

    name = "dlib-hog-resnet-v1"

    def __init__(self, folder: str | None = None, descriptor: Callable[[str], Descriptor] = ResnetDescriptor) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise UserError(f"faces need dlib (the dlib-bin package): {exc}") from None
        folder = folder or models_dir()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shapes = dlib.shape_predictor(os.path.join(folder, "shape_predictor_5_face_landmarks.dat"))
        self._descriptor = descriptor(folder)

    def faces(self, rgb: np.ndarray) -> list[Face]:
        return sorted(native(self._faces, rgb), key=lambda f: -f.score)  # dlib only there (analyses/native)

    def _faces(self, rgb: np.ndarray) -> list[Face]:
        rects, scores, _kinds = self._detector.run(rgb, 0, MIN_SCORE)
        shapes = [self._shapes(rgb, rect) for rect in rects]
        if not shapes:
            return []
        # dlib's own chips for its descriptor: aligned by the 5 points, 150 px, padding 0.25
        chips = np.asarray(self._dlib.get_face_chips(rgb, self._dlib.full_object_detections(shapes), CHIP, 0.25))
        out = []
        for rect, score, shape, vector in zip(rects, scores, shapes, self._descriptor.describe(chips), strict=True):
            box = (rect.left(), rect.top(), rect.width(), rect.height())
            points = [(float(shape.part(i).x), float(shape.part(i).y)) for i in range(shape.num_parts)]
            out.append(Face(box, float(score), points, vector))
        return out


@cache
def default_model() -> FaceModel:
    return native(DlibFaceModel)  # made where it will run (analyses/native)


def faces_in(model: FaceModel, image: Image.Image, original: tuple[int, int],
             max_side: int = MAX_SIDE) -> list[dict]:
    """The faces of a photo as stored: box [x, y, w, h] and landmarks in the original photo's pixels (clipped to
    it), the detection score, the descriptor."""
    scale = min(1.0, max_side / max(image.size))
    if scale < 1.0:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.BILINEAR)
    fx, fy = original[0] / image.width, original[1] / image.height
    out = []
    for face in model.faces(np.asarray(image.convert("RGB"))):
        x, y, w, h = face.box
        left, top = max(0, round(x * fx)), max(0, round(y * fy))
        right, bottom = min(original[0], round((x + w) * fx)), min(original[1], round((y + h) * fy))
        out.append({"box": [left, top, max(1, right - left), max(1, bottom - top)], "score": round(face.score, 4),
                    "landmarks": [round(v, 1) for px, py in face.landmarks for v in (px * fx, py * fy)],
                    "descriptor": [float(v) for v in face.descriptor]})
    return out


def largest_face(faces: list[dict]) -> dict | None:
    return max(faces, key=lambda f: f["box"][2] * f["box"][3], default=None)


class FacesAnalysis:
    """The faces analysis: ``faces`` (nested, one entry a face) in the photo's document."""

    name = "faces"
    version = FACES_VERSION
    decode_side = MAX_SIDE * 3 // 4  # shortest side of a 4:3 photo whose longest is MAX_SIDE

    def __init__(self, model: FaceModel | None = None) -> None:
        self._model = model

    @property
    def model(self) -> FaceModel:
        if self._model is None:
            self._model = default_model()
        return self._model

    def mapping(self) -> dict:
        # Nested: a photo's faces are separate entries (kNN finds a photo by its nearest face, inner_hits say which).
        # l2_norm: dlib's descriptors are compared by Euclidean distance (ES scores 1 / (1 + d²)).
        return {"faces": {"type": "nested", "properties": {
            "box": {"type": "integer", "index": False},
            "score": {"type": "float", "index": False},
            "landmarks": {"type": "float", "index": False},
            "descriptor": {"type": "dense_vector", "dims": DIMS, "index": True, "similarity": "l2_norm"},
        }}}

    def analyse(self, image: Image.Image, original: tuple[int, int],
                larger: Callable[[], Image.Image] | None = None) -> dict:
        return {"faces": faces_in(self.model, image, original)}  # MAX_SIDE: any decode the pass gives is enough


def distance_from_score(score: float) -> float:
    """Euclidean distance back from ES's l2_norm score 1 / (1 + d²)."""
    return float(max(0.0, 1.0 / max(score, 1e-9) - 1.0) ** 0.5)
