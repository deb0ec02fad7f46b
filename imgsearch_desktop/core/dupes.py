"""Duplicates and similar shots: candidate pairs from the vectors, then rules that decide.

Three tiers (``Tier``), each including the one before:
  exact         "identical file": same sha256.
  same picture  the picture resized, recompressed, converted or rotated through EXIF: indexed perceptual hashes
                within ``near_bits``, CLIP cosine ≥ ``near_cosine``, the same aspect ratio, and a strict re-check of
                the files on disk (hashes on a white and on a black background, so transparency counts; never for an
                image too flat for a hash to mean anything).
  similar       "similar shot": CLIP cosine ≥ ``threshold``: the same scene, crops.
A fourth tier stands apart: ``burst`` (core/bursts.py), frames one camera took seconds apart, grouped around the
best frame; their frames are left out of the same-picture and similar-shot groups (``DupeFinder.relation``).

Candidate pairs come from an exact cosine join of the library's vectors in memory (blocked matrix products: at
100,000 photos 2–4× quicker than a kNN query per photo, and exact up to 50 partners a photo), or above
``EXACT_JOIN_MAX`` photos, where its N² cost overtakes them, from one kNN query per photo (batched with
``_msearch``). Union-find links the pairs into sets; each set is then split into star groups around keepers (best
photo first), so every member meets its tier's rule against its group's keeper — never A~B~C with A≁C. One file on
disk (``(st_dev, st_ino)``, reached by any name) is one photo, listed once and counted once. Files the user marked
"not a duplicate" are never grouped again with the photos they were taken out of.
"""

from __future__ import annotations

import builtins
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from imgsearch_desktop.config import set_aside
from imgsearch_desktop.core import bursts, exif, images, private
from imgsearch_desktop.core.paths import identity, inside
from imgsearch_desktop.core.progress import Progress
from imgsearch_desktop.core.store import Filters, path_from_source, readable_path, root_from_source
from imgsearch_desktop.core.vector_store import VectorStore
from imgsearch_desktop.errors import UserError

log = logging.getLogger(__name__)

# Defaults, and where they come from (README "Duplicates"):
NEAR_BITS = 24  # of 256: same-picture copies measured ≤ 6 bits apart, a 90% crop ≥ 50
NEAR_COSINE = 0.95  # CLIP confirmation for "same picture": resized/recompressed copies of real photos score ≥ 0.98
# Photos up to which candidates come from the exact in-memory join: its cost grows with N², a kNN query per photo
# with N·log N; where the two cross on two cores is measured by benchmarks/dupes.py (README, Duplicates).
EXACT_JOIN_MAX = 300_000
JOIN_BLOCK_FLOATS = 50_000_000  # one block of the join's score matrix: 200 MB of float32
JOIN_PER_ROW = 50  # partners a photo keeps from the join at most (the kNN path asks for 10 neighbours)
SIMILAR_COSINE = 0.9  # Immich flags duplicates at cosine distance ≤ 0.0155 (cos ≥ 0.985); similar shots go lower
MIN_SPREAD = 8.0  # grey levels (std of the 64×64 the hash sees): measured, near-black/near-white photos and mostly
# transparent icons sit at 0–7 and their hashes are noise or a blank page; ordinary photos 28–49
ASPECT_TOLERANCE = 0.02  # relative: a resize keeps the aspect ratio to a pixel's rounding
# A lossless file "decoded from" a lossy one: the pixels' mean |difference| (0–255, every channel) at most this, and
# the 99th percentile at most DECODE_P99: a PNG saved from a JPEG by Pillow is 0/0, another decoder (IDCT, chroma
# upsampling) differs by a level or two; measured on /usr/share/backgrounds photos, re-encoding that decode even at
# JPEG q98 stays within it too, so pixels alone never tell the direction: the file times and camera EXIF do.
DECODE_MEAN = 1.0
DECODE_P99 = 4.0
COLOUR_DELTA = 3.0  # mean ΔE of the colour grids (images.colour_distance): copies ≤ 1.2, recoloured pictures ≥ 5.4


class Tier(StrEnum):
    """How sure a duplicate is. The values are the CLI's ``--level`` words."""

    EXACT = "exact"
    SAME_PICTURE = "near"
    SIMILAR = "similar"
    BURST = "burst"  # not a duplicate tier: frames of one burst, around its best frame (core/bursts.py)

    @property
    def label(self) -> str:
        return _TIER_LABELS[self]

    @property
    def choice(self) -> str:
        """What the Duplicates window's "Find" menu calls a scan at this tier."""
        return _TIER_CHOICES[self]

    @property
    def pre_ticked(self) -> bool:
        """Members of this tier go to the trash by default: copies yes, similar shots only when the user says so."""
        return self is not Tier.SIMILAR

    @property
    def order(self) -> int:
        return _TIER_ORDER[self]

    @classmethod
    def parse(cls, value: str | Tier) -> Tier:
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"level must be one of {tuple(t.value for t in cls)}") from None


