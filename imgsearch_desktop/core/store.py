"""Everything that speaks Elasticsearch: connection, versioned index behind an alias, bulk writes, kNN.

Scores leaving this module are cosine similarities in [-1, 1] (ES's cosine ``_score`` is (1 + cos) / 2).
Paths cross this boundary as ``str`` (os.fsdecode form); the exact bytes travel in ``path_b64`` so non-UTF-8 names
survive, and ``path`` holds a readable display form.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from elasticsearch import ApiError, AuthenticationException, Elasticsearch, NotFoundError, TransportError, helpers
from elasticsearch import ConnectionError as EsConnectionError

from imgsearch_desktop import APP_NAME
from imgsearch_desktop.core.errors import ElasticsearchUnavailable, IndexConflict, UserError

SCHEMA_VERSION = 1
PHASH_BITS = 256
MIN_SERVER = (8, 12)
RESCORE_SINCE = (8, 18)  # knn.rescore_vector: exact float re-ranking of int8-quantised candidates
FILE_FIELDS = ["path", "path_b64", "size", "mtime_ns", "sha256"]
SOURCE_FIELDS = ["path", "path_b64", "image_id", "image_name", "relative_path", "folder", "size", "mtime_ns",
                 "width", "height", "format", "taken_at", "sha256", "phash"]


# ---------------------------------------------------------------- paths ↔ documents
def path_bytes(path: str) -> bytes:
    return os.fsencode(path)


def display(path: str) -> str:
    """A readable form of a path whose bytes may not be UTF-8."""
    return path_bytes(path).decode("utf-8", "replace")


def doc_id(path: str) -> str:
    """Document id = hash of the path's exact bytes."""
    return hashlib.sha256(path_bytes(path)).hexdigest()[:40]


def path_b64(path: str) -> str:
    return base64.b64encode(path_bytes(path)).decode("ascii")


def path_from_source(source: dict) -> str:
    if source.get("path_b64"):
        return os.fsdecode(base64.b64decode(source["path_b64"]))
    return source["path"]


def cosine_from_score(score: float) -> float:
    return 2.0 * float(score) - 1.0


def score_from_cosine(cosine: float) -> float:
    return (1.0 + float(cosine)) / 2.0


