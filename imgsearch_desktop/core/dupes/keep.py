"""The keep rules: which photo of a group is kept (``KeepPolicy``, the rules in the user's order), what each rule
ranks by, and ``mark_derived``, which ranks a lossless copy decoded from a lossy file below it."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from PIL import Image, ImageOps

from imgsearch_desktop.core import exif, images
from imgsearch_desktop.core.dupes.groups import Photo
from imgsearch_desktop.core.dupes.similarity import hamming
from imgsearch_desktop.core.dupes.tiers import NEAR_BITS
from imgsearch_desktop.core.paths import inside

# A lossless file "decoded from" a lossy one: the pixels' mean |difference| (0–255, every channel) at most this, and
# the 99th percentile at most DECODE_P99: a PNG saved from a JPEG by Pillow is 0/0, another decoder (IDCT, chroma
# upsampling) differs by a level or two; measured on /usr/share/backgrounds photos, re-encoding that decode even at
# JPEG q98 stays within it too, so pixels alone never tell the direction: the file times and camera EXIF do.
DECODE_MEAN = 1.0
DECODE_P99 = 4.0


class KeepRule(StrEnum):
    """One way to prefer a photo as the keeper. The user orders them; the first that tells two photos apart wins."""

    REFERENCE = "reference"
    PIXELS = "pixels"
    LOSSLESS = "lossless"
    ORIGINAL = "original"
    LEAST_COMPRESSED = "least-compressed"
    OLDEST = "oldest"
    FOLDER = "folder"

    @property
    def label(self) -> str:
        return _RULE_LABELS[self]


_RULE_LABELS = {
    KeepRule.REFERENCE: "in a reference folder",
    KeepRule.PIXELS: "most pixels",
    KeepRule.LOSSLESS: "lossless before lossy",
    KeepRule.ORIGINAL: "original format (camera RAW, HEIC) before a derived copy",
    KeepRule.LEAST_COMPRESSED: "least compressed (most bytes per pixel)",
    KeepRule.OLDEST: "oldest file",
    KeepRule.FOLDER: "folder priority",
}
DEFAULT_KEEP_RULES: tuple[KeepRule, ...] = tuple(KeepRule)
_QUALITY_RULES = frozenset({KeepRule.LOSSLESS, KeepRule.ORIGINAL, KeepRule.LEAST_COMPRESSED})  # of the content
DERIVED_LABEL = "the original before a lossless copy made from it"


def mark_derived(photos: Sequence) -> None:
    """Set ``derived_from`` on each lossless photo that is a decode of a lossy one among ``photos``: the same pixels
    (within DECODE_MEAN / DECODE_P99, the lossy one as stored or turned by its EXIF orientation), and the files say
    which came first: the lossless one newer, or the lossy one with camera EXIF where the lossless one has none
    (each counted, the other way round against). A PNG saved from the camera's JPEG is 9× larger and "lossless",
    yet holds nothing the JPEG does not: it must never be kept over it. Reads the files: a pool thread's work."""
    lossless = [p for p in photos if _pixel_count(p) and is_lossless(p)]
    lossy = sorted((p for p in photos if _pixel_count(p) and not is_lossless(p)),
                   key=lambda q: (q.mtime_ns or 0, q.path))  # the oldest first: the likeliest source
    decoded: dict[int, tuple[list[np.ndarray], str] | None] = {}
    for p in lossless:
        p.derived_from = None
        for source in lossy:
            if _could_be_decode(p, source) and _decoded_from(p, source, decoded):
                p.derived_from = source
                break


def _pixel_count(p) -> int:
    return (p.width or 0) * (p.height or 0)


def _could_be_decode(copy, source) -> bool:
    """The indexed facts allow it (so only such pairs are read): as many pixels, perceptual hashes close."""
    if _pixel_count(copy) != _pixel_count(source):
        return False
    a, b = getattr(copy, "phash", None), getattr(source, "phash", None)
    return not (a and b) or hamming(a, b) <= NEAR_BITS


def _decoded_from(copy, source, decoded: dict) -> bool:
    for q in (copy, source):
        if id(q) not in decoded:
            decoded[id(q)] = _pixels(q)
    if decoded[id(copy)] is None or decoded[id(source)] is None:
        return False
    (mine, *_), my_camera = decoded[id(copy)]
    views, camera = decoded[id(source)]
    if not any(v.shape == mine.shape and _within_decode(mine, v) for v in views):
        return False
    evidence = np.sign((copy.mtime_ns or 0) - (source.mtime_ns or 0)) + (bool(camera) - bool(my_camera))
    return evidence > 0


def _within_decode(a: np.ndarray, b: np.ndarray) -> bool:
    diff = np.abs(a - b)
    return float(diff.mean()) <= DECODE_MEAN and float(np.percentile(diff, 99)) <= DECODE_P99


def _pixels(p) -> tuple[list[np.ndarray], str] | None:
    """The file's RGB pixels as stored and as its EXIF orientation shows them (one array when it has none), and its
    camera's name; None when it cannot be read now."""
    try:
        with images.pillow_reasons(), Image.open(getattr(p, "real", "") or p.path) as im:
            camera = exif.of_image(im).camera
            stored = im.convert("RGB")
            turned = ImageOps.exif_transpose(im).convert("RGB")
    except (images.ImageSkipped, OSError):
        return None
    views = [np.asarray(stored, dtype=np.int16)]
    if turned.size != stored.size or turned.tobytes() != stored.tobytes():
        views.append(np.asarray(turned, dtype=np.int16))
    return views, camera


