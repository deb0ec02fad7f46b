"""The index on a real Elasticsearch node: mapping, versioned alias, foreign indices, kNN maths and filters."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from imgsearch_desktop import APP_NAME
from imgsearch_desktop.core.store import (
    SCHEMA_VERSION,
    Filters,
    PhotoDoc,
    Store,
    concrete_name,
    cosine_from_score,
    doc_id,
)
from imgsearch_desktop.errors import IndexConflict
from tests.conftest import TINY_DIMS


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def put_vectors(store: Store, vectors: np.ndarray, **fields) -> list[str]:
    docs, paths = [], []
    for i, vec in enumerate(vectors):
        path = f"/photos/{'a' if i % 2 else 'b'}/img{i:03d}.jpg"
        paths.append(path)
        docs.append(PhotoDoc(path=path, root="/photos", library=store.library, sha256=str(i), vector=vec.tolist(),
                             size=1, mtime_ns=1, width=10, height=10, format="PNG" if i % 3 == 0 else "JPEG",
                             taken_at=f"2020-01-{1 + i % 28:02d}T00:00:00", **fields))
    assert store.write(docs) == []
    store.refresh()
    return paths


def test_mapping_meta_and_dims_from_model(store, embedder):
    mapping = store.client.indices.get_mapping(index=store.alias)
    (index_name, body), = mapping.items()
    assert index_name == concrete_name(store.alias, embedder.image_model_name, TINY_DIMS)
    meta = body["mappings"]["_meta"]
    assert meta == {"app": APP_NAME, "schema": SCHEMA_VERSION, "model": embedder.image_model_name, "dims": TINY_DIMS,
                    "alias": store.alias}
    props = body["mappings"]["properties"]
    vec = props["image_embedding"]
    assert (vec["dims"], vec["similarity"], vec["index_options"]["type"]) == (TINY_DIMS, "cosine", "int8_hnsw")
    assert props["phash"]["element_type"] == "bit" and props["phash"]["dims"] == 256
    for keyword in ("image_id", "image_name", "relative_path", "path", "folder", "sha256", "format"):
        assert props[keyword]["type"] == "keyword"
    settings = store.client.indices.get_settings(index=store.alias)[index_name]["settings"]["index"]
    assert settings["number_of_replicas"] == "0"


def test_knn_order_and_scores_equal_exact_cosine(store):
    rng = np.random.default_rng(3)
    centres = unit(rng.normal(size=(4, TINY_DIMS)))
    vectors = unit(centres[rng.integers(0, 4, 60)] + 0.35 * rng.normal(size=(60, TINY_DIMS)))
    paths = put_vectors(store, vectors)
    query = unit(rng.normal(size=TINY_DIMS))
    hits = store.knn(query, k=10)
    exact = vectors @ query
    order = np.argsort(-exact)[:10]
    assert [h.path for h in hits] == [paths[i] for i in order]
    assert np.allclose([h.score for h in hits], exact[order], atol=2e-3)  # cosine, not ES's (1+cos)/2


def test_filters_inside_knn(store):
    rng = np.random.default_rng(4)
    vectors = unit(rng.normal(size=(30, TINY_DIMS)))
    put_vectors(store, vectors)
    query = vectors[0]
    in_a = store.knn(query, k=30, filters=Filters(folders=["/photos/a"]))
    assert in_a and all(h.path.startswith("/photos/a/") for h in in_a) and len(in_a) == 15
    pngs = store.knn(query, k=30, filters=Filters(formats=["png"]))
    assert len(pngs) == 10 and all(h.format == "PNG" for h in pngs)
    early = store.knn(query, k=30, filters=Filters(date_from="2020-01-01", date_to="2020-01-05"))
    assert len(early) == sum(1 + i % 28 <= 5 for i in range(30))
    assert all(h.taken_at <= "2020-01-05T00:00:00" for h in early)
    close = store.knn(query, k=30, min_score=0.5)
    assert close[0].score > 0.999 and all(h.score >= 0.5 for h in close)


def test_seed_reference_client_works_on_our_index(store):
    """The seed's "similar to an indexed image": term on image_id → vector → knn with fields, no _source."""
    rng = np.random.default_rng(5)
    vectors = unit(rng.normal(size=(8, TINY_DIMS)))
    paths = put_vectors(store, vectors)
    resp = store.client.search(index=store.alias, query={"term": {"image_id": doc_id(paths[2], store.library)}})
    vec = resp["hits"]["hits"][0]["_source"]["image_embedding"]
    knn = store.client.search(index=store.alias, knn={"field": "image_embedding", "query_vector": vec, "k": 3,
                                                       "num_candidates": 10},
                              fields=["image_id", "image_name", "relative_path"], source=False)
    first = knn["hits"]["hits"][0]
    assert first["fields"]["image_name"] == ["img002.jpg"] and cosine_from_score(first["_score"]) > 0.999


