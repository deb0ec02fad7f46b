"""[D] Several computers share one index: each installation's library id keeps its documents apart, and a schema
change copies the stored vectors across instead of re-embedding (real node, real files)."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from imgsearch_desktop.config import AppDirs, Settings, library_id
from imgsearch_desktop.core.dupes import DupeFinder
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import SCHEMA_VERSION, Filters, PhotoDoc, Store, doc_id, path_from_source
from imgsearch_desktop.core.store import schema as schema_module
from imgsearch_desktop.core.watcher import ChangeSet
from imgsearch_desktop.errors import IndexConflict, UsageError
from tests.photos import write_photo


def folder_of(root: Path, n: int, seed: int) -> Path:
    for i in range(n):
        write_photo(root / f"p{i:02d}.jpg", seed + i, size=(96, 72))
    return root


def all_docs(client, alias: str) -> list[dict]:
    """Every document behind the alias, whoever wrote it."""
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, size=1000, query={"match_all": {}})["hits"]["hits"]
    return [{**h["_source"], "_id": h["_id"]} for h in hits]


def drop_alias(client, alias: str) -> None:
    for name in client.indices.get(index=f"{alias}-*"):  # the node refuses wildcard deletes
        client.indices.delete(index=name)


@pytest.fixture
def alias(es_client):
    name = f"libs-{uuid.uuid4().hex[:8]}"
    yield name
    drop_alias(es_client, name)


def test_two_libraries_in_one_index_stay_apart(es_client, embedder, alias, tmp_path):
    photos = folder_of(tmp_path / "Pictures", 6, seed=700)  # the same paths on both computers
    anna, ben = Store(es_client, alias, library="anna"), Store(es_client, alias, library="ben")
    anna.use_index(embedder.model_id, embedder.dims)
    ben.use_index(embedder.model_id, embedder.dims)
    assert anna.index == ben.index
    assert Indexer(anna, embedder).run([photos]).indexed == 6
    theirs = Indexer(ben, embedder).run([photos])
    assert (theirs.indexed, theirs.unchanged, theirs.reused, theirs.embedded) == (6, 0, 0, 6)  # nothing of anna's

    docs = all_docs(es_client, alias)
    assert len(docs) == 12 and len({d["_id"] for d in docs}) == 12
    assert Counter(path_from_source(d) for d in docs) == {str(photos / f"p{i:02d}.jpg"): 2 for i in range(6)}
    assert {d["_id"] for d in docs if d["library"] == "anna"} == {doc_id(str(p), "anna") for p in photos.iterdir()}
    assert (anna.count(), ben.count()) == (6, 6)
    assert len(anna.indexed_files([str(photos)])) == 6 and len(DupeFinder(anna).photos()) == 6

    # Search: its own by default, everyone's when asked.
    query = np.asarray(docs[0]["image_embedding"], dtype=np.float32)
    own = anna.knn(query, k=20)
    assert len(own) == 6 and {h.library for h in own} == {"anna"}
    everyone = anna.knn(query, k=20, filters=Filters(all_libraries=True))
    assert len(everyone) == 12 and Counter(h.library for h in everyone) == {"anna": 6, "ben": 6}

    # Plan and removal on one computer never touch the other's documents.
    (photos / "p00.jpg").unlink()
    gone = Indexer(anna, embedder).run([photos])
    assert (gone.removed, gone.unchanged, gone.indexed) == (1, 5, 0)
    assert Indexer(anna, embedder).apply(ChangeSet(deleted={str(photos / "p01.jpg")})).removed == 0  # still there
    (photos / "p01.jpg").unlink()
    assert Indexer(anna, embedder).apply(ChangeSet(deleted={str(photos / "p01.jpg")})).removed == 1
    assert Indexer(anna, embedder).remove_paths([str(photos)]) == 4
    anna.refresh()
    assert (anna.count(), ben.count()) == (0, 6)
    assert {path_from_source(d) for d in all_docs(es_client, alias)} == {str(photos / f"p{i:02d}.jpg")
                                                                         for i in range(6)}
    assert ben.indexed_source(str(photos / "p00.jpg")) is not None and anna.indexed_source(str(photos / "p00.jpg")) \
        is None


def old_schema(monkeypatch, labelled: bool) -> None:
    """Make this process write as the previous schema did (schema 1: no ``library`` field when not labelled)."""
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION - 1)
    if labelled:
        return
    mapping = schema_module.mapping

    def without_library(*args) -> dict:
        body = mapping(*args)
        del body["properties"]["library"]
        return body

    source = PhotoDoc.source

    def unlabelled(self) -> dict:
        return {k: v for k, v in source(self).items() if k != "library"}

    monkeypatch.setattr(schema_module, "mapping", without_library)
    monkeypatch.setattr(PhotoDoc, "source", unlabelled)


def test_schema_change_copies_the_stored_vectors_instead_of_re_embedding(es_client, embedder, alias, tmp_path,
                                                                         monkeypatch):
    a = folder_of(tmp_path / "A", 5, seed=800)
    b = folder_of(tmp_path / "B", 3, seed=810)
    with monkeypatch.context() as patch:  # an index as the previous version wrote it
        old_schema(patch, labelled=False)
        old = Store(es_client, alias)
        old.use_index(embedder.model_id, embedder.dims)
        assert Indexer(old, embedder).run([a, b]).embedded == 8
    before = {path_from_source(d): d for d in all_docs(es_client, alias)}
    assert "library" not in next(iter(before.values()))
    os.utime(a / "p00.jpg", ns=(1_000_000_000, 1_000_000_000))  # changed since (mtime): this one is re-embedded

    new = Store(es_client, alias, library="anna")
    new.use_index(embedder.model_id, embedder.dims)
    assert (new.migrate_from, new.migrate_same_model) == (old.index, True)
    stats = Indexer(new, embedder).run([a])  # B is carried over too, though not named on this run
    assert (stats.embedded, stats.copied, stats.indexed, stats.failed) == (1, 7, 1, 0)
    assert list(es_client.indices.get_alias(name=alias)) == [new.index]
    assert not es_client.indices.exists(index=old.index)
    after = {path_from_source(d): d for d in all_docs(es_client, alias)}
    assert set(after) == set(before) and {d["library"] for d in after.values()} == {"anna"}
    for path, doc in before.items():
        if path != str(a / "p00.jpg"):
            assert after[path]["image_embedding"] == doc["image_embedding"] and after[path]["phash"] == doc["phash"]
            assert {k: after[path][k] for k in ("sha256", "size", "mtime_ns", "width", "root", "relative_path")} == \
                {k: doc[k] for k in ("sha256", "size", "mtime_ns", "width", "root", "relative_path")}

    again = Indexer(new, embedder).run([a, b])
    assert (again.embedded, again.copied, again.unchanged) == (0, 0, 8)


def test_a_shared_index_migrates_library_by_library(es_client, embedder, alias, tmp_path, monkeypatch):
    photos = folder_of(tmp_path / "Pictures", 4, seed=900)
    with monkeypatch.context() as patch:
        old_schema(patch, labelled=True)
        for who in ("anna", "ben"):
            old = Store(es_client, alias, library=who)
            old.use_index(embedder.model_id, embedder.dims)
            Indexer(old, embedder).run([photos])
    anna = Store(es_client, alias, library="anna")
    anna.use_index(embedder.model_id, embedder.dims)
    first = Indexer(anna, embedder).run([photos])
    assert (first.embedded, first.copied) == (0, 4)
    assert list(es_client.indices.get_alias(name=alias)) == [anna.index]
    assert es_client.indices.exists(index=old.index)  # ben's documents wait there for ben

    ben = Store(es_client, alias, library="ben")
    ben.use_index(embedder.model_id, embedder.dims)  # the alias moved already: ben catches up from the old index
    assert ben.migrate_from == old.index and ben.migrate_same_model
    second = Indexer(ben, embedder).run([photos])
    assert (second.embedded, second.copied) == (0, 4)
    assert not es_client.indices.exists(index=old.index)
    assert Counter(d["library"] for d in all_docs(es_client, alias)) == {"anna": 4, "ben": 4}


def test_a_model_change_is_refused_on_an_index_other_libraries_share(es_client, embedder, alias, tmp_path):
    photos = folder_of(tmp_path / "Pictures", 2, seed=950)
    ben = Store(es_client, alias, library="ben")
    ben.use_index(embedder.model_id, embedder.dims)
    Indexer(ben, embedder).run([photos])
    with pytest.raises(IndexConflict, match="shared with 1 other library"):
        Store(es_client, alias, library="anna").use_index("another/model", 16)
    assert list(es_client.indices.get_alias(name=alias)) == [ben.index] and ben.count() == 2


def test_library_id_is_made_once_and_can_be_set(tmp_path, monkeypatch):
    dirs = AppDirs.resolve(tmp_path / "home")
    first = library_id(dirs, Settings())
    assert len(first) == 32 and library_id(dirs, Settings()) == first
    assert (dirs.data / "library-id").read_text().strip() == first
    assert library_id(dirs, Settings(library_id="office-mac")) == "office-mac"
    monkeypatch.setenv("IMGSEARCH_LIBRARY_ID", "laptop-2")
    assert library_id(dirs, Settings.load(dirs)) == "laptop-2"
    monkeypatch.setenv("IMGSEARCH_LIBRARY_ID", "no spaces/please")
    with pytest.raises(UsageError, match="IMGSEARCH_LIBRARY_ID: invalid library id"):
        Settings.load(dirs)
    (dirs.data / "library-id").write_text("\x00garbage")
    monkeypatch.delenv("IMGSEARCH_LIBRARY_ID")
    fresh = library_id(dirs, Settings.load(dirs))
    assert fresh != first and any(p.name.startswith("library-id.corrupt-") for p in dirs.data.iterdir())
