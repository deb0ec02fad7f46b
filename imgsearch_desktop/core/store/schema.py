"""The document schema: what one photo's document holds (``mapping``, ``PhotoDoc``), the fields each read asks
for, how a stored document reads back (``path_from_source``, ``Hit``), and the versioned index name.

Paths cross this boundary as ``str`` (os.fsdecode form); the exact bytes travel in ``path_b64`` so non-UTF-8 names
survive, and ``path`` holds a readable display form. Scores leaving the store are cosine similarities in [-1, 1]
(ES's cosine ``_score`` is (1 + cos) / 2).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from imgsearch_desktop import APP_NAME
from imgsearch_desktop.core.analyses import analyses_mapping
from imgsearch_desktop.core.analyses.faces import FacesAnalysis
from imgsearch_desktop.core.analyses.text import TextAnalysis
from imgsearch_desktop.core.paths import path_bytes, readable_path

# 2: documents carry ``library`` (several desktops share one index) and their id hashes library id + path.
# 3: ``photo_date`` (date taken, else the file's time): the library's timeline is sorted and grouped by it.
SCHEMA_VERSION = 3
# The per-photo analyses' fields (core/analyses): in every index's mapping (added to an older one by put_mapping), so
# a document carrying them can always be written, whether or not the analysis is switched on.
ANALYSIS_PROPERTIES = analyses_mapping([FacesAnalysis(), TextAnalysis()])
ANALYSIS_FIELDS = list(ANALYSIS_PROPERTIES)  # analyses, faces, text, text_lines, has_text
DEFAULT_LIBRARY = "default"  # a Store nobody gave a library id (tests, scripts); the app always passes its own
PHASH_BITS = 256
FILE_FIELDS = ["path", "path_b64", "size", "mtime_ns", "sha256"]
SOURCE_FIELDS = ["path", "path_b64", "image_id", "image_name", "relative_path", "folder", "size", "mtime_ns",
                 "width", "height", "format", "taken_at", "sha256", "phash", "library", "photo_date", "faces.box",
                 "text_lines"]
# What PhotoDoc.from_stored takes over from a stored document (its content: a file moved, copied or migrated).
COPIED_FIELDS = ["sha256", "image_embedding", "phash", "width", "height", "format", "taken_at", *ANALYSIS_FIELDS]
# What a same-model migration reads of the old index's documents: which file each is (the exact path), whether it
# is unchanged (size, mtime), and everything PhotoDoc.from_stored copies across (the COPIED_FIELDS).
STORED_FIELDS = ["path", "path_b64", "size", "mtime_ns", *COPIED_FIELDS]


# ---------------------------------------------------------------- paths ↔ documents
def doc_id(path: str, library: str = DEFAULT_LIBRARY) -> str:
    """Document id = hash of the library id and the path's exact bytes: two desktops sharing an index never write
    over each other's documents, even for the same path (/home/anna/Pictures on both)."""
    return hashlib.sha256(library.encode() + b"\0" + path_bytes(path)).hexdigest()[:40]


def path_b64(path: str) -> str:
    return base64.b64encode(path_bytes(path)).decode("ascii")


def path_from_source(source: dict) -> str:
    if source.get("path_b64"):
        return os.fsdecode(base64.b64decode(source["path_b64"]))
    return source["path"]


def root_from_source(source: dict) -> str:
    """The exact folder a document was indexed under. ``root`` holds a display form: where that lost bytes
    (U+FFFD), strip as many trailing components off the exact path as ``relative_path`` has."""
    if "\ufffd" not in source["root"]:
        return source["root"]
    depth = source["relative_path"].count(os.sep) + 1
    return os.fsdecode(path_bytes(path_from_source(source)).rsplit(os.fsencode(os.sep), depth)[0] or b"/")


def cosine_from_score(score: float) -> float:
    return 2.0 * float(score) - 1.0


@dataclass
class Hit:
    path: str
    score: float  # cosine similarity
    image_id: str
    image_name: str
    relative_path: str
    width: int | None
    height: int | None
    format: str | None = None
    taken_at: str | None = None
    size: int | None = None
    folder: str | None = None
    sha256: str | None = None
    phash: str | None = None
    mtime_ns: int | None = None
    library: str | None = None  # whose photo (another desktop's with Filters.all_libraries)
    photo_date: str | None = None  # the timeline's date: taken_at, else the file's time
    faces: list[dict] | None = None  # the faces analysis's [{box}], in the document's order
    text_lines: list[dict] | None = None  # the text analysis's lines [{text, box, score}], in reading order
    matched: str | None = None  # what found it: "meaning" (CLIP), "text" (words read in it) or "both" (core/query)
    matched_terms: tuple[str, ...] = ()  # the folded query words its text was matched with (the preview's boxes)

    def as_json(self) -> dict:
        return {"path": readable_path(self.path), "score": round(self.score, 6), "image_id": self.image_id,
                "image_name": self.image_name, "relative_path": self.relative_path, "width": self.width,
                "height": self.height}


@dataclass
class WordsHit:
    hit: Hit  # score: the text match's relevance
    every_word: bool  # its text holds every word of the query
    vector: list[float] | None = None  # its stored CLIP vector, when asked for (to fuse with a kNN ranking)


@dataclass
class IndexedFile:
    """What the index knows about one file, enough to decide unchanged / moved / gone."""

    doc_id: str
    path: str
    size: int
    mtime_ns: int
    sha256: str


