"""Bulk writes: whole documents (``write``), partial updates (``update_fields``) and deletes, with the item
failures a cluster heals by itself sent again."""

from __future__ import annotations

import time
from collections.abc import Sequence

from elasticsearch import helpers

from imgsearch_desktop.core.store.connection import StoreBase
from imgsearch_desktop.core.store.schema import PhotoDoc
from imgsearch_desktop.errors import UserError

# Bulk item failures that heal by themselves on a cluster (a node left, a replica is being promoted): retried.
TRANSIENT_STATUS = {502, 503, 504}
TRANSIENT_ERRORS = {"unavailable_shards_exception", "node_not_connected_exception", "node_disconnected_exception",
                    "node_closed_exception", "connect_transport_exception", "no_shard_available_action_exception",
                    "primary_missing_action_exception", "shard_not_in_primary_mode_exception"}


class Writes(StoreBase):
    """The writes of ``Store``; ids are deterministic, so a document sent again overwrites itself."""

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
