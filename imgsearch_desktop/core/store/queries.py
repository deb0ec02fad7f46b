"""Reads: the searches the layers above send (``knn``, ``knn_many``, ``words_search``, ``face_knn``), whole-library
passes (``scan_docs``, ``documents``), look-ups by path and by content (``files_at``, ``by_sha256``, ...), counts, and
the ES-free ``Filters`` turned into query clauses. Every read sees this library's documents only, unless it asks
for all libraries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from elasticsearch import ApiError, NotFoundError, TransportError
from elasticsearch import ConnectionError as EsConnectionError

from imgsearch_desktop.core.analyses.faces import distance_from_score
from imgsearch_desktop.core.paths import path_bytes, readable_path, under
from imgsearch_desktop.core.store.connection import StoreBase
from imgsearch_desktop.core.store.schema import (
    ANALYSIS_PROPERTIES,
    COPIED_FIELDS,
    FILE_FIELDS,
    SOURCE_FIELDS,
    Hit,
    IndexedFile,
    WordsHit,
    _hit,
    _indexed_file,
    doc_id,
    path_from_source,
)
from imgsearch_desktop.core.textfold import WordsQuery
from imgsearch_desktop.errors import ElasticsearchUnavailable, UserError

RESCORE_SINCE = (8, 18)  # knn.rescore_vector: exact float re-ranking of int8-quantised candidates


UNDATED = {"bool": {"must_not": {"exists": {"field": "taken_at"}}}}  # photos without an EXIF date taken
UNDATED_PHOTO = {"bool": {"must_not": {"exists": {"field": "photo_date"}}}}  # … and no file time either


@dataclass
class Filters:
    folders: list[str] = field(default_factory=list)  # photos under any of these folders
    date_from: str | None = None  # taken_at range, ISO dates
    date_to: str | None = None
    formats: list[str] = field(default_factory=list)  # JPEG, PNG, …
    include_undated: bool = False  # with a date range: also photos without an EXIF date (else silently dropped)
    all_libraries: bool = False  # also the photos other desktops sharing this index indexed (Store.knn)
    photo_ids: list[str] | None = None  # only these documents (a person's photos); [] lets nothing through
    has_text: bool = False  # only photos where the text analysis read some text

    def clauses(self) -> list[dict]:
        out: list[dict] = []
        if self.folders:
            out.append({"bool": {"should": [{"prefix": {"path": readable_path(f).rstrip("/") + "/"}}
                                            for f in self.folders], "minimum_should_match": 1}})
        if self.date_from or self.date_to:
            rng = {k: v for k, v in (("gte", self.date_from), ("lte", self.date_to)) if v}
            in_range: dict = {"range": {"taken_at": rng}}
            if self.include_undated:
                in_range = {"bool": {"should": [in_range, UNDATED], "minimum_should_match": 1}}
            out.append(in_range)
        if self.formats:
            out.append({"terms": {"format": [f.upper() for f in self.formats]}})
        if self.photo_ids is not None:
            out.append({"ids": {"values": self.photo_ids}} if self.photo_ids else {"match_none": {}})
        if self.has_text:
            out.append({"term": {"has_text": True}})
        return out


EVERY_WORD = "every_word"  # the named clause a photo's text matches when it holds every word of the query
# One typo (one letter added, missing, changed or two swapped) in words of 4 letters or more; none in shorter ones.
FUZZINESS = "AUTO:4,99"


MAX_WORDS = 16  # free words of a query matched one by one (a pasted paragraph is cut there)


def _word_clause(word: str) -> dict:
    """One word of a query in ``text``: exact or one typo off (match, fuzzy), or the start of a longer word."""
    return {"bool": {"should": [{"match": {"text": {"query": word, "fuzziness": FUZZINESS, "operator": "and"}}},
                                {"match_phrase_prefix": {"text": word}}], "minimum_should_match": 1}}


def words_clauses(words: WordsQuery) -> dict:
    """The bool clauses matching folded ``words`` in ``text``: every quoted phrase exactly, and at least one free
    word (all of them when ``words.every``), each exact, one typo off or a prefix of the photo's word (what is
    typed so far); photos holding every free word so are marked EVERY_WORD; exact words, and words side by side,
    rank higher."""
    must: list[dict] = [{"match_phrase": {"text": phrase}} for phrase in words.phrases]
    should: list[dict] = []
    free = words.words.split()[:MAX_WORDS]
    if free:
        each = [_word_clause(w) for w in free]
        must.append({"bool": {"should": each, "minimum_should_match": len(each) if words.every else 1}})
        should += [{"bool": {"must": each, "_name": EVERY_WORD}},
                   {"match": {"text": {"query": " ".join(free), "operator": "and", "boost": 2.0}}},
                   {"match_phrase": {"text": {"query": " ".join(free), "slop": 2}}}]
    return {"must": must, "should": should}


class Reads(StoreBase):
    """The reads of ``Store``."""

    def scope(self) -> dict:
        """This library's documents, and any that carry no library (a schema-1 index, documents a script wrote):
        every read of the store sees these only, unless a search asks for all libraries."""
        return {"bool": {"should": [{"term": {"library": self.library}},
                                    {"bool": {"must_not": {"exists": {"field": "library"}}}}],
                         "minimum_should_match": 1}}

    def _scoped(self, *clauses: dict) -> dict:
        return {"bool": {"filter": [*clauses, self.scope()]}}

    def scan_docs(self, query: dict, source: list[str], page: int = 2000, index: str | None = None,
                  all_libraries: bool = False) -> Iterator[dict]:
        """Every matching document (of ``index``, default ours; of this library unless ``all_libraries``), via
        point-in-time + search_after (no scroll contexts left behind)."""
        if not all_libraries:
            query = {"bool": {"must": [query], "filter": [self.scope()]}}
        pit = self._retrying(lambda: self.client.open_point_in_time(index=index or self.index, keep_alive="2m"),
                             "read")["id"]
        try:
            after = None
            while True:
                kwargs = {"search_after": after} if after else {}
                resp = self._retrying(lambda kw=kwargs, pit=pit: self.client.search(
                    pit={"id": pit, "keep_alive": "2m"}, query=query, source=source, size=page, sort=["_shard_doc"],
                    track_total_hits=False, **kw), "read")
                hits = resp["hits"]["hits"]
                if not hits:
                    return
                pit = resp.get("pit_id", pit)
                yield from hits
                after = hits[-1]["sort"]
        finally:
            with contextlib.suppress(ApiError, TransportError):  # it expires by itself; never mask the real error
                self.client.close_point_in_time(id=pit)

    def documents(self, filters: Filters | None, fields: list[str], page: int = 2000) -> Iterator[tuple[str, dict]]:
        """(document id, stored ``fields``) of every photo the filters let through (this library's, unless they
        ask for all): what a whole-library pass such as the duplicate scan reads."""
        filters = filters or Filters()
        clauses = filters.clauses()
        query = {"bool": {"filter": clauses}} if clauses else {"match_all": {}}
        for hit in self.scan_docs(query, fields, page=page, all_libraries=filters.all_libraries):
            yield hit["_id"], hit["_source"]

    def paths_of(self, ids: Sequence[str]) -> dict[str, str]:
        """Document id → path, for these documents of this library (a person's photos)."""
        out: dict[str, str] = {}
        for start in range(0, len(ids), 1000):
            docs = self.documents(Filters(photo_ids=list(ids[start:start + 1000])), ["path", "path_b64"])
            out.update((i, path_from_source(src)) for i, src in docs)
        return out

    def indexed_files(self, roots: Iterable[str]) -> dict[str, IndexedFile]:
        """Documents of files under these roots (folders, or single files), keyed by path."""
        roots = list(roots)
        out: dict[str, IndexedFile] = {}
        for start in range(0, len(roots), 500):  # a burst of deletions can name thousands of paths
            chunk = roots[start:start + 500]
            should = []
            for root in chunk:
                shown = readable_path(root)
                should += [{"term": {"path": shown}}, {"prefix": {"path": shown.rstrip("/") + "/"}}]
            query = {"bool": {"should": should, "minimum_should_match": 1}}
            # The display-form query is a superset (caf\xe9/ and caf\xff/ both read "caf\ufffd/"): keep exact matches.
            out.update(item for item in map(_indexed_file, self.scan_docs(query, FILE_FIELDS))
                       if any(under(item[0], root) for root in chunk))
        return out

    def files_at(self, paths: Sequence[str]) -> dict[str, IndexedFile]:
        """Documents of exactly these files (a terms query per 1,000 paths: a camera import can be thousands)."""
        out: dict[str, IndexedFile] = {}
        for start in range(0, len(paths), 1000):
            chunk = [readable_path(p) for p in paths[start:start + 1000]]
            resp = self._retrying(lambda chunk=chunk: self.client.search(
                index=self.index, query=self._scoped({"terms": {"path": chunk}}), size=len(chunk) * 2,
                source=FILE_FIELDS), "read")
            out.update(_indexed_file(hit) for hit in resp["hits"]["hits"])
        return out

    def by_sha256(self, digests: Sequence[str]) -> dict[str, dict]:
        """One stored document's COPIED_FIELDS (vector and phash with them) per content hash, to reuse instead of
        re-embedding (``PhotoDoc.from_stored``)."""
        out: dict[str, dict] = {}
        for start in range(0, len(digests), 1000):
            chunk = list(dict.fromkeys(digests[start:start + 1000]))
            resp = self._retrying(lambda chunk=chunk: self.client.search(
                index=self.index, query=self._scoped({"terms": {"sha256": chunk}}), size=len(chunk) * 4,
                source=COPIED_FIELDS), "read")
            for hit in resp["hits"]["hits"]:
                out.setdefault(hit["_source"]["sha256"], hit["_source"])
        return out

    def with_contents(self, digests: Sequence[str], fields: list[str]) -> Iterator[tuple[str, dict]]:
        """(document id, stored ``fields``) of every photo of this library whose content is one of ``digests``:
        all the indexed copies of those files (``by_sha256`` gives one each)."""
        digests = list(dict.fromkeys(digests))
        for start in range(0, len(digests), 1000):
            for hit in self.scan_docs({"terms": {"sha256": digests[start:start + 1000]}}, fields, page=1000):
                yield hit["_id"], hit["_source"]

    def source_of(self, doc: str) -> dict | None:
        """A document's stored fields (with its vector), or None."""
        try:
            return self._retrying(lambda: self.client.get(index=self.index, id=doc), "read")["_source"]
        except NotFoundError:
            return None

    def indexed_source(self, path: str) -> dict | None:
        """The stored fields (with the vector) of the photo this library indexed at exactly this path, or None."""
        source = self.source_of(doc_id(path, self.library))
        return source if source is not None and path_bytes(path_from_source(source)) == path_bytes(path) else None

    def count(self) -> int:
        """This library's photos."""
        return int(self._retrying(lambda: self.client.count(index=self.index, query=self.scope()), "count")["count"])

    def count_undated(self) -> int:
        """Photos without a date taken (a date filter leaves them out unless asked to include them)."""
        return int(self._retrying(lambda: self.client.count(index=self.index, query=self._scoped(UNDATED)),
                                  "count")["count"])

    def folder_counts(self) -> dict[tuple[str, str], int]:
        """Photos per (library folder, folder they are in), every folder at any depth: the folder tree's rows."""
        out: dict[tuple[str, str], int] = {}
        after = None
        while True:
            composite: dict = {"size": 1000, "sources": [{"root": {"terms": {"field": "root"}}},
                                                         {"folder": {"terms": {"field": "folder"}}}]}
            if after:
                composite["after"] = after
            resp = self._retrying(lambda c=composite: self.client.search(
                index=self.index, query=self.scope(), size=0, aggs={"folders": {"composite": c}}), "read")
            agg = resp["aggregations"]["folders"]
            out.update({(b["key"]["root"], b["key"]["folder"]): b["doc_count"] for b in agg["buckets"]})
            after = agg.get("after_key")
            if not agg["buckets"] or not after:
                return out

    # ES applies a kNN's ``similarity`` to its int8 estimate of the cosine, which can fall this far below the exact
    # one: an identical copy (cosine 1) estimated at 0.998 was left out by a threshold of 1.
    SIMILARITY_SLACK = 0.02

    def knn(self, vector: np.ndarray, k: int = 20, filters: Filters | None = None,
            num_candidates: int | None = None, min_score: float | None = None,
            rescore: bool | None = None) -> list[Hit]:
        """Nearest photos by cosine similarity, best first; ``min_score`` is a cosine threshold, applied to the
        score returned (no hit is below it): ES is given slack on its estimate, the exact filter is here.

        ``rescore``: re-rank the int8 candidates on the float vectors (default: when the server has it).
        """
        # From benchmarks/knn.py's curves (README, kNN): with rescore, 100 candidates already find the exact top 10 for
        # a photo like the library's; more only help unrelated queries, at a price in time.
        num_candidates = num_candidates or min(10_000, max(100, 5 * k))
        knn: dict = {"field": "image_embedding", "query_vector": [float(x) for x in vector], "k": k,
                     "num_candidates": max(num_candidates, k)}
        filters = filters or Filters()
        clauses = filters.clauses() + ([] if filters.all_libraries else [self.scope()])
        if clauses:
            knn["filter"] = clauses
        if min_score is not None:
            knn["similarity"] = max(-1.0, float(min_score) - self.SIMILARITY_SLACK)
        if rescore is None:
            rescore = self.server_version >= RESCORE_SINCE
        if rescore:
            knn["rescore_vector"] = {"oversample": 3.0}
        try:  # through _retrying: a managed node that moved to another port is followed there
            resp = self._retrying(lambda: self.client.search(index=self.index, knn=knn, size=k, source=SOURCE_FIELDS),
                                  "search")
        except NotFoundError as exc:
            raise UserError(f"index {self.alias!r} not found: run `imgsearch-desktop index` first") from exc
        except EsConnectionError as exc:
            raise ElasticsearchUnavailable(f"Elasticsearch unreachable: {exc.message}") from exc
        hits = [_hit(h) for h in resp["hits"]["hits"]]
        return hits if min_score is None else [h for h in hits if h.score >= min_score]

    def knn_many(self, field_name: str, vectors: Sequence[object | None], k: int,
                 filters: Filters | None = None, min_score: float | None = None) -> list[list[str]]:
        """Document ids of each vector's ``k`` nearest documents on ``field_name`` (``image_embedding`` with cosine
        ``min_score``, or ``phash``: hex bit vectors, Hamming distance), in one ``_msearch``; a None vector gets
        no neighbours. The duplicate scan asks this for a hundred photos at a time."""
        filters = filters or Filters()
        clauses = filters.clauses() + ([] if filters.all_libraries else [self.scope()])
        body: list[dict] = []
        for vector in vectors:
            if vector is None:
                search: dict = {"query": {"match_none": {}}, "size": 0}
            else:
                query_vector = vector if isinstance(vector, str) else [float(x) for x in vector]
                knn: dict = {"field": field_name, "query_vector": query_vector, "k": k, "num_candidates": k * 5,
                             "filter": clauses}
                if min_score is not None:
                    knn["similarity"] = float(min_score)
                search = {"knn": knn, "size": k, "_source": False}
            body += [{"index": self.index}, search]
        if not body:
            return []
        responses = self._retrying(lambda: self.client.msearch(searches=body)["responses"], "duplicate search")
        failed = [r["error"] for r in responses if "error" in r]
        if failed:  # a busy or broken shard: an empty answer would silently hide duplicates
            reason = failed[0].get("reason", failed[0]) if isinstance(failed[0], dict) else failed[0]
            raise UserError(f"Elasticsearch could not answer {len(failed)} of {len(responses)} duplicate searches "
                            f"({reason}); try again")
        return [[h["_id"] for h in r.get("hits", {}).get("hits", [])] for r in responses]

    # ----- per-photo analyses (core/analyses) -----
    @staticmethod
    def _lacking_query(versions: dict[str, int]) -> dict:
        """Documents missing one of these analyses at its version (never analysed, or by an older version)."""
        return {"bool": {"should": [{"bool": {"must_not": {"term": {f"analyses.{name}": version}}}}
                                    for name, version in versions.items()], "minimum_should_match": 1}}

    def count_lacking(self, versions: dict[str, int]) -> int:
        return int(self._retrying(lambda: self.client.count(
            index=self.index, query=self._scoped(self._lacking_query(versions))), "count")["count"])

    def lacking(self, versions: dict[str, int], fields: list[str]) -> Iterator[tuple[str, dict]]:
        """(document id, stored ``fields``) of this library's photos that lack one of these analyses."""
        for hit in self.scan_docs(self._lacking_query(versions), fields, page=200):
            yield hit["_id"], hit["_source"]

    def clear_analysis(self, name: str, fields: Sequence[str]) -> int:
        """Delete an analysis's data from every photo of this library (faces switched off): its fields become null
        and its record goes, so switching it on again analyses every photo afresh. Returns the photos cleared."""
        def present(f: str) -> dict:  # a nested field's values live in hidden documents: exists needs `nested`
            nested = ANALYSIS_PROPERTIES.get(f, {}).get("type") == "nested"
            return {"nested": {"path": f, "query": {"match_all": {}}}} if nested else {"exists": {"field": f}}

        query = {"bool": {"should": [{"exists": {"field": f"analyses.{name}"}}, *map(present, fields)],
                          "minimum_should_match": 1}}
        ids = [hit["_id"] for hit in self.scan_docs(query, False, page=2000)]  # type: ignore[arg-type]
        cleared = {f: None for f in fields} | {"analyses": {name: None}}
        for start in range(0, len(ids), 1000):
            self.update_fields({i: cleared for i in ids[start:start + 1000]})
        self.refresh()
        return len(ids)

    def faces_of(self) -> Iterator[tuple[str, list[dict]]]:
        """(document id, faces with box and descriptor) of every photo of this library that has faces."""
        query = {"nested": {"path": "faces", "query": {"match_all": {}}}}
        for hit in self.scan_docs(query, ["faces.box", "faces.descriptor"], page=500):
            yield hit["_id"], hit["_source"].get("faces") or []

    def face_knn(self, descriptor: Sequence[float], k: int = 20, max_distance: float | None = None,
                 filters: Filters | None = None) -> list[tuple[Hit, float, int]]:
        """Photos with a face nearest to ``descriptor`` (Euclidean), nearest first: (hit, distance, which face)."""
        filters = filters or Filters()
        clauses = filters.clauses() + ([] if filters.all_libraries else [self.scope()])
        knn: dict = {"field": "faces.descriptor", "query_vector": [float(x) for x in descriptor], "k": k,
                     "num_candidates": min(10_000, max(100, 5 * k)), "filter": clauses,
                     "inner_hits": {"size": 1, "_source": False, "fields": ["faces.score"]}}
        if max_distance is not None:
            knn["similarity"] = float(max_distance)  # for l2_norm: the largest distance a match may have
        resp = self._retrying(lambda: self.client.search(index=self.index, knn=knn, size=k, source=SOURCE_FIELDS),
                              "face search")
        out = []
        for h in resp["hits"]["hits"]:
            inner = h.get("inner_hits", {}).get("faces", {}).get("hits", {}).get("hits", [])
            which = inner[0]["_nested"]["offset"] if inner else 0
            distance = distance_from_score(h["_score"])
            out.append((_hit(h, score=1.0 - distance), distance, which))
        return out

    def words_search(self, words: WordsQuery, k: int = 20, filters: Filters | None = None,
                     vectors: bool = False) -> list[WordsHit]:
        """Photos whose text (the text analysis's folded ``text``) matches ``words``, best first: those holding
        every word first (a word may be a prefix of the photo's, or one letter off), then by relevance. Each hit's
        score is the relevance (BM25); with ``vectors``, each comes with its stored vector."""
        filters = filters or Filters()
        clauses = filters.clauses() + ([] if filters.all_libraries else [self.scope()])
        resp = self._retrying(lambda: self.client.search(
            index=self.index, query={"bool": {**words_clauses(words), "filter": clauses}}, size=k,
            source=SOURCE_FIELDS + (["image_embedding"] if vectors else [])), "text search")
        out = []
        for h in resp["hits"]["hits"]:
            every = EVERY_WORD in h.get("matched_queries", ()) or not words.words
            out.append(WordsHit(_hit(h, score=float(h["_score"] or 0.0)), every,
                                h["_source"].get("image_embedding") if vectors else None))
        out.sort(key=lambda w: (not w.every_word, -w.hit.score))  # stable: ES's order within each group
        return out
