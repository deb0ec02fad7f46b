"""The on-disk thumbnail cache, shared by indexing (which fills it from the decode it does anyway) and the window.

A thumbnail is a JPEG whose longest side is ``THUMB_PX``, keyed by the path's bytes, mtime, size and pixel size, so a
changed file never shows a stale picture. Writes are atomic (temp file, then rename).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from PIL import Image

from imgsearch_desktop.core import images, private

THUMB_PX = 256


def key(path: str, mtime_ns: int, size: int, px: int = THUMB_PX) -> str:
    return hashlib.sha1(os.fsencode(path) + f"|{mtime_ns}|{size}|{px}".encode()).hexdigest()


def key_now(path: str, px: int = THUMB_PX) -> str | None:
    """The key of the file as it is now, or None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return key(path, st.st_mtime_ns, st.st_size, px)


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def make(path: str, px: int = THUMB_PX) -> bytes:
    """JPEG bytes of an EXIF-oriented thumbnail through the same safe loader as indexing (format allowlist, size
    cap, draft decode, RAW previews). Not load_file: a thumbnail has no use for the content hash."""
    return jpeg(images.decode(images.read_file(path), px, name=path, thumb_px=px).thumbnail)


class ThumbCache:
    def __init__(self, folder: Path, px: int = THUMB_PX) -> None:
        self.folder = Path(folder)
        self.px = px

    def file(self, key_: str) -> Path:
        return self.folder / f"{key_}.jpg"

    def put(self, key_: str, data: bytes) -> None:
        private.write_bytes(self.file(key_), data)  # a library's pictures: 0600 in a 0700 folder, atomically

    def put_image(self, path: str, mtime_ns: int, size: int, image: Image.Image) -> None:
        """From indexing's decode: the grid then never decodes this photo again."""
        self.put(key(path, mtime_ns, size, self.px), jpeg(image))
