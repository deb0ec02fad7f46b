"""What a scan finds: ``Photo`` (one indexed file), ``Relation`` (why a photo belongs with a keeper), ``Member``
and ``Group`` (a keeper and its members), and the words their counts are shown with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imgsearch_desktop.core.dupes.tiers import SIMILAR_COSINE, Tier
from imgsearch_desktop.core.paths import readable_path


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 group``, ``2 groups``, ``1 copy`` / ``3 copies`` (with ``many``)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


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
