"""Safe image loading: allowlisted formats → EXIF-oriented, size-capped RGB PIL images, or a reason to skip.

Every file is read once into memory (the bytes also give the sha256), opened from that buffer, drafted down to near
the model's input size for JPEGs (``Image.draft`` decodes a 12 MP JPEG ~6× faster), oriented, converted properly to
RGB and resized so its shortest side is the model's input size.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import os
import stat
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from imgsearch_desktop.core import exif as exif_facts
from imgsearch_desktop.core.filekind import file_kind

# A decompression bomb is never decoded, with no warnings filter (process-wide, and not thread-safe to swap
# around each decode): Pillow raises DecompressionBombError itself past 2 × MAX_IMAGE_PIXELS, and ``_check_opened``
# refuses anything over MAX_PIXELS from the header, before a pixel is decoded. Between the two, Pillow's
# DecompressionBombWarning is only a warning (reported once by Python's default filter).
MAX_PIXELS = 150_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

try:  # HEIC/HEIF (iPhone photos), when the extra is installed
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - depends on the install
    HEIF = False

try:  # camera RAW, through the embedded JPEG preview
    import rawpy
except ImportError:  # pragma: no cover
    rawpy = None



@dataclass(frozen=True)
class Format:
    """One row of the format table: every other list of formats in the app is derived from ``FORMATS``."""

    name: str  # what Pillow reports (and the index's `format` field); RAW files are read through a JPEG preview
    label: str  # for people (filters, labels)
    extensions: tuple[str, ...]
    lossless: bool  # ranks before a lossy copy when a keeper is chosen (WebP: decided per file, VP8L bitstream)
    original: bool = False  # a camera's own file (RAW, HEIC): ranks before a derived JPEG
    raw: bool = False  # decoded through the embedded preview (rawpy), never by Pillow
    available: bool = True  # its optional decoder is installed


FORMATS: tuple[Format, ...] = (
    Format("JPEG", "JPEG", (".jpg", ".jpeg", ".jpe", ".jfif"), lossless=False),
    Format("MPO", "JPEG (multi-picture)", (), lossless=False),  # what Pillow calls some cameras' JPEGs
    Format("PNG", "PNG", (".png",), lossless=True),
    Format("WEBP", "WebP", (".webp",), lossless=False),
    Format("GIF", "GIF", (".gif",), lossless=False),  # 256 colours: never the best version of a photo
    Format("BMP", "BMP", (".bmp",), lossless=True),
    Format("TIFF", "TIFF", (".tif", ".tiff"), lossless=True),
    Format("AVIF", "AVIF", (".avif",), lossless=False),
    Format("HEIF", "HEIC", (".heic", ".heif"), lossless=False, original=True, available=HEIF),
    Format("RAW", "camera RAW", (".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf", ".rw2", ".raf", ".pef", ".srw"),
           lossless=False, original=True, raw=True, available=rawpy is not None),  # ranked as originals
)
PILLOW_FORMATS = {f.name for f in FORMATS if f.available and not f.raw}
RAW_EXTENSIONS = {e for f in FORMATS if f.raw and f.available for e in f.extensions}
EXTENSIONS = {e for f in FORMATS if f.available for e in f.extensions}
_BY_EXTENSION = {e: f for f in FORMATS for e in f.extensions}
_BY_NAME = {f.name: f for f in FORMATS}


def format_of(fmt: str | None, path: str | Path = "") -> Format | None:
    """The table's row for an indexed photo: its file's suffix for RAW (indexed via a JPEG preview), else the name."""
    by_suffix = _BY_EXTENSION.get(Path(path).suffix.lower())
    if by_suffix is not None and by_suffix.raw:
        return by_suffix
    return _BY_NAME.get((fmt or "").upper())


class ImageSkipped(Exception):
    """A file that cannot be used; ``str(exc)`` is the one-line reason shown to the user."""


class NotAFile(ImageSkipped):
    """The path names no regular file but ``kind`` (a folder, a FIFO, a device, a socket): not a photo at all."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"not a regular file ({kind})")
        self.kind = kind


@dataclass
class LoadedImage:
    image: Image.Image  # RGB, EXIF-oriented, shortest side ≈ the requested size
    width: int  # original pixel size, as displayed (after EXIF orientation)
    height: int
    format: str
    taken_at: str | None  # ISO 8601 from EXIF DateTimeOriginal, when present
    thumbnail: Image.Image | None = None  # longest side ≤ thumb_px, when asked for (from the same decode)


