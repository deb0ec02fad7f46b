"""One search, start to end: decode the query photo (or take a sentence) → embed → kNN → label the hits.

Runs on a worker thread; the GUI and benchmarks call it, the CLI has its own thin path.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from imgsearch_desktop.core import images
from imgsearch_desktop.core.dupes import keeper_rank, relation_to_query
from imgsearch_desktop.core.errors import UserError
from imgsearch_desktop.core.store import Filters, Hit


@dataclass
class Query:
    """What the user asked: a photo file, image data (paste/drop), or a sentence."""

    path: str | None = None
    image_bytes: bytes | None = None
    text: str | None = None
    k: int = 50
    min_score: float | None = None
    filters: Filters = field(default_factory=Filters)

    def describe(self) -> str:
        if self.text is not None:
            return f"“{self.text}”"
        return os.path.basename(self.path) if self.path else "pasted image"


@dataclass
class QueryResult:
    query: Query
    hits: list[Hit]
    seconds: float
    relations: list[str] = field(default_factory=list)  # per hit: identical file | same picture | similar shot
    best: int | None = None  # index of the best version among the query's copies, when it has any

    @property
    def copies(self) -> list[int]:
        return [i for i, r in enumerate(self.relations) if r != "similar shot"]


def run_query(embedder, store, query: Query) -> QueryResult:
    started = time.perf_counter()
    sha256 = phash = None
    if query.text is not None:
        vector = embedder.encode_texts([query.text], priority=True)[0]
    else:
        try:
            if query.path is not None:
                read = images.load_file(query.path, embedder.image_size)
                loaded, sha256 = read.loaded, read.sha256
            else:
                loaded = images.decode(query.image_bytes or b"", embedder.image_size, name="pasted image")
        except images.ImageSkipped as exc:
            name = query.path or "pasted image"
            raise UserError(f"Cannot search with this image: {name}: {exc}") from None
        phash = images.perceptual_hash(loaded.image)
        vector = embedder.encode_images([loaded.image], priority=True)[0]
    hits = store.knn(vector, k=query.k, filters=query.filters, min_score=query.min_score)
    result = QueryResult(query, hits, 0.0)
    if query.text is None:
        result.relations = [relation_to_query(h, sha256, phash) for h in hits]
        copies = result.copies
        if len(copies) >= 2:
            result.best = max(copies, key=lambda i: keeper_rank(hits[i]))
    result.seconds = time.perf_counter() - started
    return result
