"""The index behind the alias: found or made for a model (``use_index``), waited for until its primary shard has
started, and migrated when the model or the schema changes: each library sharing the index copies or re-embeds its
own documents, is recorded as done in the new index's ``_meta``, and the old index goes once every library it holds
is done (``finish_migration``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from elasticsearch import ApiError, AuthorizationException, BadRequestError, TransportError

from imgsearch_desktop import APP_NAME
from imgsearch_desktop.core.paths import path_bytes, readable_path

# SCHEMA_VERSION, mapping and concrete_name are read through the module, when called: a test that writes an index as
# an older version did patches them in ``schema`` alone.
from imgsearch_desktop.core.store import schema
from imgsearch_desktop.core.store.queries import Reads
from imgsearch_desktop.core.store.schema import (
    ANALYSIS_PROPERTIES,
    STORED_FIELDS,
    path_from_source,
    root_from_source,
)
from imgsearch_desktop.errors import DiskFull, IndexConflict, IndexNotReady, UserError

# In a migrated index's _meta: {old index: [library ids done moving out of it]}; the old index goes once it holds
# no other library's documents.
MOVED_OUT = "moved_out"
READY_WAIT_S = 30.0  # the longest a new or recovering index may take to start its primary shard
WATERMARK_HIGH = "cluster.routing.allocation.disk.watermark.high"  # above it no new index is placed on a node


class Migration(Reads):
    """Opening, attaching, migrating and dropping the index: the setup of ``Store``."""

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
        target = schema.concrete_name(self.alias, model, dims)
        if self.client.indices.exists(index=self.alias) and not self.client.indices.exists_alias(name=self.alias):
            meta = self._meta_of(self.alias)
            if meta.get("app") != APP_NAME:
                raise IndexConflict(f"index {self.alias!r} exists and was not made by {APP_NAME}: "
                                    f"pick another name with --index (it is left untouched)")
            if meta.get("model") == model and meta.get("dims") == dims and meta.get("schema") == schema.SCHEMA_VERSION:
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
                self.client.indices.create(index=target, mappings=schema.mapping(dims, model, self.alias),
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
        if int(meta.get("schema") or 0) > schema.SCHEMA_VERSION:
            raise IndexConflict(f"index {self.alias!r} was written by a newer {APP_NAME} (schema {meta['schema']}, "
                                f"this one has {schema.SCHEMA_VERSION}), perhaps on another computer sharing this "
                                f"cluster: update {APP_NAME} here")
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

    def files_to_migrate(self) -> Iterator[tuple[str, str]]:
        """(path, root) of every file in the index a model change migrates from (none when not migrating)."""
        if not self.migrate_from:
            return
        for hit in self.scan_docs({"match_all": {}}, ["path", "path_b64", "root", "relative_path"],
                                  index=self.migrate_from):
            yield path_from_source(hit["_source"]), root_from_source(hit["_source"])

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
