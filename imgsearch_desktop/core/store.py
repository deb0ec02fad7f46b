"""Everything that speaks Elasticsearch: connection, versioned index behind an alias, bulk writes, kNN.

Scores leaving this module are cosine similarities in [-1, 1] (ES's cosine ``_score`` is (1 + cos) / 2).
Paths cross this boundary as ``str`` (os.fsdecode form); the exact bytes travel in ``path_b64`` so non-UTF-8 names
survive, and ``path`` holds a readable display form.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    BadRequestError,
    Elasticsearch,
    NotFoundError,
    TransportError,
    UnsupportedProductError,
    helpers,
)
from elasticsearch import ConnectionError as EsConnectionError

from imgsearch_desktop import APP_NAME
from imgsearch_desktop.core.analyses import analyses_mapping
from imgsearch_desktop.core.analyses.faces import FacesAnalysis, distance_from_score
from imgsearch_desktop.core.analyses.text import TextAnalysis
from imgsearch_desktop.core.paths import path_bytes, readable_path, under
from imgsearch_desktop.core.textfold import WordsQuery
from imgsearch_desktop.errors import (
    AuthRefused,
    DiskFull,
    ElasticsearchUnavailable,
    IndexConflict,
    IndexNotReady,
    UserError,
)

# 2: documents carry ``library`` (several desktops share one index) and their id hashes library id + path.
# 3: ``photo_date`` (date taken, else the file's time): the library's timeline is sorted and grouped by it.
SCHEMA_VERSION = 3
# In a migrated index's _meta: {old index: [library ids done moving out of it]}; the old index goes once it holds
# no other library's documents.
MOVED_OUT = "moved_out"
# The per-photo analyses' fields (core/analyses): in every index's mapping (added to an older one by put_mapping), so
# a document carrying them can always be written, whether or not the analysis is switched on.
ANALYSIS_PROPERTIES = analyses_mapping([FacesAnalysis(), TextAnalysis()])
ANALYSIS_FIELDS = list(ANALYSIS_PROPERTIES)  # analyses, faces, text, text_lines, has_text
DEFAULT_LIBRARY = "default"  # a Store nobody gave a library id (tests, scripts); the app always passes its own
PHASH_BITS = 256
MIN_SERVER = (8, 12)
RESCORE_SINCE = (8, 18)  # knn.rescore_vector: exact float re-ranking of int8-quantised candidates
FILE_FIELDS = ["path", "path_b64", "size", "mtime_ns", "sha256"]
SOURCE_FIELDS = ["path", "path_b64", "image_id", "image_name", "relative_path", "folder", "size", "mtime_ns",
                 "width", "height", "format", "taken_at", "sha256", "phash", "library", "photo_date", "faces.box",
                 "text_lines"]
# What PhotoDoc.from_stored takes over from a stored document (its content: a file moved, copied or migrated).
COPIED_FIELDS = ["sha256", "image_embedding", "phash", "width", "height", "format", "taken_at", *ANALYSIS_FIELDS]
# What a same-model migration reads of the old index's documents: which file each is (the exact path), whether it
# is unchanged (size, mtime), and everything PhotoDoc.from_stored copies across (the COPIED_FIELDS).
STORED_FIELDS = ["path", "path_b64", "size", "mtime_ns", *COPIED_FIELDS]
# Bulk item failures that heal by themselves on a cluster (a node left, a replica is being promoted): retried.
TRANSIENT_STATUS = {502, 503, 504}
TRANSIENT_ERRORS = {"unavailable_shards_exception", "node_not_connected_exception", "node_disconnected_exception",
                    "node_closed_exception", "connect_transport_exception", "no_shard_available_action_exception",
                    "primary_missing_action_exception", "shard_not_in_primary_mode_exception"}
READY_WAIT_S = 30.0  # the longest a new or recovering index may take to start its primary shard
WATERMARK_HIGH = "cluster.routing.allocation.disk.watermark.high"  # above it no new index is placed on a node


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
        kwargs.update(self.transport_options())
        return Elasticsearch(self.redacted(), **kwargs)

    def transport_options(self) -> dict:
        """Extra client options (the managed node's connection guards every new socket)."""
        return {}

    def server_version(self, timeout: float = 5.0) -> str:
        """Ask the cluster once who it is (a connection test): its version, or the store's plain errors."""
        client = self.client(request_timeout=timeout)
        try:
            return Store(client, "connection-test").check_server()
        finally:
            client.close()

    def current(self) -> Connection:
        """Where this cluster is now: itself; the managed node's connection follows the node to a new port."""
        return self


def _version_tuple(text: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


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


UNDATED_MONTH = ""  # the timeline's group of photos with no date at all (sorted last)
TIMELINE_KEEP_ALIVE = "10m"  # a snapshot outlives a pause of this long between two scrolls
MAX_WINDOW = 10_000  # ES's index.max_result_window: from + size of one search
# Newest first; photos without a date last; the path breaks ties, the snapshot's _shard_doc after it. Reversed:
# the same order read backwards, for the page above a known one (a missing date is Long.MIN_VALUE in both).
TIMELINE_SORT = [{"photo_date": {"order": "desc", "missing": "_last", "unmapped_type": "date"}},
                 {"path": {"order": "asc"}}, {"_shard_doc": {"order": "asc"}}]
TIMELINE_REVERSED = [{"photo_date": {"order": "asc", "missing": "_first", "unmapped_type": "date"}},
                     {"path": {"order": "desc"}}, {"_shard_doc": {"order": "desc"}}]


class SnapshotExpired(UserError):
    """The timeline's point in time is gone (kept alive TIMELINE_KEEP_ALIVE after its last use)."""


@dataclass
class Timeline:
    """A snapshot (point in time) of the library as the timeline shows it, and its photos per month."""

    pit: str
    filters: Filters
    months: list[tuple[str, int]]  # ("YYYY-MM" or UNDATED_MONTH, photos), newest first, the undated last
    total: int


@dataclass
class TimelinePage:
    hits: list[Hit]
    after: list | None  # the last hit's sort values: where the next page starts
    before: list | None = None  # the first hit's: where the page above it ends


def _from_month(month: str) -> dict:
    """Photos from the start of ``month`` on in timeline order: dated before the month after it, or undated."""
    if month == UNDATED_MONTH:
        return UNDATED_PHOTO
    year, mon = (int(x) for x in month.split("-"))
    end = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}-01"
    return {"bool": {"should": [{"range": {"photo_date": {"lt": end}}}, UNDATED_PHOTO], "minimum_should_match": 1}}


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


class Store:
    """One image index (an alias over a versioned concrete index) on one cluster."""

    def __init__(self, client: Elasticsearch, alias: str, retry_for: float = 120.0,
                 on_wait: Callable[[str], None] | None = None, bulk_retries: int = 5,
                 bulk_backoff: float = 1.0, connection: Connection | None = None,
                 library: str = DEFAULT_LIBRARY) -> None:
        self.client = client
        self.library = library  # this installation's id: what it writes is labelled with it, what it reads scoped
        self.connection = connection  # where ``client`` came from: rebuilt from it when the node moved
        self.bulk_retries = bulk_retries  # item-level 429s (busy node, flood-stage block) retried with backoff
        self.bulk_backoff = bulk_backoff
        self.alias = alias
        self.index = alias  # the concrete index; set by open()
        self.migrate_from: str | None = None  # an older index of ours (other model/schema) still behind the alias
        self.migrate_same_model = False  # migrate_from holds this model's vectors: copy them, do not re-embed
        self.retry_for = retry_for
        self.on_wait = on_wait
        self.server_version = (0, 0)

    # ----- setup -----
    def _address(self) -> str:
        node = next(iter(self.client.transport.node_pool.all()), None)
        return f"{node.config.scheme}://{node.config.host}:{node.config.port}" if node else "the given address"

    def check_server(self) -> str:
        """Refuse a server we cannot use. Returns its version string."""
        try:
            info = self.client.nodes.info(filter_path="nodes.*.version")
        except EsConnectionError as exc:
            raise ElasticsearchUnavailable(f"Elasticsearch unreachable: {exc.message}") from exc
        except AuthenticationException as exc:
            raise AuthRefused("Elasticsearch refused our credentials (401): check the user and "
                            "IMGSEARCH_ES_PASSWORD / IMGSEARCH_ES_API_KEY") from exc
        except (ApiError, TransportError, UnsupportedProductError) as exc:  # a web server, a proxy page, …
            status = getattr(getattr(exc, "meta", None), "status", None) or type(exc).__name__
            raise ElasticsearchUnavailable(f"the server at {self._address()} does not answer like Elasticsearch "
                                           f"({status}): check the address") from exc
        try:
            versions = sorted({n["version"] for n in info.get("nodes", {}).values()})
        except (AttributeError, KeyError, TypeError):
            raise ElasticsearchUnavailable(f"the server at {self._address()} does not answer like Elasticsearch: "
                                           "check the address") from None
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

    def use_index(self, model: str, dims: int, create: bool = True) -> str:
        """Find or create the index for this model and wait until it can be used; returns the concrete index name.
        Elasticsearch going away meanwhile (the node killed as the index is made) is waited for as during writes."""
        if self.server_version == (0, 0):
            self.check_server()
        target = self._retrying(lambda: self._find_or_create(model, dims, create), "opening the index")
        self._retrying(lambda: self._wait_ready(target), "opening the index")
        return target

    def _find_or_create(self, model: str, dims: int, create: bool) -> str:
        """use_index's work, safe to run again after a lost answer (every step looks before it acts)."""
        target = concrete_name(self.alias, model, dims)
        if self.client.indices.exists(index=self.alias) and not self.client.indices.exists_alias(name=self.alias):
            meta = self._meta_of(self.alias)
            if meta.get("app") != APP_NAME:
                raise IndexConflict(f"index {self.alias!r} exists and was not made by {APP_NAME}: "
                                    f"pick another name with --index (it is left untouched)")
            if meta.get("model") == model and meta.get("dims") == dims and meta.get("schema") == SCHEMA_VERSION:
                self.index = self.alias
                self._add_analysis_fields()
                return self.index
            raise IndexConflict(f"index {self.alias!r} holds vectors of {meta.get('model')} ({meta.get('dims')}-d); "
                                f"use another --index for {model}")
        current = []
        if self.client.indices.exists_alias(name=self.alias):
            current = list(self.client.indices.get_alias(name=self.alias).keys())
        self.index = target
        if target in current:
            self._add_analysis_fields()
            self._catch_up(model, dims)
            return target
        if current:
            self._check_migration(current[0], model, dims)
        if not self.client.indices.exists(index=target):
            if not create:
                raise UserError(f"nothing indexed yet with {model} in {self.alias!r}: run `imgsearch-desktop index`")
            body_aliases = {} if current else {self.alias: {}}
            # One replica wherever a second data node can hold it (a real cluster survives losing a node), none on
            # the managed single node (it would stay yellow); ES adjusts it as nodes join or leave.
            try:  # without waiting for the shard (_wait_ready does, and says why when it cannot start)
                self.client.indices.create(index=target, mappings=mapping(dims, model, self.alias),
                                           aliases=body_aliases, wait_for_active_shards=0,
                                           settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"})
            except BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise  # else made by a try whose answer was lost (the node died, the client timed out)
        if current:
            self._migrate_from(current[0], model, dims)
        return target

    def _wait_ready(self, index: str) -> None:
        """Return once the index's primary shard has started (a new index, or one recovering after a restart), or
        raise why it cannot: a disk past the high watermark keeps a new index red for good (reads then fail 503)."""
        deadline = time.monotonic() + READY_WAIT_S
        while True:
            try:  # "yellow" alone is not enough: a new index's primary still initializing reads yellow (searches 503)
                health = self.client.options(ignore_status=408).cluster.health(
                    index=index, wait_for_status="yellow", wait_for_active_shards="1", timeout="2s")
            except AuthorizationException:  # a user allowed the index but not cluster health: cannot tell, go on
                return
            if not health.get("timed_out") and health.get("active_primary_shards", 0) >= 1:  # our indices: 1 shard
                return
            problem = self._placement_problem(index)
            if problem is not None:
                raise problem
            if time.monotonic() >= deadline:
                raise IndexNotReady(f"the index {index!r} did not become ready within {READY_WAIT_S:.0f} s (its shard "
                                    "is still being recovered): try again in a minute")

    def _placement_problem(self, index: str) -> UserError | None:
        """Why Elasticsearch will not place the index's primary shard, or None while it may still come."""
        try:
            explain = self.client.cluster.allocation_explain(index=index, shard=0, primary=True)
        except (ApiError, TransportError):  # nothing unassigned left to explain: it is starting
            return None
        if explain.get("can_allocate") != "no":  # throttled, awaiting disk info, delayed: it comes
            return None
        full = [n["node_id"] for n in explain.get("node_allocation_decisions", [])
                if any(d.get("decider") == "disk_threshold" and d.get("decision") == "NO" for d in n["deciders"])]
        if full:
            return DiskFull(self._free_bytes(full), self._cluster_setting(WATERMARK_HIGH) or "unknown")
        return IndexNotReady(f"Elasticsearch cannot place the index {index!r}: "
                             f"{explain.get('allocate_explanation', 'it gives no reason')}")

    def _free_bytes(self, node_ids: list[str]) -> int | None:
        """The least free space among these nodes' data paths."""
        try:
            stats = self.client.nodes.stats(node_id=",".join(node_ids), metric="fs")
            return min(n["fs"]["total"]["available_in_bytes"] for n in stats["nodes"].values())
        except (ApiError, TransportError, KeyError, ValueError):
            return None

    def _cluster_setting(self, name: str) -> str | None:
        """A cluster setting as in force: transient over persistent over the node's own (elasticsearch.yml)."""
        try:
            got = self.client.cluster.get_settings(include_defaults=True, flat_settings=True)
        except (ApiError, TransportError):
            return None
        return next((got[level][name] for level in ("transient", "persistent", "defaults")
                     if name in got.get(level, {})), None)

    def _add_analysis_fields(self) -> None:
        """An index made before an analysis existed gets its fields (new fields need no new schema version)."""
        self._retrying(lambda: self.client.indices.put_mapping(index=self.index, properties=ANALYSIS_PROPERTIES),
                       "mapping update")

    def _migrate_from(self, old: str, model: str, dims: int) -> None:
        meta = self._meta_of(old)
        self.migrate_from = old
        self.migrate_same_model = meta.get("app") == APP_NAME and (meta.get("model"), meta.get("dims")) == (model, dims)

    def _check_migration(self, old: str, model: str, dims: int) -> None:
        """Refuse to move a shared index where its other desktops could not follow."""
        meta = self._meta_of(old)
        if meta.get("app") != APP_NAME:
            return
        if int(meta.get("schema") or 0) > SCHEMA_VERSION:
            raise IndexConflict(f"index {self.alias!r} was written by a newer {APP_NAME} (schema {meta['schema']}, "
                                f"this one has {SCHEMA_VERSION}), perhaps on another computer sharing this cluster: "
                                f"update {APP_NAME} here")
        others = self._libraries(old) - {self.library}
        if (meta.get("model"), meta.get("dims")) != (model, dims) and others:
            raise IndexConflict(f"index {self.alias!r} is shared with {len(others)} other "
                                f"{'library' if len(others) == 1 else 'libraries'} using {meta.get('model')}: "
                                f"use the same model, or another --index for {model}")

    def _catch_up(self, model: str, dims: int) -> None:
        """The alias already moved (another desktop sharing the index migrated first): an older index of ours
        still holding this library's documents is migrated from, so none of them is lost or re-embedded."""
        found = self.client.indices.get_alias(index=f"{self.alias}-s*", allow_no_indices=True,
                                              ignore_unavailable=True)
        for name in sorted(found):
            meta = self._meta_of(name) if name != self.index else {}
            if (meta.get("app"), meta.get("alias")) != (APP_NAME, self.alias) or self.library in self._moved_out(name):
                continue
            if self.client.count(index=name, query={"term": {"library": self.library}})["count"]:
                self._migrate_from(name, model, dims)
                return

    def _libraries(self, index: str) -> set[str]:
        """The library ids that label documents in ``index`` (none in a schema-1 index)."""
        resp = self.client.search(index=index, size=0, aggs={"libraries": {"terms": {"field": "library",
                                                                                       "size": 10_000}}})
        return {b["key"] for b in resp.get("aggregations", {}).get("libraries", {}).get("buckets", [])}

    def _moved_out(self, old: str) -> set[str]:
        """The libraries recorded as done moving out of ``old`` into our index: in the new index's ``_meta``, where
        every desktop sharing the index sees it and a crash cannot leave it half-written."""
        return set(self._meta_of(self.index).get(MOVED_OUT, {}).get(old, []))

    def _record_moved_out(self, old: str) -> set[str]:
        """Record this library as done moving out of ``old`` (written only after its last copy); returns all that
        are. Two desktops recording at once can lose one's mark: it then stays "not done" and the old index is
        kept until that library's next run records it again — late, never lost."""
        meta = self._meta_of(self.index)
        moved = meta.setdefault(MOVED_OUT, {})
        moved[old] = sorted(set(moved.get(old, [])) | {self.library})
        self.client.indices.put_mapping(index=self.index, meta=meta)
        return set(moved[old])

    def _forget_moved_out(self, old: str) -> None:
        meta = self._meta_of(self.index)
        if meta.get(MOVED_OUT, {}).pop(old, None) is not None:
            self.client.indices.put_mapping(index=self.index, meta=meta)

    def finish_migration(self) -> None:
        """After a full re-embed (or copy) into the new index: point the alias at it, record this library as moved
        out of the old index, and drop the old index once every library it holds is recorded so (desktops sharing
        it migrate one by one, each copying its own; one that was stopped half-way or found a folder unreachable
        has documents in both, and is not done)."""
        if not self.migrate_from:
            return
        old = self.migrate_from
        aliased = set(self.client.indices.get_alias(name=self.alias).keys())
        actions = [{"remove": {"index": old, "alias": self.alias}}] if old in aliased else []
        if self.index not in aliased:
            actions.append({"add": {"index": self.index, "alias": self.alias}})
        if actions:
            self.client.indices.update_aliases(actions=actions)
        waiting = self._libraries(old) - self._record_moved_out(old)
        if self._meta_of(old).get("app") == APP_NAME and not waiting:
            self.client.indices.delete(index=old)
            self._forget_moved_out(old)
        self.migrate_from = None
        self.migrate_same_model = False

    def attach(self) -> str:
        """Read through the alias as it stands, whatever model made it (comparing stored vectors needs no model)."""
        self.check_server()
        if not self.client.indices.exists(index=self.alias):
            raise UserError(f"nothing indexed yet in {self.alias!r}: run `imgsearch-desktop index` first")
        self.index = self.alias
        return self.index

    def drop(self) -> None:
        """Delete this index (only ever one we made)."""
        if self.client.indices.exists(index=self.index) and self._meta_of(self.index).get("app") == APP_NAME:
            self.client.indices.delete(index=self.index)

    # ----- writes -----
    def _retrying(self, action: Callable[[], object], what: str):
        """Run ``action``; while ES is unreachable or answers 503 (a node restarting: its cluster state or a shard
        not recovered yet), wait with exponential backoff (up to ``retry_for`` s)."""
        delay, waited = 1.0, 0.0
        while True:
            try:
                return action()
            except AuthenticationException as exc:  # a 401 is the user's to fix, not a traceback
                raise AuthRefused(f"Elasticsearch refused our credentials (401) during {what}: check the user and "
                                "IMGSEARCH_ES_PASSWORD / IMGSEARCH_ES_API_KEY") from exc
            except (ApiError, TransportError) as exc:
                answered = isinstance(exc, ApiError)
                if answered and exc.status_code != 503:
                    raise
                if not answered and self._reconnect():
                    continue  # the managed node restarted on another port: retry there at once
                if waited >= self.retry_for:
                    raise ElasticsearchUnavailable(f"Elasticsearch unavailable during {what}: {exc}") from exc
                if self.on_wait:
                    self.on_wait(f"Elasticsearch unavailable, retrying {what} in {delay:.0f}s")
                time.sleep(delay)
                waited += delay
                delay = min(delay * 2, 30.0)

    def _reconnect(self) -> bool:
        """Rebuild the client when our connection now resolves elsewhere (the old port may be anyone's)."""
        if self.connection is None:
            return False
        try:
            fresh = self.connection.current()
        except UserError:
            return False  # not running (yet): keep waiting
        if fresh.url == self.connection.url:
            return False
        timeout = next(iter(self.client.transport.node_pool.all())).config.request_timeout
        old, self.connection, self.client = self.client, fresh, fresh.client(request_timeout=timeout or 30.0)
        old.close()
        return True

    def write(self, docs: Sequence[PhotoDoc], deletes: Sequence[str] = ()) -> list[tuple[str, str]]:
        """Upsert documents and delete ids in bulk; returns (doc id, error) for each failure.

        Item failures a cluster heals by itself (a node died, its replica is being promoted) are sent again with
        backoff for up to ``retry_for`` seconds: ids are deterministic, so a retried document overwrites itself."""
        actions: list[dict] = [{"_op_type": "index", "_index": self.index, "_id": d.doc_id, "_source": d.source()}
                               for d in docs]
        actions += [{"_op_type": "delete", "_index": self.index, "_id": i} for i in deletes]
        return self._bulk(actions)

    def update_fields(self, updates: dict[str, dict]) -> list[tuple[str, str]]:
        """Partial updates {document id: fields}: only these fields change (an analysis's results); a document
        deleted meanwhile is skipped. Returns (doc id, error) for each failure."""
        return self._bulk([{"_op_type": "update", "_index": self.index, "_id": i, "doc": fields}
                           for i, fields in updates.items()])

    def _bulk(self, actions: list[dict]) -> list[tuple[str, str]]:
        if not actions:
            return []

        def run(batch: list[dict]) -> list[tuple[dict, str, bool]]:
            by_key = {(a["_op_type"], a["_id"]): a for a in batch}
            failed = []
            for ok, item in helpers.streaming_bulk(self.client, batch, chunk_size=500,
                                                   max_retries=self.bulk_retries, initial_backoff=self.bulk_backoff,
                                                   raise_on_error=False, raise_on_exception=True):
                op, result = next(iter(item.items()))
                if not ok and not (op in ("delete", "update") and result.get("status") == 404):
                    error = result.get("error", {})
                    reason = error.get("reason", error) if isinstance(error, dict) else error
                    kind = error.get("type", "") if isinstance(error, dict) else ""
                    transient = result.get("status") in TRANSIENT_STATUS or kind in TRANSIENT_ERRORS
                    action = by_key.get((op, result.get("_id")), {"_id": result.get("_id", "?")})
                    failed.append((action, f"{op} failed ({result.get('status')}): {reason}",
                                   transient and "_op_type" in action))
            return failed

        errors: list[tuple[str, str]] = []
        pending, delay, waited = actions, self.bulk_backoff, 0.0
        while pending:
            failed = self._retrying(lambda batch=pending: run(batch), "bulk write")
            errors += [(action["_id"], why) for action, why, transient in failed if not transient]
            pending = [action for action, _why, transient in failed if transient]
            if pending and waited >= self.retry_for:
                errors += [(action["_id"], why) for action, why, transient in failed if transient]
                break
            if pending:
                if self.on_wait:
                    self.on_wait(f"Elasticsearch could not take {len(pending)} writes yet "
                                 f"({next(why for _a, why, t in failed if t)}), retrying in {delay:.0f}s")
                time.sleep(delay)
                waited += delay
                delay = min(delay * 2, 30.0)
        blocked = [e for e in errors if "cluster_block" in e[1] or "read-only" in e[1] or "(429)" in e[1]]
        if blocked and len(blocked) == len(actions):
            raise UserError("Elasticsearch rejects writes: the index is read-only (disk nearly full, flood-stage "
                            "watermark). Free disk space; the index unlocks itself once usage drops. " + blocked[0][1])
        return errors

    def refresh(self) -> None:
        self._retrying(lambda: self.client.indices.refresh(index=self.index), "refresh")

    # ----- reads -----
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

    def files_to_migrate(self) -> Iterator[tuple[str, str]]:
        """(path, root) of every file in the index a model change migrates from (none when not migrating)."""
        if not self.migrate_from:
            return
        for hit in self.scan_docs({"match_all": {}}, ["path", "path_b64", "root", "relative_path"],
                                  index=self.migrate_from):
            yield path_from_source(hit["_source"]), root_from_source(hit["_source"])

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

    def previous_sources(self, paths: Sequence[str]) -> dict[str, dict]:
        """During a migration that keeps the model: the old index's stored fields (vector included) of exactly
        these files, to copy instead of re-embedding. Empty when the old index holds another model's vectors."""
        if not (self.migrate_from and self.migrate_same_model):
            return {}
        out: dict[str, dict] = {}
        for start in range(0, len(paths), 500):
            wanted = {path_bytes(p) for p in paths[start:start + 500]}
            chunk = sorted({readable_path(p) for p in paths[start:start + 500]})
            resp = self._retrying(lambda chunk=chunk: self.client.search(
                index=self.migrate_from, query=self._scoped({"terms": {"path": chunk}}), size=len(chunk) * 2,
                source=STORED_FIELDS), "read")
            for hit in resp["hits"]["hits"]:
                path = path_from_source(hit["_source"])
                if path_bytes(path) in wanted:  # display forms of two non-UTF-8 names can be equal
                    out[path] = hit["_source"]
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

    # ----- the library's timeline: newest first, one page at a time, in a point-in-time snapshot -----
    def _timeline_query(self, filters: Filters, *extra: dict) -> dict:
        clauses = [*filters.clauses(), *extra]
        return {"bool": {"filter": clauses}} if filters.all_libraries else self._scoped(*clauses)

    def timeline(self, filters: Filters | None = None, keep_alive: str = TIMELINE_KEEP_ALIVE) -> Timeline:
        """Open a snapshot of the photos the filters let through and count them per month (newest first, the
        undated last): what the timeline's group headers and scrubber show, and how it finds a month's rows."""
        filters = filters or Filters()
        pit = self._retrying(lambda: self.client.open_point_in_time(index=self.index, keep_alive=keep_alive),
                             "read")["id"]
        aggs = {"months": {"date_histogram": {"field": "photo_date", "calendar_interval": "month",
                                              "format": "yyyy-MM", "min_doc_count": 1, "order": {"_key": "desc"}}},
                "undated": {"missing": {"field": "photo_date"}}}
        resp = self._retrying(lambda: self.client.search(
            pit={"id": pit, "keep_alive": keep_alive}, query=self._timeline_query(filters), size=0, aggs=aggs,
            track_total_hits=True), "read")
        months = [(b["key_as_string"], b["doc_count"]) for b in resp["aggregations"]["months"]["buckets"]]
        undated = resp["aggregations"]["undated"]["doc_count"]
        if undated:
            months.append((UNDATED_MONTH, undated))
        return Timeline(resp.get("pit_id", pit), filters, months, resp["hits"]["total"]["value"])

    def timeline_page(self, timeline: Timeline, after: list | None = None, size: int = 200, month: str | None = None,
                      skip: int = 0, before: list | None = None) -> TimelinePage:
        """``size`` photos of the snapshot in timeline order: those after the sort values ``after`` (the previous
        page's last), or the ``size`` just before ``before`` (the next page's first: scrolling up), or from the
        ``skip``-th photo on counted from the start of ``month`` ("YYYY-MM", or UNDATED_MONTH; skip + size at most
        MAX_WINDOW: ES's result window)."""
        if before:
            resp = self._timeline_search(timeline, None, size, {"search_after": before}, source=SOURCE_FIELDS,
                                         sort=TIMELINE_REVERSED)
            hits = resp["hits"]["hits"][::-1]
        else:
            kwargs: dict = {"search_after": after} if after else {"from_": skip} if skip else {}
            hits = self._timeline_search(timeline, month, size, kwargs, source=SOURCE_FIELDS)["hits"]["hits"]
        return TimelinePage([_hit(h, score=0.0) for h in hits], hits[-1]["sort"] if hits else None,
                            hits[0]["sort"] if hits else None)

    def timeline_seek(self, timeline: Timeline, count: int, after: list | None = None,
                      month: str | None = None) -> list | None:
        """The sort values of the ``count``-th photo after ``after`` (or from the start of ``month``), read
        MAX_WINDOW at a time without their documents: how a page deep inside a huge month is reached."""
        while count > 0:
            step = min(count, MAX_WINDOW)
            kwargs = {"search_after": after} if after else {}
            hits = self._timeline_search(timeline, None if after else month, step, kwargs, source=False,
                                         filter_path="pit_id,hits.hits.sort")["hits"]["hits"]
            if not hits:
                return after
            after, count = hits[-1]["sort"], count - len(hits)
        return after

    def timeline_paths(self, timeline: Timeline, page: int = MAX_WINDOW) -> list[str]:
        """The path of every photo in the snapshot, in timeline order, read ``page`` at a time with no other field:
        what an action on the whole timeline (Ctrl+A) acts on, without a page of documents held for each."""
        paths: list[str] = []
        after = None
        while True:
            kwargs = {"search_after": after} if after else {}
            resp = self._timeline_search(timeline, None, page, kwargs, source=["path", "path_b64"],
                                         filter_path="pit_id,hits.hits._source,hits.hits.sort")
            hits = resp.get("hits", {}).get("hits", [])  # filter_path leaves out an empty list altogether
            if not hits:
                return paths
            paths += [path_from_source(h["_source"]) for h in hits]
            after = hits[-1]["sort"]

    def _timeline_search(self, timeline: Timeline, month: str | None, size: int, kwargs: dict,
                         sort: list = TIMELINE_SORT, **more) -> dict:
        extra = [] if month is None else [_from_month(month)]
        try:
            resp = self._retrying(lambda: self.client.search(
                pit={"id": timeline.pit, "keep_alive": TIMELINE_KEEP_ALIVE},
                query=self._timeline_query(timeline.filters, *extra), sort=sort, size=size,
                track_total_hits=False, **kwargs, **more), "read")
        except NotFoundError as exc:  # the snapshot expired (nobody scrolled for a while): open a new one
            raise SnapshotExpired("the timeline's snapshot expired") from exc
        timeline.pit = resp.get("pit_id", timeline.pit)
        return resp

    def close_timeline(self, timeline: Timeline) -> None:
        with contextlib.suppress(ApiError, TransportError):  # it expires by itself anyway
            self.client.close_point_in_time(id=timeline.pit)

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
    word, each exact, one typo off or a prefix of the photo's word (what is typed so far); photos holding every free
    word so are marked EVERY_WORD; exact words, and words side by side, rank higher."""
    must: list[dict] = [{"match_phrase": {"text": phrase}} for phrase in words.phrases]
    should: list[dict] = []
    free = words.words.split()[:MAX_WORDS]
    if free:
        each = [_word_clause(w) for w in free]
        must.append({"bool": {"should": each, "minimum_should_match": 1}})
        should += [{"bool": {"must": each, "_name": EVERY_WORD}},
                   {"match": {"text": {"query": " ".join(free), "operator": "and", "boost": 2.0}}},
                   {"match_phrase": {"text": {"query": " ".join(free), "slop": 2}}}]
    return {"must": must, "should": should}


@dataclass
class WordsHit:
    hit: Hit  # score: the text match's relevance
    every_word: bool  # its text holds every word of the query
    vector: list[float] | None = None  # its stored CLIP vector, when asked for (to fuse with a kNN ranking)


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
