"""Duplicates and similar shots, found through the index (never an N² comparison).

Three tiers, each a superset of the one before:
  exact    same sha256: the identical file under another name.
  near     the same picture resized, recompressed, converted or rotated through EXIF: perceptual hashes within
           ``near_bits`` (kNN on the ``phash`` bit vector = Hamming distance), confirmed by CLIP cosine
           ≥ ``near_cosine``.
  similar  CLIP cosine ≥ ``threshold``: burst shots, the same scene, crops.

Per photo one kNN query (batched with ``_msearch``) gives edges; union-find makes groups. Pairs the user marked
"not a duplicate" are never joined again. Each group gets a suggested keeper: a photo in a reference folder, else
the most pixels, then the least compressed, then the oldest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imgsearch_desktop.core.store import Filters, Store, display, path_from_source

LEVELS = ("exact", "near", "similar")
# Defaults, and where they come from (README "Duplicates"):
NEAR_BITS = 24  # of 256: same-picture copies measured ≤ 6 bits apart, a 90% crop ≥ 50
NEAR_COSINE = 0.95  # CLIP confirmation for "near": resized/recompressed copies of real photos score ≥ 0.98
SIMILAR_COSINE = 0.9  # Immich flags duplicates at cosine distance ≤ 0.0155 (cos ≥ 0.985); similar shots go lower
LOSSLESS = {"PNG", "TIFF", "BMP", "WEBP_LOSSLESS"}
Progress = Callable[[int, int, str], bool]


@dataclass
class Photo:
    doc_id: str
    path: str
    sha256: str
    size: int
    width: int
    height: int
    mtime_ns: int
    format: str
    phash: str | None
    vector: np.ndarray

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


@dataclass
class Member:
    photo: Photo
    score: float  # cosine similarity to the keeper
    relation: str  # keeper | identical file | same picture | similar shot

    def as_json(self) -> dict:
        p = self.photo
        return {"path": display(p.path), "size": p.size, "width": p.width, "height": p.height,
                "score": round(self.score, 6)}


@dataclass
class Group:
    level: str
    keep: Photo
    members: list[Member] = field(default_factory=list)  # keeper first

    @property
    def wasted_bytes(self) -> int:
        return sum(m.photo.size for m in self.members if m.photo is not self.keep)

    def as_json(self) -> dict:
        return {"level": self.level, "keep": display(self.keep.path), "files": [m.as_json() for m in self.members]}


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


class NotDuplicates:
    """Pairs the user said are not duplicates, remembered by content (survives renames and moves)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pairs: set[tuple[str, str]] = set()
        if path.exists():
            self.pairs = {tuple(sorted(p)) for p in json.loads(path.read_text())}

    def add(self, sha_a: str, sha_b: str) -> None:
        self.pairs.add(tuple(sorted((sha_a, sha_b))))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(self.pairs)))
        tmp.replace(self.path)

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return tuple(sorted(pair)) in self.pairs


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


