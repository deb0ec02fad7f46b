"""Burst frames made from real photographs: each frame a slightly shifted crop of the photo (a hand-held camera), and
measured damage on all but one — Gaussian blur, motion blur, noise, over/under exposure — saved as JPEG with the
EXIF a camera writes (DateTimeOriginal, SubSecTimeOriginal, Make, Model)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

BACKGROUNDS = Path("/usr/share/backgrounds/mate")
PHOTOS = [*sorted((BACKGROUNDS / "nature").glob("*.jpg")), BACKGROUNDS / "abstract" / "Elephants.jpg"]
FACES = Path(__file__).parent / "faces"
SIDE = 1024  # frames are written at this longest side
SHIFT = 0.015  # each frame's crop moves up to 1.5% of the side (hand-held)

EXIF_IFD, MAKE, MODEL, DTO, SUBSEC = 0x8769, 0x010F, 0x0110, 0x9003, 0x9291


def load(path: Path, side: int = SIDE + 64) -> Image.Image:
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    return im


def gaussian_blur(sigma: float) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    return lambda im, rng: im.filter(ImageFilter.GaussianBlur(sigma))


def motion_blur(length: int, diagonal: bool = False) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    """A straight line kernel of ``length`` px: the frame averaged along the camera's movement."""
    def apply(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        a = np.asarray(im, np.float32)
        pad = np.pad(a, ((length, length), (length, length), (0, 0)), mode="edge")
        acc = np.zeros_like(a)
        for k in range(length):
            dx = k - length // 2
            dy = dx if diagonal else 0
            acc += pad[length + dy:length + dy + a.shape[0], length + dx:length + dx + a.shape[1]]
        return Image.fromarray(np.clip(acc / length, 0, 255).astype(np.uint8))
    return apply


def noise(sigma: float) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    def apply(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        a = np.asarray(im, np.float32) + rng.normal(0, sigma, (im.height, im.width, 3))
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return apply


def exposure(stops: float) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    """``stops`` EV in linear light (sRGB ≈ gamma 2.2), clipped as a sensor clips."""
    def apply(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        a = (np.asarray(im, np.float32) / 255) ** 2.2 * (2.0 ** stops)
        return Image.fromarray(np.clip(a ** (1 / 2.2) * 255, 0, 255).astype(np.uint8))
    return apply


DAMAGES: dict[str, Callable] = {
    "blur σ1.5": gaussian_blur(1.5), "blur σ2.5": gaussian_blur(2.5),
    "motion 9 px": motion_blur(9), "motion 13 px diagonal": motion_blur(13, diagonal=True),
    "noise σ10": noise(10), "noise σ20": noise(20),
    "+1.5 EV": exposure(1.5), "−1.5 EV": exposure(-1.5),
}


def frame(source: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A crop of ``source`` shifted a little, at SIDE px: the camera moved between frames."""
    w, h = source.size
    cw, ch = w - 64, h - 64 * h // w
    dx, dy = (rng.uniform(-SHIFT, SHIFT, 2) * (w, h)).astype(int)
    left, top = (w - cw) // 2 + dx, (h - ch) // 2 + dy
    return source.crop((left, top, left + cw, top + ch))


def camera_exif(when: datetime, make: str = "Canon", model: str = "Canon EOS 80D") -> bytes:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = make, model
    sub = exif.get_ifd(EXIF_IFD)
    sub[DTO] = when.strftime("%Y:%m:%d %H:%M:%S")
    sub[SUBSEC] = f"{when.microsecond // 10000:02d}"
    return exif.tobytes()


def write_burst(folder: Path, source: Image.Image, start: datetime, damages: list[str], rng: np.random.Generator,
                step: float = 0.25, camera: tuple[str, str] = ("Canon", "Canon EOS 80D"),
                clean_at: int = 0) -> tuple[list[Path], Path]:
    """One undamaged frame (at position ``clean_at``) and one frame per damage, ``step`` s apart. Returns the
    frames in order and the clean one."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(damages)
    names.insert(clean_at, "")
    paths, clean = [], None
    for i, damage in enumerate(names):
        im = frame(source, rng)
        if damage:
            im = DAMAGES[damage](im, rng)
        path = folder / f"IMG_{i:04d}.jpg"
        (folder / "damage.txt").open("a").write(f"{path.name}: {damage or 'clean'}\n")
        when = start + timedelta(seconds=step * i)
        im.save(path, "JPEG", quality=92, exif=camera_exif(when, *camera))
        paths.append(path)
        if not damage:
            clean = path
    assert clean is not None
    return paths, clean