def test_foreign_index_is_refused_and_kept(es_client, embedder):
    name = f"foreign-{uuid.uuid4().hex[:8]}"
    es_client.indices.create(index=name, mappings={"properties": {"x": {"type": "keyword"}}})
    try:
        with pytest.raises(IndexConflict, match="not made by"):
            Store(es_client, name).use_index(embedder.image_model_name, embedder.dims)
        assert es_client.indices.exists(index=name)
    finally:
        es_client.indices.delete(index=name)


def test_model_change_gets_a_new_index_and_switches_alias_after(es_client):
    alias = f"mig-{uuid.uuid4().hex[:8]}"
    old = Store(es_client, alias)
    old_index = old.use_index("model-a", 8)
    new = Store(es_client, alias)
    new_index = new.use_index("model-b", 16)
    assert new_index != old_index and new.migrate_from == old_index
    assert list(es_client.indices.get_alias(name=alias)) == [old_index]  # still the old one until done
    new.finish_migration()
    assert list(es_client.indices.get_alias(name=alias)) == [new_index]
    assert not es_client.indices.exists(index=old_index)
    es_client.indices.delete(index=new_index)


def test_server_version_is_read_and_checked(store):
    version = store.check_server()
    assert version.startswith("8.") and store.server_version >= (8, 12)


def test_bulk_items_a_cluster_heals_are_sent_again(monkeypatch):
    """A node died mid-bulk: items that failed with 503 / a lost shard copy are retried; others are reported."""
    calls: list[list[str]] = []
    docs = {name: PhotoDoc(path=f"/p/{name}.jpg", root="/p", library="lib", sha256=name, vector=[1.0], size=1,
                           mtime_ns=1) for name in ("a", "b", "bad")}
    name_of = {d.doc_id: name for name, d in docs.items()}

    def fake_bulk(client, actions, **kwargs):
        assert all(a["_source"]["path"] == f"/p/{name_of[a['_id']]}.jpg" for a in actions)
        calls.append([name_of[a["_id"]] for a in actions])
        for a in actions:
            if name_of[a["_id"]] == "a" and len(calls) < 3:
                yield False, {"index": {"_id": a["_id"], "status": 503, "error": {
                    "type": "unavailable_shards_exception", "reason": "primary shard is not active"}}}
            elif name_of[a["_id"]] == "bad":
                yield False, {"index": {"_id": a["_id"], "status": 400, "error": {
                    "type": "document_parsing_exception", "reason": "strict mapping"}}}
            else:
                yield True, {"index": {"_id": a["_id"], "status": 201}}

    monkeypatch.setattr("imgsearch_desktop.core.store.writes.helpers.streaming_bulk", fake_bulk)
    waits: list[str] = []
    store = Store(None, "x", bulk_backoff=0.01, on_wait=waits.append)  # type: ignore[arg-type]
    errors = store.write(list(docs.values()))
    assert calls == [["a", "b", "bad"], ["a"], ["a"]]
    assert errors == [(docs["bad"].doc_id, "index failed (400): strict mapping")] and len(waits) == 2
    store.retry_for = 0.0  # past the deadline: reported, not retried for ever
    calls.clear()
    assert store.write([docs["a"]]) == [(docs["a"].doc_id, "index failed (503): primary shard is not active")]
