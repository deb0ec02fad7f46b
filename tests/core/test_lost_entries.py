"""[C1] Index entries are removed only when their files are known to be gone (real node, real files).

1. a model change, then ``index`` of one folder, re-embeds every indexed folder before the alias moves;
2. sibling folders whose non-UTF-8 names read the same once decoded do not remove each other's entries;
3. an unreadable folder (EACCES), like an unplugged drive, keeps its entries ("unreachable"), nothing re-embedded;
4. ``watch``: a file replaced by a folder of the same name loses its entry, and the folder's photos get indexed.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from imgsearch_desktop.core.embedder import Embedder
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.scanner import probe
from imgsearch_desktop.core.store import Store, path_from_source
from imgsearch_desktop.core.watcher import ChangeSet, FolderWatcher
from imgsearch_desktop.devtools.random_models import build_clip
from tests.photos import write_photo


def folder_of(root: Path, n: int, seed: int) -> Path:
    for i in range(n):
        write_photo(root / f"p{i:02d}.jpg", seed + i, size=(96, 72))
    return root


def docs(store: Store, index: str | None = None) -> dict[str, dict]:
    store.client.indices.refresh(index=index or store.alias)
    resp = store.client.search(index=index or store.alias, size=1000, version=True, query={"match_all": {}})
    return {path_from_source(h["_source"]): {**h["_source"], "_version": h["_version"]} for h in resp["hits"]["hits"]}


def bytes_dir(parent: Path, name: bytes) -> Path:
    """A folder whose name is not valid UTF-8 (e.g. Latin-1 'café' from an old camera card)."""
    return Path(os.fsdecode(os.fsencode(parent) + b"/" + name))


# ---------------------------------------------------------------- 1. model change, then one folder
@pytest.fixture(scope="module")
def other_model(tmp_path_factory) -> Embedder:
    path = build_clip(tmp_path_factory.mktemp("clip16") / "clip16", dims=16, seed=5)
    return Embedder(str(path), str(path), device="cpu")


def test_model_change_then_one_folder_keeps_the_other_folders(es_client, embedder, other_model, tmp_path):
    alias = f"c1-model-{uuid.uuid4().hex[:8]}"
    a = folder_of(bytes_dir(tmp_path, b"caf\xe9"), 5, seed=10)  # its `root` field is lossy: recovered from path_b64
    folder_of(a / "sub", 2, seed=20)
    b = folder_of(tmp_path / "B", 3, seed=30)
    old = Store(es_client, alias)
    old.use_index(embedder.model_id, embedder.dims)
    assert Indexer(old, embedder).run([a, b]).indexed == 10
    before = docs(old)

    new = Store(es_client, alias)
    new.use_index(other_model.model_id, other_model.dims)
    stats = Indexer(new, other_model).run([b])  # `IMGSEARCH_IMAGE_MODEL=<other> index B`
    assert (stats.embedded, stats.indexed, stats.removed, stats.unreachable) == (10, 10, 0, 0)
    assert list(es_client.indices.get_alias(name=alias)) == [new.index]
    assert not es_client.indices.exists(index=old.index)  # gone only after the switch
    after = docs(new)
    assert set(after) == set(before)  # A's entries were carried over, not lost
    for path, doc in before.items():  # same root, relative_path and id, new model's vector
        assert (after[path]["root"], after[path]["relative_path"]) == (doc["root"], doc["relative_path"])
        assert len(after[path]["image_embedding"]) == 16
    assert after[str(a / "sub" / "p01.jpg")]["relative_path"] == "sub/p01.jpg"

    again = Indexer(new, other_model).run([b])
    assert (again.embedded, again.unchanged, again.removed) == (0, 3, 0) and len(docs(new)) == 10
    new.drop()


def test_model_change_waits_while_a_root_is_unreachable(es_client, embedder, other_model, tmp_path):
    alias = f"c1-wait-{uuid.uuid4().hex[:8]}"
    a = folder_of(tmp_path / "drive" / "A", 4, seed=40)
    b = folder_of(tmp_path / "B", 3, seed=50)
    old = Store(es_client, alias)
    old.use_index(embedder.model_id, embedder.dims)
    Indexer(old, embedder).run([a, b])
    (tmp_path / "drive").rename(tmp_path / "unplugged")  # A's drive is unplugged

    new = Store(es_client, alias)
    new.use_index(other_model.model_id, other_model.dims)
    stats = Indexer(new, other_model).run([b])
    assert (stats.embedded, stats.removed) == (3, 0)
    assert str(a) in stats.switch_refused and stats.unreachable_folders == [(str(a), "no such file or folder")]
    assert list(es_client.indices.get_alias(name=alias)) == [old.index]  # search stays on the old, complete index
    assert len(docs(old, old.index)) == 7

    (tmp_path / "unplugged").rename(tmp_path / "drive")  # plugged back in: only A is embedded now
    stats = Indexer(new, other_model).run([b])
    assert (stats.embedded, stats.unchanged, stats.removed, stats.switch_refused) == (4, 3, 0, "")
    assert list(es_client.indices.get_alias(name=alias)) == [new.index] and len(docs(new)) == 7
    assert not es_client.indices.exists(index=old.index)
    new.drop()


# ---------------------------------------------------------------- 2. non-UTF-8 sibling folders
def test_sibling_folders_with_non_utf8_names_keep_each_others_entries(store, embedder, tmp_path):
    e9, ff = bytes_dir(tmp_path, b"caf\xe9"), bytes_dir(tmp_path, b"caf\xff")  # both display as "caf\ufffd"
    folder_of(e9, 3, seed=60)
    folder_of(ff, 3, seed=70)
    indexer = Indexer(store, embedder)
    assert indexer.run([e9, ff]).indexed == 6
    for _ in range(2):  # the loss used to flip between the two folders on every run
        for folder in (e9, ff):
            stats = indexer.run([folder])
            assert (stats.removed, stats.unchanged, stats.embedded) == (0, 3, 0)
    assert len(docs(store)) == 6
    assert set(store.indexed_files([str(e9)])) == {str(e9 / f"p{i:02d}.jpg") for i in range(3)}

    (ff / "p00.jpg").unlink()
    assert indexer.run([e9]).removed == 0  # not e9's business
    assert indexer.run([ff]).removed == 1
    assert indexer.remove_paths([str(e9)]) == 3 and set(docs(store)) == {str(ff / "p01.jpg"), str(ff / "p02.jpg")}


# ---------------------------------------------------------------- 3. unreadable folder
def unprivileged() -> list[str]:
    """A command prefix under which a chmod 000 folder really fails os.scandir with EACCES.

    Tests run as root, and root reads any folder through two capabilities, CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH. `setpriv` drops both from the child (and from what it could regain): it stays uid 0 with
    the same files, environment and models, but the kernel now applies the folder's mode bits to it as to any user.
    No fake: the scanner's real os.scandir gets the real EACCES. (Running as `nobody` would also need every test
    directory, model and the venv opened up to it; this changes only the one thing under test.)
    """
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot make a folder unreadable")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


def test_unreadable_folder_keeps_its_entries_and_nothing_is_reembedded(store, embedder, cli_env, tmp_path):
    lib = folder_of(tmp_path / "Pictures", 2, seed=80)
    locked = folder_of(lib / "2019", 4, seed=90)
    first = Indexer(store, embedder).run([lib])
    assert (first.indexed, first.embedded) == (6, 6)
    before = docs(store)

    locked.chmod(0)
    try:
        check = subprocess.run([*unprivileged(), sys.executable, "-c",
                                "import sys; from imgsearch_desktop.core.scanner import probe; "
                                "print(probe(sys.argv[1], sys.argv[2]).unreachable)",
                                str(locked / "p00.jpg"), str(lib)], capture_output=True, text=True, timeout=60)
        assert check.stdout.strip() == repr((str(locked), "folder unreadable: Permission denied")), check.stderr
        env = {**cli_env, "IMGSEARCH_INDEX": store.alias, "IMGSEARCH_LIBRARY_ID": store.library}  # same computer
        out = subprocess.run([*unprivileged(), sys.executable, "-m", "imgsearch_desktop", "index", str(lib)],
                             env=env, capture_output=True, text=True, timeout=300)
    finally:
        locked.chmod(0o755)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert f"unreachable {locked}: folder unreadable: Permission denied (its entries are kept)" in lines
    assert lines[-1].startswith("indexed 0, unchanged 2, moved 0, removed 0, skipped 0, unreachable 1 · ")
    after = docs(store)  # every entry kept, none re-embedded (the readable ones may gain their faces: a partial
    assert after.keys() == before.keys()  # update of the analysis fields, not a new embedding)
    assert all(after[p]["image_embedding"] == before[p]["image_embedding"] for p in before)
    assert all(after[p]["_version"] == before[p]["_version"] for p in before if p.startswith(str(locked)))

    again = Indexer(store, embedder).run([lib])  # readable again: nothing to re-embed
    assert (again.embedded, again.indexed, again.unchanged, again.removed, again.unreachable) == (0, 0, 6, 0, 0)


def test_unplugged_root_reported_deleted_by_the_watcher_keeps_its_entries(store, embedder, tmp_path):
    drive = folder_of(tmp_path / "drive" / "Photos", 3, seed=100)
    indexer = Indexer(store, embedder)
    indexer.run([drive])
    (tmp_path / "drive").rename(tmp_path / "elsewhere")
    stats = indexer.apply(ChangeSet(deleted={str(drive)}), [str(drive)])
    assert (stats.removed, stats.unreachable) == (0, 1) and len(docs(store)) == 3
    assert probe(str(drive / "p00.jpg"), str(drive)).unreachable == (str(drive), "no such file or folder")


def test_dangling_folder_symlink_keeps_its_entries(store, embedder, tmp_path):
    """A folder symlinked from the library to a drive that is not mounted is unreachable, not emptied."""
    target = folder_of(tmp_path / "mnt" / "card", 2, seed=110)
    lib = folder_of(tmp_path / "lib", 1, seed=120)
    os.symlink(target, lib / "card")
    indexer = Indexer(store, embedder)
    assert indexer.run([lib]).indexed == 3
    (tmp_path / "mnt").rename(tmp_path / "unmounted")
    stats = indexer.run([lib])
    assert (stats.removed, stats.unreachable_folders) == (0, [(str(lib / "card"), stats.unreachable_folders[0][1])])
    assert len(docs(store)) == 3


# ---------------------------------------------------------------- 4. watch: a file replaced by a folder
def merged(changes: queue.Queue, first_timeout: float = 15, quiet: float = 2.0) -> ChangeSet:
    out = ChangeSet()
    got = changes.get(timeout=first_timeout)
    while True:
        out.changed |= got.changed
        out.deleted |= got.deleted
        out.moved += got.moved
        try:
            got = changes.get(timeout=quiet)
        except queue.Empty:
            return out


def test_watch_file_replaced_by_a_folder_of_the_same_name(store, embedder, tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    changes: queue.Queue[ChangeSet] = queue.Queue()
    watcher = FolderWatcher(changes.put, debounce=0.5, stable_for=0.5)
    watcher.start([str(folder)])
    indexer, roots = Indexer(store, embedder), [str(folder)]
    try:
        name = folder / "2024.jpg"
        write_photo(name, 130)
        assert indexer.apply(merged(changes), roots).indexed == 1

        name.unlink()
        name.mkdir()
        write_photo(name / "inside.jpg", 131)
        stats = indexer.apply(merged(changes), roots)
        assert (stats.removed, stats.indexed, stats.embedded) == (1, 1, 1)
        assert set(docs(store)) == {str(name / "inside.jpg")}

        shutil.rmtree(name)  # and back: a folder replaced by a file of its name loses the folder's entries
        write_photo(name, 132)
        stats = indexer.apply(merged(changes), roots)
        assert (stats.removed, stats.indexed, stats.embedded) == (1, 1, 1)
        assert set(docs(store)) == {str(name)}
    finally:
        watcher.stop()


def test_an_empty_mount_point_keeps_the_drives_entries(store, embedder, tmp_path):
    """An unplugged drive whose mount point stays as an empty folder is not "every photo deleted"."""
    mount = tmp_path / "media" / "card"
    for i in range(3):
        write_photo(mount / "DCIM" / f"IMG_{i}.jpg", seed=1700 + i)
    indexer = Indexer(store, embedder)
    assert indexer.run([mount]).indexed == 3
    shutil.move(str(mount / "DCIM"), str(tmp_path / "elsewhere"))  # the drive is gone; its mount point is empty
    stats = indexer.run([mount])
    assert (stats.removed, stats.unreachable) == (0, 1) and "drive not mounted" in stats.unreachable_folders[0][1]
    assert store.count() == 3
    shutil.move(str(tmp_path / "elsewhere"), str(mount / "DCIM"))  # plugged in again: nothing to redo
    again = indexer.run([mount])
    assert (again.unchanged, again.embedded, again.removed) == (3, 0, 0)
