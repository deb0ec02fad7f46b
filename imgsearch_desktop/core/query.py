"""One search, start to end: the query's parts → one vector → kNN → label the hits.

A query is one or more parts, each a photo (a file, image data, or an indexed photo's stored vector) or a sentence
in any language, each "more like" (positive weight) or "less like" (negative weight). The query vector is
``q = normalise(Σ wᵢ·vᵢ)`` over the parts' unit vectors, and a hit's score stays the cosine between ``q`` and the
photo. A photo file that is indexed as it is now uses its stored vector: it is always its own first hit, and nothing
is decoded. Same path, size and mtime (the indexer's own "unchanged" rule) answers from one document read, without
reading the file; otherwise the file is read and hashed once, and the same content anywhere in the index answers.
Runs on a worker thread; the window, the CLI and the benchmarks all search through ``run_query``.

A sentence also matches the words read in photos (the text analysis): the kNN ranking and the words ranking are
fused by reciprocal rank (computed here: the engine's ``rrf`` retriever needs a paid licence), photos whose text
holds every word of the query first. ``Query.words`` matches words only (alone, or with other parts).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from imgsearch_desktop.core import images
from imgsearch_desktop.core.dupes import KeepPolicy, Tier, mark_derived, relation_to_query, same_colours
from imgsearch_desktop.core.store import Filters, Hit, WordsHit
from imgsearch_desktop.core.textfold import WordsQuery, words_query
from imgsearch_desktop.core.vector_store import VectorStore
from imgsearch_desktop.errors import UnreadablePart, UsageError, UserError

REGION_ZOOM = 4  # a region query decodes its photo at 4× the model's input size before cutting the region out
Region = tuple[float, float, float, float]  # left, top, right, bottom as fractions of the photo's size
RRF_K = 60  # reciprocal rank fusion's constant (Cormack et al.; Elasticsearch's default too)
MEANING, TEXT, BOTH = "meaning", "text", "both"  # Hit.matched


@dataclass
class Part:
    """One part of a query: exactly one of a photo file, image data, an indexed photo (by path) or a sentence."""

    path: str | None = None
    image_bytes: bytes | None = None
    stored: str | None = None  # an indexed photo's path: its stored vector, no decoding
    text: str | None = None
    weight: float = 1.0  # > 0 "more like", < 0 "less like"
    region: Region | None = None  # search by this part of the photo (file or image data)

    def describe(self) -> str:
        sign = "−" if self.weight < 0 else ""
        if self.text is not None:
            what = f"“{self.text}”"
        elif self.path or self.stored:
            what = os.path.basename(self.path or self.stored or "")
        else:
            what = "pasted image"
        return sign + what + (" (region)" if self.region else "")


@dataclass
class Query:
    """What the user asked: ``parts``, or (the common case) one photo file, image data or sentence."""

    path: str | None = None
    image_bytes: bytes | None = None
    text: str | None = None
    k: int = 50
    min_score: float | None = None
    filters: Filters = field(default_factory=Filters)
    parts: list[Part] = field(default_factory=list)
    words: str | None = None  # words to find in the text of photos (alone: a words-only search)
    match_text: bool = True  # sentences also match the words read in photos (off with the text analysis)

    def words_query(self) -> WordsQuery:
        """What to look for in the text of photos: ``words``, else the positive sentences (when ``match_text``)."""
        if self.words is not None:
            return words_query(self.words)
        if not self.match_text:
            return WordsQuery()
        sentences = " ".join(p.text for p in self.all_parts() if p.text is not None and p.weight > 0)
        return words_query(sentences, every=True)  # a sentence's text hits hold all its words, not just "a"

    def all_parts(self) -> list[Part]:
        single = Part(path=self.path, image_bytes=self.image_bytes, text=self.text)
        given = single.path is not None or single.image_bytes is not None or single.text is not None
        return ([single] if given else []) + list(self.parts)

    def describe(self) -> str:
        return " + ".join(p.describe() for p in self.all_parts()).replace("+ −", "− ")

    @property
    def is_text(self) -> bool:
        parts = self.all_parts()
        return len(parts) == 1 and parts[0].text is not None


class Stages(dict[str, float]):
    """Where one query's time went: milliseconds per step (the query path's profile, which the benchmarks print
    and the log keeps). A step run twice (two photo parts) adds up."""

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + (time.perf_counter() - started) * 1000

    def describe(self) -> str:
        return ", ".join(f"{name} {ms:.0f} ms" for name, ms in self.items())


@dataclass
class QueryResult:
    query: Query
    hits: list[Hit]
    seconds: float
    stages: Stages = field(default_factory=Stages)
    relations: list[Tier] = field(default_factory=list)  # per hit: its tier to the query (label: Tier.label)
    best: int | None = None  # index of the best version among the query's copies, when it has any

    @property
    def copies(self) -> list[int]:
        """The hits that are copies of the query: identical files and the same picture, not similar shots."""
        return [i for i, r in enumerate(self.relations) if r is not Tier.SIMILAR]


def run_query(embedder, store: VectorStore, query: Query, keep: KeepPolicy | None = None) -> QueryResult:
    """``keep`` (``dupes.keep_policy(settings)``) picks the best version among the query's copies, as ``dupes``
    and the Duplicates window pick their keeper; without it, the default keep rules."""
    started = time.perf_counter()
    parts = query.all_parts()
    words = query.words_query()
    if not any(p.weight > 0 for p in parts):
        if query.words is not None and words:
            return _words_only(store, query, words, started)
        raise UsageError("a query needs at least one positive part (a photo or a sentence to look for)")
    vectors, single, stages = [], None, Stages()
    with embedder.query():  # decoding the query's photos goes ahead of indexing's too
        for part in parts:
            vector, seen = part_vector(embedder, store, part, stages)
            vectors.append(part.weight * vector)
            single = seen
    q = np.sum(vectors, axis=0)
    norm = float(np.linalg.norm(q))
    if norm < 1e-6:
        raise UserError("the query's parts cancel each other out: there is nothing left to look for")
    with stages("kNN"):
        hits = store.knn(q / norm, k=query.k, filters=query.filters, min_score=query.min_score)
    for hit in hits:
        hit.matched = MEANING
    if words:
        with stages("words"):
            found = store.words_search(words, k=query.k, filters=query.filters, vectors=True)
        hits = fuse(hits, found, q / norm, query.k)
        for hit in hits:
            if hit.matched != MEANING:
                hit.matched_terms = tuple(words.terms())
    result = QueryResult(query, hits, 0.0, stages)
    if len(parts) == 1 and single is not None:  # one photo: label its copies among the hits
        sha256, phash = single
        alike = _alike_to(parts[0])
        with stages("labels"):
            result.relations = [relation_to_query(h, sha256, phash, alike=alike) for h in hits]
        copies = result.copies
        if len(copies) >= 2:
            policy = keep or KeepPolicy()
            mark_derived([hits[i] for i in copies])  # as the duplicate scan does: a PNG of the JPEG is not better
            result.best = max(copies, key=lambda i: policy.key(hits[i]))
    result.seconds = time.perf_counter() - started
    return result


def _alike_to(part: Part) -> Callable[[Hit], bool] | None:
    """For a photo part: whether a hit's file has the query's colours (the query read once, when the first
    same-picture candidate asks). A region of a photo is no copy of the photo: None."""
    if part.region is not None and not _whole(part.region):
        return None
    query: list[images.PictureViews | None] = []

    def alike(hit: Hit) -> bool:
        if not query:
            if part.path is None and part.stored is None:
                query.append(_views(lambda: images.views_of_data(part.image_bytes or b"")))
            else:
                query.append(_views(lambda: images.picture_views(part.path or part.stored or "")))
        return same_colours(query[0], _views(lambda: images.picture_views(hit.path)))

    return alike


def _views(read: Callable[[], images.PictureViews]) -> images.PictureViews | None:
    try:
        return read()
    except images.ImageSkipped:
        return None  # unreadable now: a copy not confirmed is labelled a similar shot


def _words_only(store, query: Query, words: WordsQuery, started: float) -> QueryResult:
    """Photos by the words read in them alone: ``score`` is the text match's relevance, not a cosine."""
    hits = [w.hit for w in store.words_search(words, k=query.k, filters=query.filters)]
    for hit in hits:
        hit.matched, hit.matched_terms = TEXT, tuple(words.terms())
    return QueryResult(query, hits, time.perf_counter() - started)