_TIER_LABELS = {Tier.EXACT: "identical file", Tier.SAME_PICTURE: "same picture", Tier.SIMILAR: "similar shot",
                Tier.BURST: "burst"}
_TIER_CHOICES = {Tier.EXACT: "Identical files", Tier.SAME_PICTURE: "Same picture (resized, converted, recompressed)",
                 Tier.SIMILAR: "Similar shots too", Tier.BURST: "Bursts (the best frame of each)"}
_TIER_ORDER = {Tier.EXACT: 0, Tier.SAME_PICTURE: 1, Tier.SIMILAR: 2, Tier.BURST: 3}


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 group``, ``2 groups``, ``1 copy`` / ``3 copies`` (with ``many``)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


# ---------------------------------------------------------------- photos, members, groups
@dataclass(eq=False)
class Photo:
    doc_id: str
    path: str  # as indexed (the name listed)
    sha256: str
    size: int
    width: int
    height: int
    mtime_ns: int
    format: str
    phash: str | None
    vector: np.ndarray
    real: str = ""  # os.path.realpath at scan time
    inode: tuple[int, int] | None = None  # (st_dev, st_ino) at scan time
    aliases: list[str] = field(default_factory=list)  # other indexed names of this same file (links, nested roots)
    alias_ids: list[str] = field(default_factory=list)
    root: str = ""  # the library folder it was indexed under
    derived_from: Photo | None = None  # the lossy file this lossless one was decoded from (``mark_derived``)
    taken: str | None = None  # the indexed EXIF date taken (ISO, whole seconds): bursts' first look

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


@dataclass(frozen=True)
class Relation:
    """Why ``other`` belongs with a keeper: its tier, cosine to the keeper, hash distance (same picture)."""

    tier: Tier
    score: float
    bits: int | None = None

    @property
    def why(self) -> str:
        if self.tier is Tier.EXACT:
            return "identical content"
        if self.tier is Tier.SAME_PICTURE:
            return f"same picture: hashes {self.bits} bits apart, similarity {self.score:.2f}"
        if self.tier is Tier.BURST:
            return f"burst frame: similarity {self.score:.2f}"
        return f"similar shot: {self.score:.2f}"


@dataclass(eq=False)
class Member:
    photo: Photo
    score: float  # cosine similarity to the keeper
    tier: Tier | None = None  # None: the keeper
    bits: int | None = None  # perceptual-hash distance to the keeper (same picture)
    ticked: bool = False  # suggested for the trash (the window's checkbox starts like this)
    protected: str = ""  # why it can never be trashed (in a reference folder), else ""
    why: str = ""  # "identical content", "same picture: hashes 4 bits apart, similarity 0.99", "keep: most pixels"
    copy_of: Photo | None = None  # the member of this group it holds the very same bytes as (not the keeper)
    quality: Any = None  # a burst frame's shot_quality.FrameScore (its ``scores`` in JSON)

    @property
    def is_keeper(self) -> bool:
        return self.tier is None

    @property
    def relation(self) -> str:
        """keeper | identical file | same picture | similar shot (an identical copy of a member: identical file)"""
        if self.tier is None:
            return "keeper"
        return Tier.EXACT.label if self.copy_of is not None else self.tier.label

    @property
    def pre_ticked(self) -> bool:
        """Suggested for the trash by default: by its tier, and an identical copy of a member always (its bytes
        stay in that member, whatever the user decides about the member)."""
        return self.tier is not None and (self.copy_of is not None or self.tier.pre_ticked)

    def as_json(self) -> dict:
        p = self.photo
        out = {"path": readable_path(p.path), "size": p.size, "width": p.width, "height": p.height,
               "score": round(self.score, 6)}
        if self.quality is not None:
            out["scores"] = self.quality.as_json()
            out["why"] = self.quality.why
        return out


@dataclass(eq=False)
class Group:
    keep: Photo
    members: list[Member] = field(default_factory=list)  # keeper first
    level: Tier = Tier.SAME_PICTURE  # the level it was found at (the scan's)
    threshold: float = SIMILAR_COSINE  # the scan's similar-shot threshold
    keep_why: str = ""  # the keep rule that chose the keeper, e.g. "most pixels"

    @property
    def tier(self) -> Tier:
        """What the group is: its weakest member's tier."""
        tiers = [m.tier for m in self.members if m.tier is not None]
        return max(tiers, key=lambda t: t.order) if tiers else self.level

    @property
    def why(self) -> str:
        """The weakest member's reason: "identical content" / "same picture: hashes 4 bits apart, similarity 0.99"
        (the largest distance, the lowest similarity) / "similar shot: 0.93"."""
        if self.level is Tier.BURST:
            return self.keep_why  # the pick's reasons: "sharpest; 3 faces, eyes open"
        weakest = [m for m in self.members if m.tier is not None and m.tier is self.tier]
        if not weakest:
            return ""
        return Relation(self.tier, min(m.score for m in weakest), max(m.bits or 0 for m in weakest)).why

    @property
    def wasted_bytes(self) -> int:
        """Bytes held by copies: each file (inode) counted once, never the keeper's."""
        seen = {self.keep.inode or self.keep.doc_id}
        total = 0
        for m in self.members:
            key = m.photo.inode or m.photo.doc_id
            if key not in seen:
                seen.add(key)
                total += m.photo.size
        return total

    @property
    def ticked(self) -> list[Member]:
        return [m for m in self.members if m.ticked and m.photo is not self.keep]

    def as_json(self) -> dict:
        return {"level": self.level.value, "keep": readable_path(self.keep.path), "why": self.why,
                "files": [m.as_json() for m in self.members]}


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