# ---------------------------------------------------------------- connection
@dataclass
class Connection:
    url: str
    user: str = ""
    password: str = ""
    api_key: str = ""
    ca_cert: str = ""

    def redacted(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def client(self, request_timeout: float = 30.0) -> Elasticsearch:
        parts = urlsplit(self.url)
        user = self.user or (parts.username or "")
        password = self.password or (parts.password or "")
        kwargs: dict = {"request_timeout": request_timeout, "max_retries": 2, "retry_on_timeout": True}
        if self.api_key:
            kwargs["api_key"] = self.api_key
        elif user:
            kwargs["basic_auth"] = (user, password)
        if self.ca_cert:
            kwargs["ca_certs"] = self.ca_cert
        return Elasticsearch(self.redacted(), **kwargs)


def _version_tuple(text: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def describe_error(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        info = exc.info if isinstance(exc.info, dict) else {}
        err = info.get("error", {}) if isinstance(info.get("error"), dict) else {}
        return f"{err.get('type', exc.meta.status)}: {err.get('reason', exc.message)}"
    return str(exc)


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

    def as_json(self) -> dict:
        return {"path": display(self.path), "score": round(self.score, 6), "image_id": self.image_id,
                "image_name": self.image_name, "relative_path": self.relative_path, "width": self.width,
                "height": self.height}


@dataclass
class Filters:
    folders: list[str] = field(default_factory=list)  # photos under any of these folders
    date_from: str | None = None  # taken_at range, ISO dates
    date_to: str | None = None
    formats: list[str] = field(default_factory=list)  # JPEG, PNG, …

    def clauses(self) -> list[dict]:
        out: list[dict] = []
        if self.folders:
            out.append({"bool": {"should": [{"prefix": {"path": display(f).rstrip("/") + "/"}}
                                            for f in self.folders], "minimum_should_match": 1}})
        if self.date_from or self.date_to:
            rng = {k: v for k, v in (("gte", self.date_from), ("lte", self.date_to)) if v}
            out.append({"range": {"taken_at": rng}})
        if self.formats:
            out.append({"terms": {"format": [f.upper() for f in self.formats]}})
        return out


@dataclass
class IndexedFile:
    """What the index knows about one file, enough to decide unchanged / moved / gone."""

    doc_id: str
    path: str
    size: int
    mtime_ns: int
    sha256: str


def mapping(dims: int, model: str) -> dict:
    return {
        "dynamic": "strict",
        "_meta": {"app": APP_NAME, "schema": SCHEMA_VERSION, "model": model, "dims": dims},
        "properties": {
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
            "phash": {"type": "dense_vector", "element_type": "bit", "dims": PHASH_BITS, "index": True,
                      "similarity": "l2_norm"},  # l2_norm on bits = Hamming distance
            "indexed_at": {"type": "date"},
        },
    }


def concrete_name(alias: str, model: str, dims: int) -> str:
    """A versioned index name per (schema, model, dims): a model change gets a new index, never mixed vectors."""
    slug = re.sub(r"[^a-z0-9]+", "-", os.path.basename(model.rstrip("/")).lower()).strip("-")[:40]
    tag = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{alias}-s{SCHEMA_VERSION}-{slug}-{tag}-{dims}d"


class Store:
    """One image index (an alias over a versioned concrete index) on one cluster."""

    def __init__(self, client: Elasticsearch, alias: str, retry_for: float = 120.0,
                 on_wait: Callable[[str], None] | None = None, bulk_retries: int = 5,
                 bulk_backoff: float = 1.0) -> None:
        self.client = client
        self.bulk_retries = bulk_retries  # item-level 429s (busy node, flood-stage block) retried with backoff
        self.bulk_backoff = bulk_backoff
        self.alias = alias
        self.index = alias  # the concrete index; set by open()
        self.migrate_from: str | None = None  # an older index of ours (other model/schema) still behind the alias
        self.retry_for = retry_for
        self.on_wait = on_wait
        self.server_version = (0, 0)

    # ----- setup -----
    def check_server(self) -> str:
        """Refuse a server we cannot use. Returns its version string."""
        try:
            info = self.client.nodes.info(filter_path="nodes.*.version")
        except EsConnectionError as exc:
            raise ElasticsearchUnavailable(f"Elasticsearch unreachable: {exc.message}") from exc
        except AuthenticationException as exc:
            raise UserError("Elasticsearch refused our credentials (401): check the user and "
                            "IMGSEARCH_ES_PASSWORD / IMGSEARCH_ES_API_KEY") from exc
        versions = sorted({n["version"] for n in info.get("nodes", {}).values()})
        if not versions:
            raise ElasticsearchUnavailable("Elasticsearch answered without any node")
        self.server_version = min(_version_tuple(v) for v in versions)
        if self.server_version < MIN_SERVER:
            raise UserError(f"Elasticsearch {versions[0]} is too old: 8.12 or newer is needed (kNN options we use)")
        if self.server_version[0] >= 9:
            raise UserError(f"Elasticsearch {versions[0]} needs the 9.x Python client; this app uses 8.x")
        return versions[0]

    def _meta_of(self, index: str) -> dict:
        got = self.client.indices.get_mapping(index=index)
        return next(iter(got.values()))["mappings"].get("_meta", {}) or {}

    def open(self, model: str, dims: int, create: bool = True) -> str:
        """Find or create the index for this model; returns the concrete index name."""
        if self.server_version == (0, 0):
            self.check_server()
        target = concrete_name(self.alias, model, dims)
        if self.client.indices.exists(index=self.alias) and not self.client.indices.exists_alias(name=self.alias):
            meta = self._meta_of(self.alias)
            if meta.get("app") != APP_NAME:
                raise IndexConflict(f"index {self.alias!r} exists and was not made by {APP_NAME}: "
                                    f"pick another name with --index (it is left untouched)")
            if meta.get("model") == model and meta.get("dims") == dims and meta.get("schema") == SCHEMA_VERSION:
                self.index = self.alias
                return self.index
            raise IndexConflict(f"index {self.alias!r} holds vectors of {meta.get('model')} ({meta.get('dims')}-d); "
                                f"use another --index for {model}")
        current = []
        if self.client.indices.exists_alias(name=self.alias):
            current = list(self.client.indices.get_alias(name=self.alias).keys())
        self.index = target
        if target in current:
            return target
        if not self.client.indices.exists(index=target):
            if not create:
                raise UserError(f"nothing indexed yet with {model} in {self.alias!r}: run `imgsearch-desktop index`")
            body_aliases = {} if current else {self.alias: {}}
            self.client.indices.create(index=target, mappings=mapping(dims, model), aliases=body_aliases,
                                       settings={"number_of_shards": 1, "number_of_replicas": 0})
        if current:
            self.migrate_from = current[0]
        return target

    def finish_migration(self) -> None:
        """After a full re-embed into the new index: point the alias at it, drop our old index."""
        if not self.migrate_from:
            return
        old = self.migrate_from
        self.client.indices.update_aliases(actions=[{"remove": {"index": old, "alias": self.alias}},
                                                    {"add": {"index": self.index, "alias": self.alias}}])
        if self._meta_of(old).get("app") == APP_NAME:
            self.client.indices.delete(index=old)
        self.migrate_from = None

    def drop(self) -> None:
        """Delete this index (only ever one we made)."""
        if self.client.indices.exists(index=self.index) and self._meta_of(self.index).get("app") == APP_NAME:
            self.client.indices.delete(index=self.index)

    # ----- writes -----
    def _retrying(self, action: Callable[[], object], what: str):
        """Run ``action``; while ES is unreachable, wait with exponential backoff (up to ``retry_for`` s)."""
        delay, waited = 1.0, 0.0
        while True:
            try:
                return action()
            except (EsConnectionError, TransportError) as exc:
                if isinstance(exc, ApiError) or waited >= self.retry_for:
                    if isinstance(exc, ApiError):
                        raise
                    raise ElasticsearchUnavailable(f"Elasticsearch unavailable during {what}: {exc}") from exc
                if self.on_wait:
                    self.on_wait(f"Elasticsearch unavailable, retrying {what} in {delay:.0f}s")
                time.sleep(delay)
                waited += delay
                delay = min(delay * 2, 30.0)

    def write(self, docs: Sequence[dict], deletes: Sequence[str] = ()) -> list[tuple[str, str]]:
        """Upsert documents (each with ``_id``) and delete ids in bulk; returns (doc id, error) for each failure."""
        actions: list[dict] = [{"_op_type": "index", "_index": self.index, "_id": d["_id"],
                                "_source": {k: v for k, v in d.items() if k != "_id"}} for d in docs]
        actions += [{"_op_type": "delete", "_index": self.index, "_id": i} for i in deletes]
        if not actions:
            return []

        def run() -> list[tuple[str, str]]:
            errors = []
            for ok, item in helpers.streaming_bulk(self.client, actions, chunk_size=500,
                                                   max_retries=self.bulk_retries, initial_backoff=self.bulk_backoff,
                                                   raise_on_error=False, raise_on_exception=True):
                op, result = next(iter(item.items()))
                if not ok and not (op == "delete" and result.get("status") == 404):
                    error = result.get("error", {})
                    reason = error.get("reason", error) if isinstance(error, dict) else error
                    errors.append((result.get("_id", "?"), f"{op} failed ({result.get('status')}): {reason}"))
            return errors

        errors = self._retrying(run, "bulk write")
        blocked = [e for e in errors if "cluster_block" in e[1] or "read-only" in e[1] or "(429)" in e[1]]
        if blocked and len(blocked) == len(actions):
            raise UserError("Elasticsearch rejects writes: the index is read-only (disk nearly full, flood-stage "
                            "watermark). Free disk space; the index unlocks itself once usage drops. " + blocked[0][1])
        return errors

    def refresh(self) -> None:
        self._retrying(lambda: self.client.indices.refresh(index=self.index), "refresh")

    # ----- reads -----
    def scan_docs(self, query: dict, source: list[str], page: int = 2000) -> Iterator[dict]:
        """Every matching document, via point-in-time + search_after (no scroll contexts left behind)."""
        pit = self.client.open_point_in_time(index=self.index, keep_alive="2m")["id"]
        try:
            after = None
            while True:
                kwargs = {"search_after": after} if after else {}
                resp = self.client.search(pit={"id": pit, "keep_alive": "2m"}, query=query, source=source,
                                          size=page, sort=["_shard_doc"], track_total_hits=False, **kwargs)
                hits = resp["hits"]["hits"]
                if not hits:
                    return
                pit = resp.get("pit_id", pit)
                yield from hits
                after = hits[-1]["sort"]
        finally:
            self.client.close_point_in_time(id=pit)

    def indexed_files(self, roots: Iterable[str]) -> dict[str, IndexedFile]:
        """Documents of files under these roots (folders, or single files), keyed by path."""
        roots = list(roots)
        out: dict[str, IndexedFile] = {}
        for start in range(0, len(roots), 500):  # a burst of deletions can name thousands of paths
            should = []
            for root in roots[start:start + 500]:
                should += [{"term": {"path": display(root)}}, {"prefix": {"path": display(root).rstrip("/") + "/"}}]
            query = {"bool": {"should": should, "minimum_should_match": 1}}
            out.update(_indexed_file(hit) for hit in self.scan_docs(query, FILE_FIELDS))
        return out

    def files_at(self, paths: Sequence[str]) -> dict[str, IndexedFile]:
        """Documents of exactly these files (a terms query per 1,000 paths: a camera import can be thousands)."""
        out: dict[str, IndexedFile] = {}
        for start in range(0, len(paths), 1000):
            chunk = [display(p) for p in paths[start:start + 1000]]
            resp = self.client.search(index=self.index, query={"terms": {"path": chunk}}, size=len(chunk) * 2,
                                      source=FILE_FIELDS)
            out.update(_indexed_file(hit) for hit in resp["hits"]["hits"])
        return out

    def by_sha256(self, digests: Sequence[str]) -> dict[str, dict]:
        """One stored document (with its vector and phash) per content hash, to reuse instead of re-embedding."""
        out: dict[str, dict] = {}
        for start in range(0, len(digests), 1000):
            chunk = list(dict.fromkeys(digests[start:start + 1000]))
            resp = self.client.search(index=self.index, query={"terms": {"sha256": chunk}}, size=len(chunk) * 4,
                                      source=["sha256", "image_embedding", "phash", "width", "height", "format",
                                              "taken_at"])
            for hit in resp["hits"]["hits"]:
                out.setdefault(hit["_source"]["sha256"], hit["_source"])
        return out

    def source_of(self, doc: str) -> dict | None:
        """A document's stored fields (with its vector), or None."""
        try:
            return self.client.get(index=self.index, id=doc)["_source"]
        except NotFoundError:
            return None

    def count(self) -> int:
        return int(self.client.count(index=self.index)["count"])

    def vector_of(self, image_id: str) -> np.ndarray | None:
        resp = self.client.search(index=self.index, query={"term": {"image_id": image_id}}, size=1,
                                  source=["image_embedding"])
        hits = resp["hits"]["hits"]
        return np.asarray(hits[0]["_source"]["image_embedding"], dtype=np.float32) if hits else None

    def knn(self, vector: np.ndarray, k: int = 20, filters: Filters | None = None,
            num_candidates: int | None = None, min_score: float | None = None,
            rescore: bool | None = None) -> list[Hit]:
        """Nearest photos by cosine similarity, best first; ``min_score`` is a cosine threshold.

        ``rescore``: re-rank the int8 candidates on the float vectors (default: when the server has it).
        """
        # From benchmarks/knn.py's curve at 100k photos (README): with rescore, 100 candidates give recall@10 = 1.000
        # for a photo like the library's (p95 9.9 ms); 200 only help unrelated queries (0.84 → 0.96) at +25% time.
        num_candidates = num_candidates or min(10_000, max(100, 5 * k))
        knn: dict = {"field": "image_embedding", "query_vector": [float(x) for x in vector], "k": k,
                     "num_candidates": max(num_candidates, k)}
        clauses = (filters or Filters()).clauses()
        if clauses:
            knn["filter"] = clauses
        if min_score is not None:
            knn["similarity"] = float(min_score)  # cosine similarity threshold, applied by ES to candidates
        if rescore is None:
            rescore = self.server_version >= RESCORE_SINCE
        if rescore:
            knn["rescore_vector"] = {"oversample": 3.0}
        try:
            resp = self.client.search(index=self.index, knn=knn, size=k, source=SOURCE_FIELDS)
        except NotFoundError as exc:
            raise UserError(f"index {self.alias!r} not found: run `imgsearch-desktop index` first") from exc
        except EsConnectionError as exc:
            raise ElasticsearchUnavailable(f"Elasticsearch unreachable: {exc.message}") from exc
        return [_hit(h) for h in resp["hits"]["hits"]]


def _indexed_file(hit: dict) -> tuple[str, IndexedFile]:
    src = hit["_source"]
    path = path_from_source(src)
    return path, IndexedFile(hit["_id"], path, src.get("size", -1), src.get("mtime_ns", -1), src.get("sha256", ""))


def _hit(h: dict) -> Hit:
    src = h["_source"]
    return Hit(path=path_from_source(src), score=cosine_from_score(h["_score"]), image_id=src.get("image_id", h["_id"]),
               image_name=src.get("image_name", ""), relative_path=src.get("relative_path", ""),
               width=src.get("width"), height=src.get("height"), format=src.get("format"),
               taken_at=src.get("taken_at"), size=src.get("size"), folder=src.get("folder"),
               sha256=src.get("sha256"), phash=src.get("phash"), mtime_ns=src.get("mtime_ns"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