@dataclass
class LoadedFile:
    loaded: LoadedImage
    sha256: str


def is_supported_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in EXTENSIONS


MAX_FILE_BYTES = 1 << 30  # 1 GiB: more than a 150 MP 16-bit TIFF; anything bigger is not a photo we read whole


def read_file(path: str | Path, header_only: bool = False) -> bytes:
    """The file's bytes, or ImageSkipped with why it could not be read.

    Only regular files are read (a FIFO named ``*.jpg`` would block forever, a device never ends), and the header
    is checked before the whole file is read: a 1.5 GB file that is not an image costs one small read.
    ``header_only``: stop after those checks (empty bytes back) — enough to say a query photo is usable.
    """
    fh, st = _open_regular(path)
    with fh:
        try:
            if st.st_size == 0:
                raise ImageSkipped("empty file (0 bytes)")
            if st.st_size > MAX_FILE_BYTES:
                raise ImageSkipped(f"too large to be a photo ({st.st_size / 1e9:.1f} GB)")
            if hasattr(os, "set_blocking"):
                os.set_blocking(fh.fileno(), True)
            if Path(path).suffix.lower() not in RAW_EXTENSIONS:  # LibRaw needs the whole file to say anything
                _check_header(fh)
                if header_only:  # the checks above passed: a usable image, nothing more needed
                    return b""
                fh.seek(0)
            data = _read_with_deadline(fh, st.st_size)
        except OSError as exc:
            raise ImageSkipped(f"unreadable: {exc.strerror or exc}") from None
    if not data:
        raise ImageSkipped("empty file (0 bytes)")
    return data


def _open_regular(path: str | Path) -> tuple[io.BufferedReader, os.stat_result]:
    """The opened file and its stat, or ImageSkipped: only a regular file is opened for reading (without blocking:
    a FIFO's open would wait for a writer)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ImageSkipped("vanished (deleted or moved before it could be read)") from None
    except PermissionError:
        raise ImageSkipped("permission denied") from None
    except IsADirectoryError:
        raise NotAFile("a folder") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageSkipped("symlink loop") from None
        if exc.errno == errno.ENXIO:  # a Unix socket cannot be opened at all
            raise NotAFile("a socket") from None
        raise ImageSkipped(f"unreadable: {exc.strerror or exc}") from None
    try:  # before open(fd): that refuses a folder's descriptor (IsADirectoryError), which os.open took
        st = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise ImageSkipped(f"unreadable: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotAFile(file_kind(st.st_mode))
    return open(fd, "rb", closefd=True), st


READ_TIMEOUT = 60.0  # seconds for one file: a photo on a network share that crawls is skipped, not waited for
READ_CHUNK = 4 << 20


def _read_with_deadline(fh, size: int) -> bytes:
    """Read in chunks, giving up when the whole file takes longer than READ_TIMEOUT (a slow network folder):
    the file is skipped with a reason and tried again on the next run, instead of holding up all indexing."""
    started = time.monotonic()
    parts = []
    while chunk := fh.read(READ_CHUNK):
        parts.append(chunk)
        if time.monotonic() - started > READ_TIMEOUT:
            raise ImageSkipped(f"too slow to read (over {READ_TIMEOUT:.0f} s for {size / 1e6:.1f} MB: a slow network "
                               "folder?); it is tried again next time")
    return b"".join(parts)


def _check_opened(im: Image.Image) -> None:
    if im.format not in PILLOW_FORMATS:
        raise ImageSkipped(f"unsupported format {im.format}")
    if im.width * im.height > MAX_PIXELS:  # from the header; Pillow itself only warns up to 2 × MAX_PIXELS
        raise ImageSkipped(f"too large ({im.width}×{im.height} px, over {MAX_PIXELS // 1_000_000} MP)")


def _check_header(fh) -> None:
    """Pillow parses only the header here: refuse non-images and bombs before reading the pixels' bytes."""
    with pillow_reasons(), Image.open(fh) as im:
        _check_opened(im)