# ---------------------------------------------------------------- keep rules
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


def near_match(phash_a: str | None, phash_b: str | None, score: float, near_bits: int = NEAR_BITS,
               near_cosine: float = NEAR_COSINE) -> bool:
    """The cheap same-picture test, on what the index holds: CLIP cosine and perceptual hashes close enough. The
    one place it is written; the strict check (``DupeFinder.same_picture``) then looks at the files."""
    return score >= near_cosine and bool(phash_a and phash_b) and hamming(phash_a, phash_b) <= near_bits


def relation_to_query(hit, query_sha256: str | None, query_phash: str | None, near_bits: int = NEAR_BITS,
                      near_cosine: float = NEAR_COSINE, alike: Callable[[Any], bool] | None = None) -> Tier:
    """How a search hit relates to the dropped photo: identical file, same picture, or similar shot (a label only:
    the strict same-picture check runs in a duplicate scan, before anything can be trashed). ``alike`` confirms a
    same-picture candidate on the files (``same_colours``: the hashes see brightness only); without it none is."""
    if query_sha256 and hit.sha256 == query_sha256:
        return Tier.EXACT
    if near_match(query_phash, hit.phash, hit.score, near_bits, near_cosine) and alike is not None and alike(hit):
        return Tier.SAME_PICTURE
    return Tier.SIMILAR


def same_colours(a: images.PictureViews | None, b: images.PictureViews | None,
                 delta: float = COLOUR_DELTA) -> bool:
    """Two files' colours agree as copies' do (unreadable: they do not): one design in two colourways hashes alike."""
    return a is not None and b is not None and images.colour_distance(a, b) <= delta


# ---------------------------------------------------------------- "not a duplicate", remembered
@dataclass
class NotDuplicate:
    """A file the user took out of a group: never grouped again with the photos it was in (all by content)."""

    sha256: str
    path: str  # its name when marked (for the list; the mark follows the content)
    others: dict[str, str] = field(default_factory=dict)  # sha256 → name of each photo of that group
    time: str = ""