def under(path: str, folders: Iterable[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def keeper_rank(p, references: Sequence[str] = ()) -> tuple:
    """Reference-folder photos first; then most pixels, least compressed (lossless, bytes per pixel), oldest.

    ``p`` is anything with path, width, height, size, format and mtime_ns (a Photo or a search Hit).
    """
    pixels = (p.width or 0) * (p.height or 0)
    bpp = (p.size or 0) / pixels if pixels else 0.0
    return (under(p.path, references), pixels, p.format in LOSSLESS, bpp, -(p.mtime_ns or 0), p.path)


def pick_keeper(photos: Sequence[Photo], references: Sequence[str] = ()) -> Photo:
    return max(photos, key=lambda p: keeper_rank(p, references))


def relation_to_query(hit, query_sha256: str | None, query_phash: str | None, near_bits: int = NEAR_BITS,
                      near_cosine: float = NEAR_COSINE) -> str:
    """How a search hit relates to the dropped photo: identical file, same picture, or similar shot."""
    if query_sha256 and hit.sha256 == query_sha256:
        return "identical file"
    if query_phash and hit.phash and hamming(query_phash, hit.phash) <= near_bits and hit.score >= near_cosine:
        return "same picture"
    return "similar shot"


class DupeFinder:
    def __init__(self, store: Store, near_bits: int = NEAR_BITS, near_cosine: float = NEAR_COSINE,
                 references: Sequence[str] = (), not_duplicates: NotDuplicates | None = None,
                 batch: int = 100, neighbours: int = 10) -> None:
        self.store = store
        self.near_bits = near_bits
        self.near_cosine = near_cosine
        self.references = [os.path.abspath(r) for r in references]
        self.not_duplicates = not_duplicates
        self.batch = batch
        self.neighbours = neighbours

    def photos(self, folders: Sequence[str] = ()) -> dict[str, Photo]:
        clauses = Filters(folders=list(folders)).clauses()
        query = {"bool": {"filter": clauses}} if clauses else {"match_all": {}}
        fields = ["path", "path_b64", "sha256", "size", "width", "height", "mtime_ns", "format", "phash",
                  "image_embedding"]
        out = {}
        for hit in self.store.scan_docs(query, fields, page=500):
            s = hit["_source"]
            out[hit["_id"]] = Photo(hit["_id"], path_from_source(s), s.get("sha256", ""), s.get("size") or 0,
                                    s.get("width") or 0, s.get("height") or 0, s.get("mtime_ns") or 0,
                                    s.get("format") or "", s.get("phash"),
                                    np.asarray(s["image_embedding"], dtype=np.float32))
        return out

    def scan(self, level: str = "near", threshold: float = SIMILAR_COSINE, folders: Sequence[str] = (),
             progress: Progress | None = None) -> list[Group]:
        """Duplicate groups of the library (or of these folders), largest wasted space first."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}")
        photos = self.photos([os.path.abspath(f) for f in folders])
        uf = _UnionFind()
        edge_level: dict[tuple[str, str], str] = {}

        def link(a: Photo, b: Photo, kind: str) -> None:
            if a.doc_id == b.doc_id or (self.not_duplicates and (a.sha256, b.sha256) in self.not_duplicates):
                return
            uf.union(a.doc_id, b.doc_id)
            edge_level[tuple(sorted((a.doc_id, b.doc_id)))] = kind

        by_sha: dict[str, list[Photo]] = {}
        for p in photos.values():
            by_sha.setdefault(p.sha256, []).append(p)
        for same in by_sha.values():
            for other in same[1:]:
                link(same[0], other, "exact")
        if level != "exact":
            ids = list(photos)
            for start in range(0, len(ids), self.batch):
                chunk = [photos[i] for i in ids[start:start + self.batch]]
                for photo, neighbours in zip(chunk, self._neighbours(chunk, level, threshold, folders), strict=True):
                    for other_id in neighbours:
                        other = photos.get(other_id)
                        if other is None:
                            continue
                        kind = self._relation(photo, other, threshold)
                        if kind is not None and LEVELS.index(kind) <= LEVELS.index(level):
                            link(photo, other, kind)
                if progress and not progress(min(start + self.batch, len(ids)), len(ids), "comparing"):
                    break
        clusters: dict[str, list[Photo]] = {}
        for doc in uf.parent:
            clusters.setdefault(uf.find(doc), []).append(photos[doc])
        groups = [self._group(members, level, threshold) for members in clusters.values() if len(members) > 1]
        groups.sort(key=lambda g: (-g.wasted_bytes, g.keep.path))
        return groups

    def _relation(self, a: Photo, b: Photo, threshold: float) -> str | None:
        if a.sha256 == b.sha256:
            return "exact"
        cos = float(a.vector @ b.vector)
        if a.phash and b.phash and hamming(a.phash, b.phash) <= self.near_bits and cos >= self.near_cosine:
            return "near"
        return "similar" if cos >= threshold else None

    def _neighbours(self, chunk: Sequence[Photo], level: str, threshold: float,
                    folders: Sequence[str]) -> list[list[str]]:
        """One kNN per photo, sent together with _msearch: on the phash for near, on the CLIP vector for similar."""
        filt = Filters(folders=[os.path.abspath(f) for f in folders]).clauses()
        body: list[dict] = []
        for p in chunk:
            if level == "near" and not p.phash:
                search: dict = {"query": {"match_none": {}}, "size": 0}
            else:
                if level == "near":
                    knn = {"field": "phash", "query_vector": p.phash, "k": self.neighbours,
                           "num_candidates": self.neighbours * 5}
                else:
                    knn = {"field": "image_embedding", "query_vector": p.vector.tolist(), "k": self.neighbours,
                           "num_candidates": self.neighbours * 5, "similarity": float(threshold)}
                if filt:
                    knn["filter"] = filt
                search = {"knn": knn, "size": self.neighbours, "_source": False}
            body += [{"index": self.store.index}, search]
        responses = self.store.client.msearch(searches=body)["responses"]
        return [[h["_id"] for h in r.get("hits", {}).get("hits", [])] for r in responses]

    def _group(self, photos: list[Photo], level: str, threshold: float) -> Group:
        keep = pick_keeper(photos, self.references)
        members = [Member(keep, 1.0, "keeper")]
        for p in sorted(photos, key=lambda x: x.path):
            if p is keep:
                continue
            kind = self._relation(keep, p, -2.0) or "similar"
            relation = {"exact": "identical file", "near": "same picture"}.get(kind, "similar shot")
            members.append(Member(p, float(keep.vector @ p.vector), relation))
        return Group(level, keep, members)
