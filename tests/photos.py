"""Real image files for tests: distinct, textured pictures (flat synthetic images would all look alike)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A distinct picture per seed: coloured blobs over a gradient, plus sensor-like noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(0, 255, 3)[None, None, :] * (0.5 + 0.5 * (xx / w))[..., None]
    img = base + rng.normal(0, 6, (h, w, 3))
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.08, 0.3) * min(w, h)
        mask = ((xx - cx) ** 2 + (yy - cy) ** 2) < r * r
        img[mask] = rng.uniform(0, 255, 3)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def write_photo(path: Path, seed: int, size: tuple[int, int] = (320, 240), fmt: str | None = None,
                **save_kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    picture(seed, size).save(path, format=fmt, **save_kwargs)
    return path


def exif_rotated(path: Path, seed: int, orientation: int = 6, size: tuple[int, int] = (320, 240)) -> Path:
    """A JPEG stored landscape with an EXIF orientation tag (6 = display rotated 90° clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "2021:07:14 09:30:00"
    path.parent.mkdir(parents=True, exist_ok=True)
    picture(seed, size).save(path, "JPEG", exif=exif.tobytes())
    return path