@functools.lru_cache(maxsize=8192)
def webp_is_lossless(path: str, size: int = 0, mtime_ns: int = 0) -> bool:
    """A WebP file whose image is a VP8L (lossless) bitstream. Pillow says "WEBP" for both kinds, so read the RIFF
    chunks: ``VP8L`` is lossless, ``VP8 `` lossy (``size``/``mtime_ns`` only key the cache)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
                return False
            while chunk := fh.read(8):
                if len(chunk) < 8:
                    return False
                tag, length = chunk[:4], int.from_bytes(chunk[4:], "little")
                if tag in (b"VP8L", b"VP8 "):
                    return tag == b"VP8L"
                fh.seek(length + (length & 1), os.SEEK_CUR)
    except OSError:
        return False
    return False


def is_lossless(p) -> bool:
    row = images.format_of(getattr(p, "format", None), p.path)
    if row is not None and row.name == "WEBP":  # lossy or lossless is a property of the file, not of WebP
        return webp_is_lossless(getattr(p, "real", "") or p.path, p.size or 0, getattr(p, "mtime_ns", 0) or 0)
    return row is not None and row.lossless


def is_original(p) -> bool:
    row = images.format_of(getattr(p, "format", None), p.path)
    return row is not None and row.original


@dataclass
class KeepPolicy:
    """Chooses the keeper of a group: ``rules`` in the user's order, then the path (so the choice is stable).

    ``p`` may be anything with path, width, height, size, format, mtime_ns (a Photo or a search Hit)."""

    rules: Sequence[KeepRule] = DEFAULT_KEEP_RULES
    references: Sequence[str] = ()
    folders: Sequence[str] = ()  # folder priority: photos under the first folder first

    def __post_init__(self) -> None:
        self.rules = tuple(KeepRule(r) for r in self.rules)
        self._refs = [os.path.realpath(r) for r in self.references]
        self._folders = [os.path.realpath(f) for f in self.folders]

    def value(self, rule: KeepRule, p) -> float | bool:
        """Higher is better. A lossless copy decoded from a lossy file (``derived_from``) has its source's quality
        and no more: on the quality rules it ranks just below its source, whatever their order."""
        source = getattr(p, "derived_from", None)
        if source is not None and rule in _QUALITY_RULES:
            return self.value(rule, source) - (0.5 if rule is not KeepRule.LEAST_COMPRESSED else 1e-6)
        real = getattr(p, "real", "") or os.path.realpath(p.path)
        pixels = (p.width or 0) * (p.height or 0)
        if rule is KeepRule.REFERENCE:
            return any(inside(real, r) for r in self._refs)
        if rule is KeepRule.PIXELS:
            return pixels
        if rule is KeepRule.LOSSLESS:
            return is_lossless(p)
        if rule is KeepRule.ORIGINAL:
            return is_original(p)
        if rule is KeepRule.LEAST_COMPRESSED:
            return (p.size or 0) / pixels if pixels else 0.0
        if rule is KeepRule.OLDEST:
            return -(p.mtime_ns or 0)
        return -next((i for i, f in enumerate(self._folders) if inside(real, f)), len(self._folders))

    def key(self, p) -> tuple:
        return (*(self.value(r, p) for r in self.rules), p.path)

    def pick(self, photos: Iterable) -> Photo:
        return max(photos, key=self.key)

    def explain(self, keep, other) -> str:
        """The first rule that put ``keep`` ahead of ``other``."""
        for rule in self.rules:
            if self.value(rule, keep) != self.value(rule, other):
                derived = getattr(other, "derived_from", None) is keep and rule in _QUALITY_RULES
                return DERIVED_LABEL if derived else rule.label
        return "first by name"


def saved_keep_rules(names: Iterable[str]) -> list[KeepRule]:
    """The user's order; a rule the file does not know is dropped and a rule it lacks (added in a later version)
    comes after the user's, so an old or hand-edited settings.toml never breaks a scan nor reorders the rest."""
    chosen: list[KeepRule] = []
    for name in names or ():
        try:
            rule = KeepRule(name)
        except ValueError:
            continue
        if rule not in chosen:
            chosen.append(rule)
    return chosen + [rule for rule in DEFAULT_KEEP_RULES if rule not in chosen]


def folder_priority(settings) -> list[str]:
    """The folders in priority order: the saved order first, then photo and reference folders not in it yet."""
    out: list[str] = []
    for folder in [*settings.folder_priority, *settings.folders, *settings.references]:
        if folder and folder not in out:
            out.append(folder)
    return out


def keep_policy(settings, references: Sequence[str] = (), rules: Sequence[KeepRule] | None = None) -> KeepPolicy:
    """The one keeper decision, built from Settings: the saved keep rules (or ``rules``, the CLI's --keep-rules),
    the reference folders (plus ``references``, the CLI's --reference) and the folder priority. ``dupes``, the
    Duplicates window and the search grid's best version all choose by it, so they name the same keeper."""
    return KeepPolicy(saved_keep_rules(settings.keep_rules) if rules is None else rules,
                      [*settings.references, *(r for r in references if r not in settings.references)],
                      folder_priority(settings))