class NotDuplicates:
    """The user's "not a duplicate" marks, in a JSON file; a file that cannot be read is set aside, not fatal."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.warning: str | None = None  # set when the file was unreadable and set aside
        self._marks: dict[str, NotDuplicate] = {}
        self._pairs: set[frozenset[str]] = set()
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self._set_aside(exc)
            return
        except OSError as exc:  # unreadable now (EIO, EACCES) is not corrupt: keep the file, refuse to go on
            raise UserError(f"cannot read {self.path} ({exc.strerror or exc}): the 'not a duplicate' choices in "
                            "it would be lost; fix its permissions and try again") from None
        try:
            marks = _parse_marks(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self._set_aside(exc)
            return
        for mark in marks:
            self._merge(mark)
        self._reindex()

    def _set_aside(self, exc: Exception) -> None:
        aside = set_aside(self.path)
        self.warning = f"{self.path.name} could not be read ({exc}); set aside as {aside.name}, starting empty"
        log.warning(self.warning)

    def mark(self, group: Group, member: Member) -> NotDuplicate:
        """``member`` is not a duplicate of any photo of ``group``: remember it against all of them."""
        others = {m.photo.sha256: readable_path(m.photo.path) for m in group.members if m is not member}
        return self.add(member.photo.sha256, others, readable_path(member.photo.path))

    def add(self, sha256: str, others: str | Mapping[str, str] | Iterable[str], path: str = "") -> NotDuplicate:
        """Remember ``sha256`` as not a duplicate of ``others`` (one sha256, several, or sha256 → name)."""
        if isinstance(others, str):
            others = [others]
        named = dict(others) if isinstance(others, Mapping) else dict.fromkeys(others, "")
        named.pop(sha256, None)  # an identical copy of itself is not something to remember
        mark = self._merge(NotDuplicate(sha256, path, named, datetime.now(UTC).isoformat(timespec="seconds")))
        self._reindex()
        self._save()
        return mark

    def list(self) -> builtins.list[NotDuplicate]:
        """Every mark, newest first."""
        return sorted(self._marks.values(), key=lambda m: m.time, reverse=True)

    def forget(self, sha256: str) -> bool:
        """Undo: the file may be grouped again. Returns whether there was a mark."""
        if self._marks.pop(sha256, None) is None:
            return False
        self._reindex()
        self._save()
        return True

    def vetoes(self, sha_a: str, sha_b: str) -> bool:
        return frozenset((sha_a, sha_b)) in self._pairs

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return self.vetoes(*pair)

    def __len__(self) -> int:
        return len(self._marks)

    def _merge(self, mark: NotDuplicate) -> NotDuplicate:
        old = self._marks.get(mark.sha256)
        if old:
            old.others.update(mark.others)
            old.path, old.time = mark.path or old.path, mark.time or old.time
            return old
        self._marks[mark.sha256] = mark
        return mark

    def _reindex(self) -> None:
        self._pairs = {frozenset((m.sha256, o)) for m in self._marks.values() for o in m.others if o != m.sha256}

    def _save(self) -> None:
        data = {"version": 2, "marks": [{"sha256": m.sha256, "path": m.path, "others": m.others, "time": m.time}
                                        for m in self.list()]}
        private.write_text(self.path, json.dumps(data, ensure_ascii=False, indent=1))


def _parse_marks(data) -> builtins.list[NotDuplicate]:
    if isinstance(data, builtins.list):  # version 1: a list of [sha, sha] pairs
        return [NotDuplicate(a, "", {b: ""}) for a, b in data]
    return [NotDuplicate(str(m["sha256"]), str(m.get("path", "")), {str(k): str(v) for k, v in m["others"].items()},
                         str(m.get("time", ""))) for m in data["marks"]]


# ---------------------------------------------------------------- the scan
@dataclass
class ScanStats:
    """What a scan did, for the benchmark and the log."""

    photos: int = 0
    candidate_pairs: int = 0
    linked_sets: int = 0  # sets linked by candidate pairs, before the split (what union-find alone would show)
    groups: int = 0  # star groups after the split
    off_keeper: int = 0  # photos of linked sets that failed the rule against the set's best photo
    files_checked: int = 0  # files read for the strict same-picture check (a finder remembers them)
    check_seconds: float = 0.0
    low_content: int = 0  # files refused "same picture": too flat for a hash to say anything
    gone: int = 0  # indexed files no longer on disk (left out)
    seconds: float = 0.0


def cosine_pairs(vectors: np.ndarray, floor: float, per_row: int = JOIN_PER_ROW,
                 progress: Progress | None = None) -> Iterator[tuple[int, int]]:
    """(i, j), i < j, of unit ``vectors`` whose cosine is ≥ ``floor``: the upper triangle of the similarity matrix, a
    block of rows at a time (a block holds ``JOIN_BLOCK_FLOATS`` scores at most). Each row keeps its ``per_row``
    best partners at most, so a low threshold cannot ask for N²/2 pairs: union-find still links a larger group
    through them, and the star split then judges every member against its keeper."""
    n = len(vectors)
    rows = max(16, min(1024, JOIN_BLOCK_FLOATS // max(n, 1)))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        scores = vectors[start:stop] @ vectors[start:].T  # columns from ``start``: only the diagonal block has j ≤ i
        scores[np.tril_indices(stop - start)] = -np.inf  # the photo itself, and pairs seen from an earlier row
        hits = scores >= floor
        dense = np.flatnonzero(hits.sum(axis=1) > per_row)
        for r in dense:  # a row above its budget keeps its best partners only
            row = scores[r]
            hits[r] = False
            hits[r, np.argpartition(-row, per_row)[:per_row]] = True
            hits[r] &= row >= floor
        ii, jj = np.nonzero(hits)
        yield from zip((ii + start).tolist(), (jj + start).tolist(), strict=True)
        if progress and not progress(stop, n, "comparing"):
            return


class DupeFinder:
    def __init__(self, store: VectorStore, near_bits: int = NEAR_BITS, near_cosine: float = NEAR_COSINE,
                 references: Sequence[str] = (), not_duplicates: NotDuplicates | None = None,
                 batch: int = 100, neighbours: int = 10, keep_rules: Sequence[KeepRule] = DEFAULT_KEEP_RULES,
                 folder_priority: Sequence[str] = (), min_spread: float = MIN_SPREAD,
                 exact_join_max: int = EXACT_JOIN_MAX, colour_delta: float = COLOUR_DELTA,
                 policy: KeepPolicy | None = None, burst_picks: bursts.BurstPicks | None = None) -> None:
        """``policy`` (from ``keep_policy(settings)``) replaces ``references``/``keep_rules``/``folder_priority``;
        ``burst_picks``: the user's burst picks (a burst scan honours them, a rekeep of a burst remembers it)."""
        self.store = store
        self.colour_delta = colour_delta
        self.exact_join_max = exact_join_max
        self.near_bits = near_bits
        self.near_cosine = near_cosine
        self.policy = policy or KeepPolicy(keep_rules, references, folder_priority)
        self.references = [os.path.realpath(r) for r in self.policy.references]
        self.not_duplicates = not_duplicates
        self.batch = batch
        self.neighbours = neighbours
        self.min_spread = min_spread
        self.stats = ScanStats()
        self._views: dict[tuple[str, int, int], images.PictureViews | None] = {}  # kept between scans
        self._flat: set[str] = set()  # photos of this scan too flat to hash
        self._library: list[str] = []  # real paths of the folders this scan's photos were indexed under
        self.burst_picks = burst_picks
        self._burst_shas: set[str] = set()  # this scan's burst frames (by content): never a near/similar member

    # ----- reading the index -----
    def photos(self, folders: Sequence[str] = ()) -> dict[str, Photo]:
        fields = ["path", "path_b64", "sha256", "size", "width", "height", "mtime_ns", "format", "phash",
                  "image_embedding", "root", "relative_path", "taken_at"]
        out = {}
        for doc, s in self.store.documents(Filters(folders=list(folders)), fields, page=500):
            out[doc] = Photo(doc, path_from_source(s), s.get("sha256", ""), s.get("size") or 0,
                             s.get("width") or 0, s.get("height") or 0, s.get("mtime_ns") or 0,
                             s.get("format") or "", s.get("phash"), np.asarray(s["image_embedding"], dtype=np.float32),
                             root=root_from_source(s) if s.get("root") else "", taken=s.get("taken_at"))
        return out

    # ----- the scan -----
    def scan(self, level: str | Tier = Tier.SAME_PICTURE, threshold: float = SIMILAR_COSINE,
             folders: Sequence[str] = (), progress: Progress | None = None) -> list[Group]:
        """Duplicate groups of the library (or of these folders), largest wasted space first."""
        started = time.perf_counter()
        tier = Tier.parse(level)
        folders = [os.path.abspath(f) for f in folders]
        self.stats, self._flat = ScanStats(), set()
        photos = self.photos(folders)
        self._library = sorted({os.path.realpath(p.root) for p in photos.values() if p.root})
        self.stats.photos = len(photos)
        if tier is Tier.BURST:
            groups = bursts.scan(self, list(photos.values()), self.burst_picks, progress)
            self.stats.groups, self.stats.seconds = len(groups), time.perf_counter() - started
            return groups
        # The one place bursts are kept out of the duplicate tiers: their frames are judged in their own tier.
        self._burst_shas = bursts.member_shas(photos.values(), self.views_of) if tier is not Tier.EXACT else set()
        pairs = self._candidate_pairs(photos, tier, threshold, folders, progress)
        self.stats.candidate_pairs = len(pairs)
        sets = self._linked_sets(photos, pairs)
        self.stats.linked_sets = len(sets)
        if tier is not Tier.EXACT:
            self._prefetch(sets, tier, progress)
        groups = []
        for done, members in enumerate(sets, 1):
            groups += self._split(members, tier, threshold)
            if progress and not progress(done, len(sets), "checking groups"):
                break
        groups.sort(key=lambda g: (-g.wasted_bytes, g.keep.path))
        self.stats.groups, self.stats.low_content = len(groups), len(self._flat)
        self.stats.seconds = time.perf_counter() - started
        return groups

    def _candidate_pairs(self, photos: dict[str, Photo], tier: Tier, threshold: float, folders: Sequence[str],
                         progress: Progress | None) -> set[tuple[str, str]]:
        """Pairs worth a closer look: same sha256, and vector neighbours that pass the cheap (indexed) checks."""
        pairs: set[tuple[str, str]] = set()
        by_sha: dict[str, list[str]] = {}
        for p in photos.values():
            if p.sha256:
                by_sha.setdefault(p.sha256, []).append(p.doc_id)
        for same in by_sha.values():
            pairs |= {_pair(same[0], other) for other in same[1:]}
        if tier is Tier.EXACT:
            return pairs
        if len(photos) <= self.exact_join_max:
            return pairs | self._joined_pairs(photos, tier, threshold, progress)
        ids = list(photos)
        for start in range(0, len(ids), self.batch):
            chunk = [photos[i] for i in ids[start:start + self.batch]]
            for photo, found in zip(chunk, self._neighbours(chunk, tier, threshold, folders), strict=True):
                for other in (photos.get(i) for i in found):
                    if other is not None and other is not photo and self._plausible(photo, other, tier, threshold):
                        pairs.add(_pair(photo.doc_id, other.doc_id))
            if progress and not progress(min(start + self.batch, len(ids)), len(ids), "comparing"):
                break
        return pairs

    def _joined_pairs(self, photos: dict[str, Photo], tier: Tier, threshold: float,
                      progress: Progress | None) -> set[tuple[str, str]]:
        """The pairs at or above the tier's cosine (``cosine_pairs``) that then pass ``_plausible``."""
        ids = list(photos)
        if len(ids) < 2:
            return set()
        vectors = np.stack([photos[i].vector for i in ids], dtype=np.float32)  # one copy, normalised in place
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        floor = (threshold if tier is Tier.SIMILAR else self.near_cosine) - 1e-4  # float32 rounding: _plausible decides
        pairs = set()
        for i, j in cosine_pairs(vectors, floor, progress=progress):
            a, b = photos[ids[i]], photos[ids[j]]
            if self._plausible(a, b, tier, threshold):
                pairs.add(_pair(a.doc_id, b.doc_id))
        return pairs

    def _plausible(self, a: Photo, b: Photo, tier: Tier, threshold: float) -> bool:
        cos = float(a.vector @ b.vector)
        if tier is Tier.SIMILAR:
            return cos >= threshold
        return self.near(a, b, cos)

    def near(self, a: Photo, b: Photo, score: float) -> bool:
        """The cheap same-picture test (``near_match``) and the same aspect ratio: worth reading the files for."""
        return near_match(a.phash, b.phash, score, self.near_bits, self.near_cosine) and _same_aspect(a, b)

    def _neighbours(self, chunk: Sequence[Photo], tier: Tier, threshold: float,
                    folders: Sequence[str]) -> list[list[str]]:
        """One kNN per photo, sent together (the store's knn_many): on the phash for same picture, CLIP for similar."""
        filters = Filters(folders=list(folders))
        if tier is Tier.SAME_PICTURE:
            return self.store.knn_many("phash", [p.phash or None for p in chunk], self.neighbours, filters)
        return self.store.knn_many("image_embedding", [p.vector for p in chunk], self.neighbours, filters,
                                   min_score=threshold)

    def _linked_sets(self, photos: dict[str, Photo], pairs: set[tuple[str, str]]) -> list[list[Photo]]:
        """Union-find over the pairs, after resolving names to files: gone files are left out, and every name of
        one (st_dev, st_ino) becomes one photo (its aliases), so a file is never its own duplicate."""
        canonical = self._resolve(photos, {i for pair in pairs for i in pair})
        uf = _UnionFind()
        for a, b in pairs:
            ca, cb = canonical.get(a), canonical.get(b)
            if ca and cb and ca is not cb and not self._vetoed(ca, cb):
                uf.union(ca.doc_id, cb.doc_id)
        by_id = {p.doc_id: p for p in canonical.values()}
        sets: dict[str, list[Photo]] = {}
        for doc in uf.parent:
            sets.setdefault(uf.find(doc), []).append(by_id[doc])
        return [members for members in sets.values() if len(members) > 1]

    def _resolve(self, photos: dict[str, Photo], ids: set[str]) -> dict[str, Photo]:
        by_inode: dict[tuple[int, int], list[Photo]] = {}
        for doc in sorted(ids):
            p = photos[doc]
            found = identity(p.path)
            if found is None:
                self.stats.gone += 1
                continue
            p.real, p.inode = found
            by_inode.setdefault(p.inode, []).append(p)
        canonical: dict[str, Photo] = {}
        for names in by_inode.values():
            names.sort(key=lambda p: (p.path != p.real, len(p.path), p.path))  # the real name first
            head = names[0]
            head.aliases = [p.path for p in names[1:]]
            head.alias_ids = [p.doc_id for p in names[1:]]
            canonical.update((p.doc_id, head) for p in names)
        return canonical

    # ----- keepers -----
    def may_keep(self, p: Photo) -> bool:
        """A keeper must be a real file inside the library: not a symlink, nor a file whose real path lies outside
        every indexed folder (and every reference folder the user named). Kept in favour of such a link, the
        library's own copy would be trashed, and the file that stays is one the user never put in the library."""
        if os.path.islink(p.path):
            return False
        real = p.real or os.path.realpath(p.path)
        return not self._library or any(inside(real, f) for f in (*self._library, *self.references))

    def _rank(self, p: Photo) -> tuple:
        """Keeper order: any real file inside the library before any other, then the keep rules."""
        return self.may_keep(p), *self.policy.key(p)

    # ----- star groups -----
    def _split(self, photos: list[Photo], level: Tier, threshold: float) -> list[Group]:
        """Star groups of one linked set. At the same-picture level a photo too flat to hash (or unreadable) can
        only be an identical file: it is grouped by sha256 alone, so a folder of blank icons costs no N² checks."""
        known: dict[tuple[int, int], Relation | None] = {}  # (keeper, photo) → relation: each pair judged once

        def relate(keep: Photo, p: Photo) -> Relation | None:
            pair = (id(keep), id(p))
            if pair not in known:
                known[pair] = self.relation(keep, p, level, threshold)
            return known[pair]

        mark_derived(photos)  # a lossless decode of a lossy file ranks below it: before any keeper is chosen
        best = max(photos, key=self._rank)  # what union-find alone would have shown: one group around the best
        self.stats.off_keeper += sum(p is not best and not relate(best, p) for p in photos)
        if level is not Tier.SAME_PICTURE:
            return self._stars(photos, level, threshold, relate)  # its first keeper is `best`: reuses those
        hashable = [p for p in photos if self._hashable(p)]
        by_sha: dict[str, list[Photo]] = {}
        for p in photos:
            if not self._hashable(p):
                by_sha.setdefault(p.sha256, []).append(p)
        groups = self._stars(hashable, level, threshold, relate)
        for same in by_sha.values():
            groups += self._stars(same, level, threshold, relate)
        return groups

    def _stars(self, photos: list[Photo], level: Tier, threshold: float,
               relate: Callable[[Photo, Photo], Relation | None]) -> list[Group]:
        """The best photo left keeps every photo that meets the rule against it (``relate``: the level's rule) and
        against no one it was marked "not a duplicate" of; repeat with what is left. No chains: A~B, B~C never puts
        C with A."""
        left = sorted(photos, key=self._rank, reverse=True)
        groups = []
        while len(left) > 1:
            keep, rest = left[0], left[1:]
            related = [(r, p) for p in rest if (r := relate(keep, p))]
            related.sort(key=lambda rp: (rp[0].tier.order, -rp[0].score, rp[1].path))
            chosen: list[tuple[Relation, Photo]] = []
            for rel, p in related:
                if not any(self._vetoed(p, q) for _, q in chosen):
                    chosen.append((rel, p))
            if chosen:
                groups.append(self._group(keep, chosen, level, threshold))
            taken = {id(p) for _, p in chosen}
            left = [p for p in rest if id(p) not in taken]
        return groups

    def _hashable(self, p: Photo) -> bool:
        views = self.views_of(p)
        return views is not None and max(views.spread_white, views.spread_black) >= self.min_spread

    def relation(self, keep: Photo, other: Photo, level: str | Tier = Tier.SIMILAR,
                 threshold: float = SIMILAR_COSINE) -> Relation | None:
        """How ``other`` relates to ``keep`` at this level, or None: the one rule every group member meets."""
        level = Tier.parse(level)
        if self._vetoed(keep, other):
            return None
        score = float(keep.vector @ other.vector)
        if keep.sha256 and keep.sha256 == other.sha256:
            return Relation(Tier.EXACT, score, 0)
        if level is Tier.EXACT or level is Tier.BURST:
            return None  # (a burst's frames are related by core/bursts.burst_pair)
        if self._burst_shas and (keep.sha256 in self._burst_shas or other.sha256 in self._burst_shas):
            return None  # a frame of a burst: in its burst, not a same-picture or similar-shot group
        if level is Tier.SIMILAR and score < threshold:
            return None  # every member's score ≥ the level's threshold, whatever its tier
        bits = self.same_picture(keep, other, score)
        if bits is not None:
            return Relation(Tier.SAME_PICTURE, score, bits)
        return Relation(Tier.SIMILAR, score) if level is Tier.SIMILAR else None

    def same_picture(self, a: Photo, b: Photo, score: float | None = None) -> int | None:
        """The hash distance when ``a`` and ``b`` are the same picture, else None. Needs all of: CLIP ≥ near_cosine,
        indexed hashes ≤ near_bits, the same aspect ratio, the files' hashes on a white and a black background
        within near_bits wherever the image carries enough to hash (never for a blank or near-flat image), and
        the same colours (the hashes see brightness only: one design in two colourways hashes alike)."""
        score = float(a.vector @ b.vector) if score is None else score
        if not self.near(a, b, score):
            return None
        va, vb = self.views_of(a), self.views_of(b)
        if not same_colours(va, vb, self.colour_delta):
            return None
        bits = []
        for ha, hb, sa, sb in ((va.on_white, vb.on_white, va.spread_white, vb.spread_white),
                               (va.on_black, vb.on_black, va.spread_black, vb.spread_black)):
            flat_a, flat_b = sa < self.min_spread, sb < self.min_spread
            if flat_a != flat_b:
                return None  # blank on this background for one, not the other: different pictures
            if not flat_a:
                bits.append((ha ^ hb).bit_count())
        if not bits or max(bits) > self.near_bits:
            return None
        return max(bits)

    def views_of(self, p: Photo) -> images.PictureViews | None:
        """The file's own hashes and colours, read once a scan (None: unreadable); a near-blank one is counted."""
        key = _views_key(p)
        if key not in self._views:
            self._views[key], seconds = _read_views(p)
            self.stats.files_checked += 1
            self.stats.check_seconds += seconds
        views = self._views[key]
        if views and max(views.spread_white, views.spread_black) < self.min_spread:
            self._flat.add(p.doc_id)
        return views

    def _prefetch(self, sets: list[list[Photo]], level: Tier, progress: Progress | None) -> None:
        """Read the files the strict same-picture check will need, on a few threads (decoding releases the GIL):
        at the same-picture level every photo of a linked set; at the similar level only photos with a
        same-picture candidate (indexed hash and CLIP close enough) in their set."""
        todo: dict[tuple[str, int, int], Photo] = {}
        for photos in sets:
            for p in photos if level is Tier.SAME_PICTURE else _near_candidates(photos, self):
                if _views_key(p) not in self._views:
                    todo.setdefault(_views_key(p), p)
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            for done, (key, (views, seconds)) in enumerate(zip(todo, pool.map(_read_views, todo.values()),
                                                               strict=True), 1):
                self._views[key] = views
                self.stats.files_checked += 1
                self.stats.check_seconds += seconds
                if progress and not progress(done, len(todo), "reading candidate files"):
                    return

    def _vetoed(self, a: Photo, b: Photo) -> bool:
        return bool(self.not_duplicates and self.not_duplicates.vetoes(a.sha256, b.sha256))

    def _group(self, keep: Photo, chosen: list[tuple[Relation, Photo]], level: Tier, threshold: float) -> Group:
        runner_up = self.policy.pick(p for _, p in chosen)
        keep_why = (self.policy.explain(keep, runner_up) if self.policy.key(keep) >= self.policy.key(runner_up)
                    else "a real file inside the library")  # the rules' favourite is a link or lies outside it
        members = [Member(keep, 1.0, why=f"keep: {keep_why}")]
        outside = not self.may_keep(keep)  # only when the user chose it: the library's own copies stay unticked
        copies = self._copies_of_members(keep, [p for _, p in chosen])
        for rel, p in sorted(chosen, key=lambda rp: rp[1].path):
            protected = "in a reference folder" if any(inside(p.real or os.path.realpath(p.path), r)
                                                       for r in self.references) else ""
            copy_of = copies.get(id(p))
            why = f"identical to {Path(copy_of.path).name}" if copy_of is not None else rel.why
            m = Member(p, rel.score, rel.tier, rel.bits, False, protected, why, copy_of)
            m.ticked = m.pre_ticked and not protected and not (outside and self.may_keep(p))
            members.append(m)
        return Group(keep, members, level, threshold, keep_why)

    def _copies_of_members(self, keep: Photo, photos: list[Photo]) -> dict[int, Photo]:
        """id(photo) → the member it is an identical copy of: among members with the same bytes (not the keeper's:
        those are identical files of the keeper already), the best by the keep rules is the one it copies. Every
        member is still judged against the keeper (identical bytes score alike); this only says what it is."""
        by_sha: dict[str, list[Photo]] = {}
        for p in photos:
            if p.sha256 and p.sha256 != keep.sha256:
                by_sha.setdefault(p.sha256, []).append(p)
        out: dict[int, Photo] = {}
        for same in by_sha.values():
            head = max(same, key=self._rank)
            out.update((id(p), head) for p in same if p is not head)
        return out

    def rekeep(self, group: Group, photo: Photo) -> Group:
        """The group with ``photo`` as its keeper (the user chose it): every other member is judged again against
        it, and one that no longer meets the group's rule is left out (a rescan shows it where it belongs)."""
        if group.level is Tier.BURST:
            return bursts.rekeep(self, group, photo, self.burst_picks)
        others = [m.photo for m in group.members if m.photo is not photo]
        chosen = [(r, p) for p in others if (r := self.relation(photo, p, group.level, group.threshold))]
        if not chosen:
            return Group(photo, [Member(photo, 1.0, why="keep: chosen by you")], group.level, group.threshold,
                         "chosen by you")
        regrouped = self._group(photo, chosen, group.level, group.threshold)
        regrouped.keep_why = "chosen by you"
        regrouped.members[0].why = "keep: chosen by you"
        return regrouped