@contextlib.contextmanager
def pillow_reasons() -> Iterator[None]:
    """Pillow's ways of failing → ImageSkipped with a one-line reason."""
    try:
        yield
    except ImageSkipped:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:  # the warning: under `-W error`
        raise ImageSkipped(f"too large (over {MAX_PIXELS // 1_000_000} megapixels): {exc}") from None
    except UnidentifiedImageError:
        raise ImageSkipped("not an image (or a format that is not supported)") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        if "truncated" in str(exc).lower():
            raise ImageSkipped("truncated image (incomplete file)") from None
        raise ImageSkipped(f"corrupt image: {exc}") from None


def load_file(path: str | Path, target: int) -> LoadedFile:
    """Read once, hash, decode. Raises ImageSkipped with a reason."""
    data = read_file(path)
    return LoadedFile(loaded=decode(data, target, name=str(path)), sha256=hashlib.sha256(data).hexdigest())


def decode(data: bytes, target: int, name: str = "", thumb_px: int = 0, draft_target: int = 0) -> LoadedImage:
    """Decode image bytes to an RGB image whose shortest side is ``target`` (never upscaled); with ``thumb_px``,
    also the grid's thumbnail from the same decode (indexing fills the thumbnail cache on the way). With
    ``draft_target``, a JPEG (which its decoder scales down by 2, 4 or 8 for less work) is decoded at that shortest
    side instead: a caller that needs ``target`` only for some photos decodes those again (core/analyses/backfill)."""
    with pillow_reasons(), Image.open(io.BytesIO(viewable(data, name))) as im:
        _check_opened(im)
        if draft_target and _draftable(im):
            target = min(target, draft_target)
        return _prepare(im, target, thumb_px)


VIEW_MAX_PIXELS = 50_000_000  # the preview shows up to this many pixels at 100% (a 50 MP camera); beyond, reduced


def viewable(data: bytes, name: str = "") -> bytes:
    """The bytes Pillow decodes for this file: a camera RAW's embedded JPEG preview, else the file itself."""
    return raw_preview(data) if Path(name).suffix.lower() in RAW_EXTENSIONS else data


def decode_for_view(data: bytes, name: str = "", max_pixels: int = VIEW_MAX_PIXELS) -> LoadedImage:
    """The whole picture for a person to look at (the window's preview): oriented RGB at full resolution, reduced
    only past ``max_pixels``; same allowlist, caps and conversions as indexing."""
    with pillow_reasons(), Image.open(io.BytesIO(viewable(data, name))) as im:
        _check_opened(im)
        scale = min(1.0, (max_pixels / max(1, im.width * im.height)) ** 0.5)
        return _prepare(im, max(1, int(min(im.size) * scale)))


def raw_preview(data: bytes) -> bytes:
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            thumb = raw.extract_thumb()
    except Exception as exc:  # rawpy raises its own LibRaw* errors
        raise ImageSkipped(f"camera RAW without a readable preview: {exc}") from None
    if thumb.format != rawpy.ThumbFormat.JPEG:
        raise ImageSkipped("camera RAW preview is not a JPEG")
    return bytes(thumb.data)


def _draftable(im: Image.Image) -> bool:
    """Pillow can decode it at a half, a quarter or an eighth of its size (JPEG's DCT scaling), for less work."""
    return im.format in ("JPEG", "MPO") and im.mode in ("RGB", "L", "CMYK", "YCbCr")


def _prepare(im: Image.Image, target: int, thumb_px: int = 0) -> LoadedImage:
    fmt = im.format or "unknown"
    width, height = im.size  # before draft(), which shrinks im.size
    exif = im.getexif()
    orientation = exif.get(0x0112, 1)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if _draftable(im):
        side = max(target, thumb_px)
        im.draft(im.mode if im.mode != "YCbCr" else "RGB", (side, side))
    im.load()
    im = ImageOps.exif_transpose(im) or im
    rgb = to_rgb(im)
    thumb = None
    if thumb_px:  # resized straight from the decode: no full-size copy of a large PNG or TIFF
        scale = min(1.0, thumb_px / max(rgb.size))
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        thumb = rgb.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0) if scale < 1 else rgb.copy()
    return LoadedImage(image=shrink(rgb, target), width=width, height=height, format=fmt,
                       taken_at=exif_facts.taken_at(exif), thumbnail=thumb)


MAX_ASPECT = 20  # longer side : shorter side kept (224 × 4480 px at most); CLIP centre-crops a square anyway


