"""The one fake store of the fast tests: an in-memory ``VectorStore`` (core/vector_store.py) over a dict of stored
documents, with cosine kNN by numpy and Hamming kNN on ``phash``. It records what each search was asked, so a test
can check what the code under test sent. Filters by date are refused rather than guessed (what a fake would get
wrong would hide a test's mistake)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from imgsearch_desktop.core.dupes import hamming
from imgsearch_desktop.core.paths import under
from imgsearch_desktop.core.store import (
    DEFAULT_LIBRARY,
    Filters,
    Hit,
    IndexedFile,
    PhotoDoc,
    doc_id,
    path_from_source,
)
from imgsearch_desktop.core.store.schema import _hit


class FakeStore:
    def __init__(self, library: str = DEFAULT_LIBRARY) -> None:
        self.library = library
        self.migrate_from: str | None = None
        self.migrate_same_model = False
        self.docs: dict[str, dict] = {}  # document id → stored fields (``image_embedding``: the vector)
        self.asked: list[tuple[str, object, int, Filters | None, float | None]] = []  # (method, vector|field, …)

    def add(self, path: str, vector: Sequence[float] | None = None, doc: str | None = None, **fields) -> str:
        """A stored document for the photo at ``path``; its id is the store's own unless ``doc`` names one."""
        doc = doc or doc_id(path, self.library)
        self.docs[doc] = {"path": path, "image_name": os.path.basename(path), "library": self.library, **fields,
                          **({"image_embedding": [float(x) for x in vector]} if vector is not None else {})}
        return doc

    def _admitted(self, filters: Filters | None) -> Iterator[tuple[str, dict]]:
        f = filters or Filters()
        if f.date_from or f.date_to:
            raise NotImplementedError("the fake store does not filter by date")
        for doc, src in self.docs.items():
            path = path_from_source(src)
            if ((f.all_libraries or src.get("library") == self.library)
                    and (not f.folders or any(under(path, folder) for folder in f.folders))
                    and (not f.formats or (src.get("format") or "").upper() in {x.upper() for x in f.formats})
                    and (f.photo_ids is None or doc in f.photo_ids)
                    and (not f.has_text or src.get("has_text"))):
                yield doc, src

    def _nearest(self, field_name: str, vector, k: int, filters: Filters | None) -> list[tuple[float, str]]:
        """(cosine, or minus the Hamming distance on ``phash``; document id), best first, at most ``k``."""
        scored = []
        for doc, src in self._admitted(filters):
            if src.get(field_name) is None:
                continue
            if field_name == "phash":
                scored.append((-float(hamming(vector, src["phash"])), doc))
            else:
                scored.append((float(np.dot(np.asarray(vector, np.float64), src[field_name])), doc))
        return sorted(scored, key=lambda s: (-s[0], s[1]))[:k]

    # ----- search -----
    def knn(self, vector, k: int = 20, filters: Filters | None = None, *, min_score: float | None = None) -> list[Hit]:
        self.asked.append(("knn", np.asarray(vector), k, filters, min_score))
        hits = [_hit({"_id": doc, "_score": (1 + cos) / 2, "_source": self.docs[doc]})
                for cos, doc in self._nearest("image_embedding", vector, k, filters)]
        return [h for h in hits if min_score is None or h.score >= min_score]

    def words_search(self, words, k: int = 20, filters: Filters | None = None, vectors: bool = False) -> list:
        """Documents whose ``text`` has a word starting with each free word of ``words`` (no typos, no phrases:
        the real matching is Store's, tested on a node)."""
        from imgsearch_desktop.core.store import WordsHit

        self.asked.append(("words_search", words, k, filters, None))
        free = words.words.split()
        out = []
        for doc, src in self._admitted(filters):
            have = (src.get("text") or "").split()
            if free and all(any(w.startswith(f) for w in have) for f in free):
                hit = _hit({"_id": doc, "_score": 1.0, "_source": src}, score=1.0)
                out.append(WordsHit(hit, True, src.get("image_embedding") if vectors else None))
        return out[:k]

    def indexed_source(self, path: str) -> dict | None:
        return next((src for doc, src in self._admitted(None) if path_from_source(src) == path), None)

    # ----- duplicates -----
    def documents(self, filters: Filters | None, fields: list[str], page: int = 2000) -> Iterator[tuple[str, dict]]:
        for doc, src in self._admitted(filters):
            yield doc, {name: src[name] for name in fields if name in src}

    def knn_many(self, field_name: str, vectors: Sequence[object | None], k: int, filters: Filters | None = None,
                 min_score: float | None = None) -> list[list[str]]:
        self.asked.append(("knn_many", field_name, k, filters, min_score))
        return [[] if v is None else [doc for s, doc in self._nearest(field_name, v, k, filters)
                                      if field_name == "phash" or min_score is None or s >= min_score]
                for v in vectors]

    # ----- the indexer -----
    def indexed_files(self, roots: Iterable[str]) -> dict[str, IndexedFile]:
        roots = list(roots)
        return {f.path: f for f in self._files() if any(under(f.path, r) for r in roots)}

    def files_at(self, paths: Sequence[str]) -> dict[str, IndexedFile]:
        wanted = set(paths)
        return {f.path: f for f in self._files() if f.path in wanted}

    def _files(self) -> Iterator[IndexedFile]:
        for doc, src in self._admitted(None):
            yield IndexedFile(doc, path_from_source(src), src.get("size", -1), src.get("mtime_ns", -1),
                              src.get("sha256", ""))

    def by_sha256(self, digests: Sequence[str]) -> dict[str, dict]:
        return {src["sha256"]: src for _, src in self._admitted(None) if src.get("sha256") in set(digests)}

    def source_of(self, doc: str) -> dict | None:
        return self.docs.get(doc)

    def previous_sources(self, paths: Sequence[str]) -> dict[str, dict]:
        return {}  # never migrating

    def files_to_migrate(self) -> Iterator[tuple[str, str]]:
        return iter(())

    def finish_migration(self) -> None:
        raise AssertionError("the fake store never migrates")

    def write(self, docs: Sequence[PhotoDoc], deletes: Sequence[str] = ()) -> list[tuple[str, str]]:
        for doc in deletes:
            self.docs.pop(doc, None)
        self.docs.update((d.doc_id, d.source()) for d in docs)
        return []

    def refresh(self) -> None:
        pass  # every write is visible at once

    # ----- per-photo analyses -----
    def _lacks(self, src: dict, versions: dict[str, int]) -> bool:
        return any(src.get("analyses", {}).get(name) != version for name, version in versions.items())

    def count_lacking(self, versions: dict[str, int]) -> int:
        return sum(1 for _, src in self._admitted(None) if self._lacks(src, versions))

    def lacking(self, versions: dict[str, int], fields: list[str]) -> Iterator[tuple[str, dict]]:
        for doc, src in self._admitted(None):
            if self._lacks(src, versions):
                yield doc, {name: src[name] for name in fields if name in src}

    def update_fields(self, updates: dict[str, dict]) -> list[tuple[str, str]]:
        for doc, fields in updates.items():
            self.docs[doc].update(fields)
        return []