def mapping(dims: int, model: str, alias: str = "") -> dict:
    return {
        "dynamic": "strict",
        # alias: which alias the index serves, so a migration never picks up another alias's index by its name
        "_meta": {"app": APP_NAME, "schema": SCHEMA_VERSION, "model": model, "dims": dims, "alias": alias},
        "properties": {
            "library": {"type": "keyword"},
            "image_id": {"type": "keyword"},
            "image_name": {"type": "keyword"},
            "relative_path": {"type": "keyword"},
            "image_embedding": {"type": "dense_vector", "dims": dims, "index": True, "similarity": "cosine",
                                "index_options": {"type": "int8_hnsw"}},
            "path": {"type": "keyword"},
            "path_b64": {"type": "keyword", "index": False, "doc_values": False},
            "folder": {"type": "keyword"},
            "root": {"type": "keyword"},
            "sha256": {"type": "keyword"},
            "size": {"type": "long"},
            "mtime_ns": {"type": "long"},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "format": {"type": "keyword"},
            "taken_at": {"type": "date"},
            "photo_date": {"type": "date"},  # taken_at, else the file's mtime (local time); none: undated
            "phash": {"type": "dense_vector", "element_type": "bit", "dims": PHASH_BITS, "index": True,
                      "similarity": "l2_norm"},  # l2_norm on bits = Hamming distance
            "indexed_at": {"type": "date"},
            **ANALYSIS_PROPERTIES,
        },
    }


@dataclass(frozen=True, kw_only=True)
class PhotoDoc:
    """One photo's document as the indexer writes it: what is known of the file and its content; ``source`` derives
    the rest of ``mapping``'s fields (ids, names, display forms, folder, indexed_at)."""

    path: str  # exact (os.fsdecode form)
    root: str  # the indexed folder the path lies under: relative_path is taken from it
    library: str
    sha256: str
    vector: Sequence[float]  # image_embedding
    size: int
    mtime_ns: int
    phash: str | None = None  # hex, PHASH_BITS bits
    width: int | None = None
    height: int | None = None
    format: str | None = None
    taken_at: str | None = None  # ISO date time, from EXIF
    analysed: dict = field(default_factory=dict)  # the analyses' fields (core/analyses), carried with the content

    @property
    def doc_id(self) -> str:
        return doc_id(self.path, self.library)

    @classmethod
    def from_stored(cls, source: dict, *, path: str, root: str, library: str, size: int,
                    mtime_ns: int) -> PhotoDoc:
        """The document of a file whose content is already indexed (``source``: a stored document with at least the
        COPIED_FIELDS): a moved, renamed or copied file, or one a migration keeps; vector and all are reused."""
        return cls(path=path, root=root, library=library, sha256=source["sha256"], vector=source["image_embedding"],
                   size=size, mtime_ns=mtime_ns, phash=source.get("phash"), width=source.get("width"),
                   height=source.get("height"), format=source.get("format"), taken_at=source.get("taken_at"),
                   analysed={k: source[k] for k in ANALYSIS_FIELDS if source.get(k) is not None})

    def source(self) -> dict:
        """The ``_source`` to index (every field of ``mapping``)."""
        ident = self.doc_id
        return {
            "library": self.library,
            "image_id": ident,
            "image_name": readable_path(os.path.basename(self.path)),
            "relative_path": readable_path(os.path.relpath(self.path, self.root)),
            "image_embedding": self.vector,
            "path": readable_path(self.path),
            "path_b64": path_b64(self.path),
            "folder": readable_path(os.path.dirname(self.path)),
            "root": readable_path(self.root),
            "sha256": self.sha256,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "taken_at": self.taken_at,
            "photo_date": photo_date(self.taken_at, self.mtime_ns),
            "phash": self.phash,
            "indexed_at": now_iso(),
            **self.analysed,
        }


def photo_date(taken_at: str | None, mtime_ns: int) -> str | None:
    """When a photo was taken as the timeline shows it: the EXIF date, else the file's time, both as local wall-clock
    time (EXIF dates carry no zone), so months group as the person saw them. None for a file time of 0 or less
    (an archive that kept no times): such photos are "undated"."""
    if taken_at:
        return taken_at
    if mtime_ns <= 0:
        return None
    try:
        return datetime.fromtimestamp(mtime_ns / 1e9).replace(microsecond=0).isoformat()
    except (OverflowError, OSError, ValueError):  # a file time past year 9999
        return None


def concrete_name(alias: str, model: str, dims: int) -> str:
    """A versioned index name per (schema, model, dims): a model change gets a new index, never mixed vectors."""
    slug = re.sub(r"[^a-z0-9]+", "-", os.path.basename(model.rstrip("/")).lower()).strip("-")[:40]
    tag = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{alias}-s{SCHEMA_VERSION}-{slug}-{tag}-{dims}d"


def _indexed_file(hit: dict) -> tuple[str, IndexedFile]:
    src = hit["_source"]
    path = path_from_source(src)
    return path, IndexedFile(hit["_id"], path, src.get("size", -1), src.get("mtime_ns", -1), src.get("sha256", ""))


def _hit(h: dict, score: float | None = None) -> Hit:
    """A search hit; ``score``: given where the search ranks by something else (the timeline sorts by date)."""
    src = h["_source"]
    score = cosine_from_score(h["_score"]) if score is None else score
    return Hit(path=path_from_source(src), score=score, image_id=src.get("image_id", h["_id"]),
               image_name=src.get("image_name", ""), relative_path=src.get("relative_path", ""),
               width=src.get("width"), height=src.get("height"), format=src.get("format"),
               taken_at=src.get("taken_at"), size=src.get("size"), folder=src.get("folder"),
               sha256=src.get("sha256"), phash=src.get("phash"), mtime_ns=src.get("mtime_ns"),
               library=src.get("library"), photo_date=src.get("photo_date"), faces=src.get("faces"),
               text_lines=src.get("text_lines"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