def shrink(im: Image.Image, target: int) -> Image.Image:
    """Resize so the shortest side is ``target`` (CLIP's own first step), never upscaling.

    An extreme strip (a 1×100000 PNG) is first centre-cropped to ``MAX_ASPECT``: resized to the model's short side
    as it is, it would become 224×22,400,000 pixels (GBs) in the model's own preprocessing.
    """
    if max(im.size) > MAX_ASPECT * min(im.size):
        w, h = im.size
        cw, ch = (min(w, MAX_ASPECT * h), h) if w > h else (w, min(h, MAX_ASPECT * w))
        left, top = (w - cw) // 2, (h - ch) // 2
        im = im.crop((left, top, left + cw, top + ch))
    short = min(im.size)
    if short <= target:
        return im
    scale = target / short
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any mode to 8-bit RGB without clipping or losing colour management."""
    if im.mode == "RGB":
        return im
    if im.mode == "CMYK":
        icc = im.info.get("icc_profile")
        if icc:
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
            except (ImageCms.PyCMSError, OSError):
                pass
        return im.convert("RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = (0.0, 65535.0) if im.mode.startswith("I;16") else (float(arr.min()), float(arr.max()))
        if im.mode == "I" and hi <= 65535 and lo >= 0:
            lo, hi = 0.0, 65535.0 if hi > 255 else 255.0
        scaled = np.clip((arr - lo) * (255.0 / max(hi - lo, 1e-9)), 0, 255).round().astype(np.uint8)
        return Image.fromarray(scaled, mode="L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info) or (
            im.mode in ("L", "RGB") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def open_query_image(path: str | Path, target: int) -> LoadedImage:
    """A query image given by the user: same safe path, the error says which file."""
    try:
        return decode(read_file(path), target, name=str(path))
    except ImageSkipped as exc:
        raise ImageSkipped(f"{path}: {exc}") from None


PHASH_SIZE = 16  # a 16×16 DCT hash = 256 bits; see perceptual_hash


def perceptual_hash(im: Image.Image) -> str:
    """256-bit DCT perceptual hash as 64 hex chars (stored as an ES ``bit`` vector for near-duplicate search).

    Why 256 bits and not the usual 64: measured on textured test photos, the 64-bit hash puts a 90% crop as close
    as 2 bits to the original, overlapping resized/recompressed copies (≤ 2 bits); at 256 bits same-picture copies
    stay ≤ 6 bits while a 90% crop is ≥ 50 bits away.

    The algorithm and bit order of ``imagehash.phash`` (a test checks the hashes are identical); the DCT is two
    matrix products, so the packaged app needs no scipy (over 100 MB) for one 64×64 transform.
    """
    side = PHASH_SIZE * 4
    pixels = np.asarray(im.convert("L").resize((side, side), Image.Resampling.LANCZOS), dtype=np.float64)
    return _dct_bits(pixels).hex()


def _dct_bits(pixels: np.ndarray) -> bytes:
    """The hash bits of a side×side grey image: its low DCT frequencies above their median (imagehash's order)."""
    dct = _dct_matrix(pixels.shape[0])
    low = (dct @ pixels @ dct.T)[:PHASH_SIZE, :PHASH_SIZE]
    return np.packbits(low.flatten() > np.median(low)).tobytes()


@functools.cache
def _dct_matrix(n: int) -> np.ndarray:
    """Unnormalised DCT-II (scipy's default): dct(x) along axis 0 is ``_dct_matrix(n) @ x``."""
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    return 2 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))


# ---------------------------------------------------------------- the strict "same picture" check (dupes/finder.py)
VIEW_SIDE = 256  # decode (JPEG draft, reduce) to about this before hashing: the hash looks at 64×64
COLOUR_CELLS = 8  # the colour check compares an 8×8 grid of mean colours


@dataclass(frozen=True)
class PictureViews:
    """What a photo looks like on a white and on a black background, as 256-bit perceptual hashes, and how much
    each view carries (``spread``: standard deviation of the 64×64 grey levels the hash is taken from).

    Why two backgrounds: the indexed hash sees transparent images on white only, so a white logo and another white
    logo both hash as a blank page; on black their shapes differ. An opaque photo has the same view twice.
    Why the spread: a near-flat image's hash is decided by noise and rounding, so it proves nothing either way.
    Why the colour: the hashes see brightness only, so one design in two colourways (a hue shift, swapped
    channels, a tint) hashes alike; ``colour`` is the picture (on white) as a grid of CIELAB cell means.
    """

    on_white: int
    on_black: int
    spread_white: float
    spread_black: float
    colour: np.ndarray = field(compare=False, repr=False, default_factory=lambda: np.zeros((0, 3)))

    @property
    def most_spread(self) -> float:
        """The spread of the view that carries more: below MIN_SPREAD (dupes) the picture is near-flat on both."""
        return max(self.spread_white, self.spread_black)