def fuse(knn: list[Hit], words: list[WordsHit], q: np.ndarray, k: int) -> list[Hit]:
    """One ranking of the kNN hits (by meaning) and the words hits (by text): photos whose text holds every word
    first, then by reciprocal rank fusion, Σ 1 / (RRF_K + rank) over the rankings a photo is in. Each hit keeps its
    cosine ``score`` (a photo found by its text alone: its stored vector against ``q``) and says what matched."""
    fused: dict[str, Hit] = {}
    rrf: dict[str, float] = {}
    every: set[str] = set()
    for rank, hit in enumerate(knn, 1):
        fused[hit.image_id] = hit
        rrf[hit.image_id] = 1.0 / (RRF_K + rank)
    for rank, found in enumerate(words, 1):
        ident = found.hit.image_id
        if ident in fused:
            fused[ident].matched = BOTH
        else:
            hit = found.hit
            hit.score = float(np.dot(_unit(found.vector), q)) if found.vector is not None else 0.0
            hit.matched = TEXT
            fused[ident] = hit
        rrf[ident] = rrf.get(ident, 0.0) + 1.0 / (RRF_K + rank)
        if found.every_word:
            every.add(ident)
    order = sorted(fused, key=lambda i: (i not in every, -rrf[i]))
    return [fused[i] for i in order[:k]]


