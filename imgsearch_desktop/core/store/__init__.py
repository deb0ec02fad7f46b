"""Everything that speaks Elasticsearch: connection, versioned index behind an alias, bulk writes, kNN.

One module a seam, and ``Store`` composed of them:
  schema      the document: ``mapping``, ``PhotoDoc``, ids, field lists, ``Hit``, ``path_from_source``
  connection  ``Connection`` (the client), ``StoreBase``: the server check and ``_retrying``
  writes      bulk writes, with the item failures a cluster heals sent again
  queries     every read: ``Filters``, kNN, text search, scans, look-ups by path and content
  timeline    the timeline's snapshot and pages
  migration   ``use_index``: the index found or made, a model or schema change migrated, ``finish_migration``
Every name importable from ``imgsearch_desktop.core.store`` before the split still is (re-exported here).
"""

from __future__ import annotations

from imgsearch_desktop.core.paths import readable_path
from imgsearch_desktop.core.store.connection import MIN_SERVER, Connection, StoreBase
from imgsearch_desktop.core.store.migration import MOVED_OUT, READY_WAIT_S, WATERMARK_HIGH, Migration
from imgsearch_desktop.core.store.queries import (
    EVERY_WORD,
    FUZZINESS,
    MAX_WORDS,
    RESCORE_SINCE,
    UNDATED,
    UNDATED_PHOTO,
    Filters,
    Reads,
    words_clauses,
)
from imgsearch_desktop.core.store.schema import (
    ANALYSIS_FIELDS,
    ANALYSIS_PROPERTIES,
    COPIED_FIELDS,
    DEFAULT_LIBRARY,
    FILE_FIELDS,
    PHASH_BITS,
    SCHEMA_VERSION,
    SOURCE_FIELDS,
    STORED_FIELDS,
    Hit,
    IndexedFile,
    PhotoDoc,
    WordsHit,
    concrete_name,
    cosine_from_score,
    doc_id,
    mapping,
    now_iso,
    path_b64,
    path_from_source,
    photo_date,
    root_from_source,
)
from imgsearch_desktop.core.store.timeline import (
    MAX_WINDOW,
    TIMELINE_KEEP_ALIVE,
    TIMELINE_REVERSED,
    TIMELINE_SORT,
    UNDATED_MONTH,
    SnapshotExpired,
    Timeline,
    TimelinePage,
    TimelineReads,
)
from imgsearch_desktop.core.store.writes import TRANSIENT_ERRORS, TRANSIENT_STATUS, Writes


class Store(Migration, TimelineReads, Writes):
    """One image index (an alias over a versioned concrete index) on one cluster.

    One class composed of mixins, one per seam, all on ``StoreBase`` (the client and ``_retrying``): ``Migration``
    (setup and migration), ``TimelineReads`` and ``Reads`` (every read), ``Writes`` (bulk writes). A mixin calls
    another's methods only through ``self``; the state is ``StoreBase.__init__``'s alone."""


__all__ = [
    "ANALYSIS_FIELDS", "ANALYSIS_PROPERTIES", "COPIED_FIELDS", "DEFAULT_LIBRARY", "EVERY_WORD", "FILE_FIELDS",
    "FUZZINESS", "MAX_WINDOW", "MAX_WORDS", "MIN_SERVER", "MOVED_OUT", "PHASH_BITS", "READY_WAIT_S", "RESCORE_SINCE",
    "SCHEMA_VERSION", "SOURCE_FIELDS", "STORED_FIELDS", "TIMELINE_KEEP_ALIVE", "TIMELINE_REVERSED", "TIMELINE_SORT",
    "TRANSIENT_ERRORS", "TRANSIENT_STATUS", "UNDATED", "UNDATED_MONTH", "UNDATED_PHOTO", "WATERMARK_HIGH",
    "Connection", "Filters", "Hit", "IndexedFile", "Migration", "PhotoDoc", "Reads", "SnapshotExpired", "Store",
    "StoreBase", "Timeline", "TimelinePage", "TimelineReads", "WordsHit", "Writes", "concrete_name",
    "cosine_from_score", "doc_id", "mapping", "now_iso", "path_b64", "path_from_source", "photo_date",
    "readable_path", "root_from_source", "words_clauses",
]
