"""[C3] No index entry is lost (real node, real files):

1. a schema migration of an index that several libraries share deletes the old index only once every library that
   has documents in it has said it is done: not while one library's folder is unreachable, not after one library's
   copy was killed half-way;
2. removing one of two nested library folders deletes only the documents no remaining folder covers.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import Store, path_from_source
from imgsearch_desktop.core.sync import FolderSync
from tests.core.test_libraries import all_docs, drop_alias, folder_of, old_schema


@pytest.fixture
def alias(es_client):
    name = f"kept-{uuid.uuid4().hex[:8]}"
    yield name
    drop_alias(es_client, name)


# ---------------------------------------------------------------- 1. a shared index's schema migration
def shared_old_index(es_client, embedder, alias: str, monkeypatch, libraries: dict[str, list[Path]]) -> str:
    """An index as the previous schema wrote it, shared by these libraries (id → folders); returns its name."""
    with monkeypatch.context() as patch:
        old_schema(patch, labelled=True)
        for who, roots in libraries.items():
            old = Store(es_client, alias, library=who)
            old.use_index(embedder.model_id, embedder.dims)
            Indexer(old, embedder).run(roots)
    return old.index


def current(es_client, embedder, alias: str, who: str) -> Store:
    """The library ``who`` opening the shared index with this (newer) schema."""
    store = Store(es_client, alias, library=who)
    store.use_index(embedder.model_id, embedder.dims)
    return store


def paths_of(client, index: str, who: str) -> set[str]:
    client.indices.refresh(index=index)
    hits = client.search(index=index, size=1000, query={"term": {"library": who}})["hits"]["hits"]
    return {path_from_source(h["_source"]) for h in hits}


def test_a_library_with_an_unreachable_folder_keeps_the_old_index(es_client, embedder, alias, tmp_path, monkeypatch):
    a = folder_of(tmp_path / "A", 3, seed=1100)
    b1, b2 = folder_of(tmp_path / "B1", 3, seed=1110), folder_of(tmp_path / "drive" / "B2", 3, seed=1120)
    old = shared_old_index(es_client, embedder, alias, monkeypatch, {"libA": [a], "libB": [b1, b2]})
    b_paths = paths_of(es_client, old, "libB")
    assert len(b_paths) == 6

    assert Indexer(current(es_client, embedder, alias, "libA"), embedder).run([a]).copied == 3
    (tmp_path / "drive").rename(tmp_path / "unplugged")  # B's second folder is unreachable on B's run
    ben = Indexer(current(es_client, embedder, alias, "libB"), embedder).run([b1, b2])
    assert (ben.copied, ben.removed, ben.unreachable_folders) == (3, 0, [(str(b2), "no such file or folder")])

    again = Indexer(current(es_client, embedder, alias, "libA"), embedder).run([a])  # A again: B is not done
    assert (again.embedded, again.removed) == (0, 0)
    assert es_client.indices.exists(index=old) and paths_of(es_client, old, "libB") == b_paths

    (tmp_path / "unplugged").rename(tmp_path / "drive")  # back: B copies the rest, then the old index goes
    ben = Indexer(current(es_client, embedder, alias, "libB"), embedder).run([b1, b2])
    assert (ben.copied, ben.embedded, ben.removed) == (3, 0, 0)
    assert not es_client.indices.exists(index=old)
    assert paths_of(es_client, alias, "libB") == b_paths
    assert Counter(d["library"] for d in all_docs(es_client, alias)) == {"libA": 3, "libB": 6}
    meta = next(iter(es_client.indices.get_mapping(index=alias).values()))["mappings"]["_meta"]
    assert meta["model"] == embedder.model_id and not meta.get("moved_out")  # the record went with the old index


class Killed(Exception):
    """Stands for kill -9: nothing after the raising point runs (no clean-up, no "done")."""


def test_a_library_killed_mid_copy_keeps_the_old_index(es_client, embedder, alias, tmp_path, monkeypatch):
    a = folder_of(tmp_path / "A", 2, seed=1200)
    b = folder_of(tmp_path / "B", 12, seed=1210)
    old = shared_old_index(es_client, embedder, alias, monkeypatch, {"libA": [a], "libB": [b]})
    b_paths = paths_of(es_client, old, "libB")
    Indexer(current(es_client, embedder, alias, "libA"), embedder).run([a])

    copier = Indexer(current(es_client, embedder, alias, "libB"), embedder)
    copier.copy_batch = 5

    def killed_after_first_batch(done: int, total: int, phase: str) -> bool:
        if phase.startswith("copied"):
            raise Killed
        return True

    with pytest.raises(Killed):
        copier.run([b], progress=killed_after_first_batch)
    assert len(paths_of(es_client, alias, "libB")) == 5  # the copy stopped half-way

    Indexer(current(es_client, embedder, alias, "libA"), embedder).run([a])  # A again: B is not done
    assert es_client.indices.exists(index=old) and paths_of(es_client, old, "libB") == b_paths

    ben = Indexer(current(es_client, embedder, alias, "libB"), embedder).run([b])
    assert (ben.copied, ben.embedded, ben.unchanged) == (7, 0, 5)
    assert not es_client.indices.exists(index=old)
    assert paths_of(es_client, alias, "libB") == b_paths


# ---------------------------------------------------------------- 2. nested library folders
@pytest.fixture
def nested(store, embedder, tmp_path) -> tuple[Path, Path, FolderSync]:
    """Library folders /p and /p/sub, indexed: 3 photos in /p itself, 4 in /p/sub."""
    p = folder_of(tmp_path / "p", 3, seed=1300)
    sub = folder_of(p / "sub", 4, seed=1310)
    sync = FolderSync(lambda change: None, on_error=print, indexer=Indexer(store, embedder))
    assert sync.scan([str(p), str(sub)]).indexed == 7
    return p, sub, sync


def test_removing_a_subfolder_keeps_the_photos_its_parent_covers(nested, store):
    p, sub, sync = nested
    assert sync.forget([str(sub)], remaining=[str(p)]).removed == 0
    assert len(store.indexed_files([str(sub)])) == 4 and store.count() == 7


def test_removing_a_parent_keeps_the_subfolder_that_stays(nested, store):
    p, sub, sync = nested
    assert sync.forget([str(p)], remaining=[str(sub)]).removed == 3
    assert set(store.indexed_files([str(p)])) == {str(sub / f"p{i:02d}.jpg") for i in range(4)}
    assert sync.forget([str(sub)], remaining=[]).removed == 4 and store.count() == 0  # the last one goes: all go