def picture_views(path: str | Path) -> PictureViews:
    """Hashes of the file as it is on disk now (EXIF-oriented, alpha kept). Raises ImageSkipped with a reason."""
    data = read_file(path)
    if Path(path).suffix.lower() in RAW_EXTENSIONS:
        data = raw_preview(data)
    return views_of_data(data)


def views_of_data(data: bytes) -> PictureViews:
    """``picture_views`` of image data (a pasted image; a RAW file's preview). Raises ImageSkipped with a reason."""
    with pillow_reasons(), Image.open(io.BytesIO(data)) as im:
        _check_opened(im)
        if im.format in ("JPEG", "MPO") and im.mode in ("RGB", "L", "CMYK", "YCbCr"):
            im.draft(im.mode if im.mode != "YCbCr" else "RGB", (VIEW_SIDE, VIEW_SIDE))
        im.load()
        im = ImageOps.exif_transpose(im) or im
        white, black, colour = _on_backgrounds(im)
    (hw, sw), (hb, sb) = _hash_and_spread(white), _hash_and_spread(black)
    return PictureViews(hw, hb, sw, sb, colour)


def colour_distance(a: PictureViews, b: PictureViews) -> float:
    """How far apart two pictures' colours are: the mean CIE76 ΔE of their grid cells (about 2.3 is the least a
    person notices side by side). On the mate-backgrounds wallpapers: copies resized, recompressed (JPEG q40–85,
    WebP) or converted measured ≤ 1.2; recoloured ones (hue +20/256, channels swapped, a 15–25% tint) ≥ 5.4, and
    that set's Warm and Radioactive colourways of one design 14.8."""
    return float(np.linalg.norm(a.colour - b.colour, axis=-1).mean())


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _on_backgrounds(im: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey levels (float) of the image composited on white and on black, about VIEW_SIDE px on the short side,
    and the colour grid (``PictureViews.colour``) of it on white."""
    alpha = _has_alpha(im)
    im = im.convert("RGBA") if alpha else to_rgb(im)
    factor = max(1, min(im.size) // VIEW_SIDE)
    if factor > 1:
        im = im.reduce(factor)  # box-averages premultiplied RGBa: transparent pixels do not bleed in
    arr = np.asarray(im, dtype=np.float64) / 255.0
    grey = arr[..., :3] @ np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma, as Pillow's "L"
    if not alpha:
        return grey * 255.0, grey * 255.0, _lab(_cell_means(arr, COLOUR_CELLS))
    a = arr[..., 3]
    on_white = arr[..., :3] * a[..., None] + (1.0 - a[..., None])
    return (grey * a + (1.0 - a)) * 255.0, grey * a * 255.0, _lab(_cell_means(on_white, COLOUR_CELLS))


def _cell_means(rgb: np.ndarray, cells: int) -> np.ndarray:
    """The mean of each cell of a cells×cells grid over the image (edges split as evenly as the pixels allow)."""
    rows = np.array_split(np.arange(rgb.shape[0]), cells)
    cols = np.array_split(np.arange(rgb.shape[1]), cells)
    return np.array([[rgb[r[0]:r[-1] + 1, c[0]:c[-1] + 1].mean(axis=(0, 1)) if len(r) and len(c) else np.ones(3)
                      for c in cols] for r in rows])


_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def _lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] → CIELAB (D65): the colour space where a distance is roughly what a person sees."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ.T / _D65_WHITE
    eps = (6 / 29) ** 3
    f = np.where(xyz > eps, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def _hash_and_spread(grey: np.ndarray) -> tuple[int, float]:
    """The perceptual hash of a float grey image (same DCT as perceptual_hash) and its 64×64 spread."""
    side = PHASH_SIZE * 4
    small = np.asarray(Image.fromarray(grey.astype(np.float32), mode="F").resize((side, side),
                                                                                  Image.Resampling.LANCZOS),
                       dtype=np.float64)
    return int.from_bytes(_dct_bits(small), "big"), float(small.std())