def check_parts(embedder, parts: list[Part]) -> None:
    """Fail early, before the index is opened: a query photo that cannot be read, or a model that cannot load,
    is the error the user needs to see (not "nothing indexed yet")."""
    for part in parts:
        if part.path is not None:
            try:
                images.read_file(part.path, header_only=True)  # part_vector reads it whole, once
            except images.NotAFile as exc:  # a folder given as a photo: the user's mistake, not the file's
                raise UsageError(f"Cannot search with {part.path}: it is {exc.kind}, not a photo") from None
            except images.ImageSkipped as exc:
                raise UserError(f"Cannot search with this image: {part.path}: {exc}") from None
    if any(p.text is not None for p in parts):
        embedder.text_encoder()


def part_vector(embedder, store, part: Part, stages: Stages | None = None,
                ) -> tuple[np.ndarray, tuple[str | None, str | None] | None]:
    """The part's unit vector, and for a photo its (sha256, phash) to label copies among the hits; each step's
    time goes into ``stages``."""
    stages = Stages() if stages is None else stages
    if part.text is not None:
        with stages("embed"):
            return _unit(embedder.encode_texts([part.text], priority=True)[0]), None
    if part.stored is not None:
        with stages("lookup"):
            source = store.indexed_source(part.stored)
        if source is None:
            raise UnreadablePart(f"not in the index: {part.stored} (index it first, or search with it as --image)",
                                 part)
        return _unit(source["image_embedding"]), (source.get("sha256"), source.get("phash"))
    name = part.path or "pasted image"
    region = None if part.region is None or _whole(part.region) else part.region
    if region is None and part.path is not None:
        with stages("lookup"):
            source = unchanged_source(store, part.path)
        if source is not None:
            return _unit(source["image_embedding"]), (source.get("sha256"), source.get("phash"))
    try:
        with stages("read + hash"):
            data = images.read_file(part.path) if part.path is not None else (part.image_bytes or b"")
            sha256 = hashlib.sha256(data).hexdigest()
        if region is None:  # the same content indexed elsewhere (a copy, or this file touched): its vector
            with stages("lookup"):
                source = store.by_sha256([sha256]).get(sha256)
            if source is not None:
                return _unit(source["image_embedding"]), (sha256, source.get("phash"))
        # A region is cut from a larger decode, then brought to the model's size: cut from the 224 px decode, a
        # 10% box would be 22 px that the model blows up.
        with stages("decode"):
            loaded = images.decode(data, embedder.image_size * (REGION_ZOOM if region else 1), name=name)
    except images.ImageSkipped as exc:
        raise UnreadablePart(f"Cannot search with this image: {name}: {exc}", part) from None
    image = images.shrink(crop(loaded.image, region), embedder.image_size) if region else loaded.image
    with stages("embed"):
        vector = embedder.encode_images([image], priority=True)[0]
    with stages("phash"):
        phash = images.perceptual_hash(image)
    return _unit(vector), (None if region else sha256, phash)


def unchanged_source(store, path: str) -> dict | None:
    """The stored fields of the photo indexed at ``path`` if the file is unchanged since (same size and mtime, the
    indexer's own rule): its vector answers without reading, hashing or decoding the file."""
    try:
        st = os.stat(path)
    except OSError:
        return None  # read_file then says why it cannot be read
    source = store.indexed_source(path)
    if source is None or (source.get("size"), source.get("mtime_ns")) != (st.st_size, st.st_mtime_ns):
        return None
    return source


def _whole(region: Region) -> bool:
    left, top, right, bottom = region
    return left <= 0.001 and top <= 0.001 and right >= 0.999 and bottom >= 0.999


def crop(image, region: Region):
    left, top, right, bottom = (max(0.0, min(1.0, v)) for v in region)
    if right - left <= 0 or bottom - top <= 0:
        raise UserError("the selected region is empty")
    w, h = image.size
    box = (round(left * w), round(top * h), max(round(right * w), round(left * w) + 1),
           max(round(bottom * h), round(top * h) + 1))
    return image.crop(box)


def _unit(vector) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32)
    return v / max(float(np.linalg.norm(v)), 1e-12)
