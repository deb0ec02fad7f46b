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


def dng_bytes(preview_jpeg: bytes, preview_size: tuple[int, int], raw_size: tuple[int, int] = (64, 48)) -> bytes:
    """A minimal real DNG that LibRaw opens: IFD0 = the JPEG preview (as cameras store it), one SubIFD = a 16-bit
    Bayer (RGGB) raw image. Little-endian TIFF; every tag LibRaw needs to identify and preview it."""
    import struct

    short, long_, byte, ascii_ = 3, 4, 1, 2

    def ifd(entries: list[tuple[int, int, int, bytes]], offset: int) -> bytes:
        head, data = struct.pack("<H", len(entries)), b""
        data_start = offset + 2 + 12 * len(entries) + 4
        for tag, kind, count, value in sorted(entries):
            if len(value) <= 4:
                head += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
            else:
                head += struct.pack("<HHII", tag, kind, count, data_start + len(data))
                data += value + b"\0" * (len(value) % 2)
        return head + struct.pack("<I", 0) + data

    def shorts(*v: int) -> bytes:
        return struct.pack(f"<{len(v)}H", *v)

    def longs(*v: int) -> bytes:
        return struct.pack(f"<{len(v)}I", *v)

    (w, h), (rw, rh) = preview_size, raw_size
    raw = np.random.default_rng(0).integers(0, 4096, (rh, rw)).astype("<u2").tobytes()
    preview = preview_jpeg + b"\0" * (len(preview_jpeg) % 2)
    jpeg_at, raw_at = 8, 8 + len(preview)
    ifd0_at = raw_at + len(raw)

    def ifd0(sub_at: int) -> bytes:
        return ifd([(254, long_, 1, longs(1)), (256, long_, 1, longs(w)), (257, long_, 1, longs(h)),
                    (258, short, 3, shorts(8, 8, 8)), (259, short, 1, shorts(7)), (262, short, 1, shorts(6)),
                    (271, ascii_, 8, b"Testcam\0"), (272, ascii_, 6, b"T-100\0"), (273, long_, 1, longs(jpeg_at)),
                    (277, short, 1, shorts(3)), (278, long_, 1, longs(h)),
                    (279, long_, 1, longs(len(preview_jpeg))), (330, long_, 1, longs(sub_at)),
                    (50706, byte, 4, bytes([1, 4, 0, 0])), (50708, ascii_, 14, b"Testcam T-100\0")], ifd0_at)

    sub_at = ifd0_at + len(ifd0(0))
    sub = ifd([(254, long_, 1, longs(0)), (256, long_, 1, longs(rw)), (257, long_, 1, longs(rh)),
               (258, short, 1, shorts(16)), (259, short, 1, shorts(1)), (262, short, 1, shorts(32803)),
               (273, long_, 1, longs(raw_at)), (277, short, 1, shorts(1)), (278, long_, 1, longs(rh)),
               (279, long_, 1, longs(len(raw))), (33421, short, 2, shorts(2, 2)),
               (33422, byte, 4, bytes([0, 1, 1, 2])), (50717, long_, 1, longs(4095))], sub_at)
    return b"II*\0" + longs(ifd0_at) + preview + raw + ifd0(sub_at) + sub


def write_dng(path: Path, seed: int, size: tuple[int, int] = (320, 240)) -> Path:
    import io

    buffer = io.BytesIO()
    picture(seed, size).save(buffer, "JPEG", quality=85)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dng_bytes(buffer.getvalue(), size))
    return path


def exif_tagged(path: Path, seed: int, size: tuple[int, int] = (1600, 1200)) -> Path:
    """A JPEG as a camera writes it: make, model, lens, date taken, exposure and a GPS position (the Eiffel tower)."""
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 80D"
    sub = exif.get_ifd(0x8769)
    sub[0x9003], sub[0xA434] = "2021:07:14 09:30:00", "EF-S 18-55mm f/3.5-5.6 IS STM"
    sub[0x829D], sub[0x829A], sub[0x8827], sub[0x920A] = IFDRational(28, 10), IFDRational(1, 250), 200, 35.0
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.6), "E", (2.0, 17.0, 40.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture(seed, size).save(path, "JPEG", exif=exif.tobytes())
    return path