def _views_key(p: Photo) -> tuple[str, int, int]:
    return p.real or p.path, p.size, p.mtime_ns


def _read_views(p: Photo) -> tuple[images.PictureViews | None, float]:
    """The photo's views (None when it cannot be read now) and the seconds it took."""
    started = time.perf_counter()
    try:
        views = images.picture_views(p.real or p.path)
    except images.ImageSkipped:
        views = None
    return views, time.perf_counter() - started


def _near_candidates(photos: list[Photo], finder: DupeFinder) -> list[Photo]:
    """Photos of a linked set with a possible same-picture partner in it (the cheap, indexed checks); CLIP first,
    as a matrix product in slices, so a large set costs no N² Python loop."""
    vectors = np.stack([p.vector for p in photos])
    out: set[int] = set()
    for start in range(0, len(photos), 1000):
        scores = vectors[start:start + 1000] @ vectors.T
        for i, j in np.argwhere(scores >= finder.near_cosine):
            a, b = photos[start + i], photos[j]
            if a is not b and finder.near(a, b, float(scores[i, j])):
                out |= {start + int(i), int(j)}
    return [photos[i] for i in sorted(out)]


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _same_aspect(a: Photo, b: Photo) -> bool:
    if not (a.width and a.height and b.width and b.height):
        return False
    ra, rb = a.width / a.height, b.width / b.height
    return abs(ra - rb) <= ASPECT_TOLERANCE * max(ra, rb)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
