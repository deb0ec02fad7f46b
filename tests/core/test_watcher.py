"""Watched folders: bursts coalesce, growing files wait, moves keep vectors, deletions drop documents."""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time

import pytest

from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.watcher import ChangeSet, FolderWatcher
from tests.photos import picture, write_photo


@pytest.fixture
def watched(tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    changes: queue.Queue[ChangeSet] = queue.Queue()
    watcher = FolderWatcher(changes.put, debounce=0.5, stable_for=0.5)
    watcher.start([str(folder)])
    yield folder, changes
    watcher.stop()


def drain(changes: queue.Queue, first_timeout: float = 15, quiet: float = 2.0) -> list[ChangeSet]:
    got = [changes.get(timeout=first_timeout)]
    while True:
        try:
            got.append(changes.get(timeout=quiet))
        except queue.Empty:
            return got


def merged(sets: list[ChangeSet]) -> ChangeSet:
    """Everything the watcher reported, as one change set (a loaded machine may split a burst in two)."""
    out = ChangeSet()
    for c in sets:
        out.changed |= c.changed
        out.deleted |= c.deleted
        out.moved += c.moved
    return out


def test_a_burst_becomes_one_change_set(watched, tmp_path):
    folder, changes = watched
    staging = tmp_path / "camera"
    for i in range(40):
        write_photo(staging / f"IMG_{i:04d}.jpg", i, size=(64, 48))
    for f in sorted(staging.iterdir()):
        shutil.copy(f, folder / f.name)
    (folder / "notes.txt").write_text("not a photo")
    sets = drain(changes)
    assert len(sets) == 1
    assert sets[0].changed == {str(folder / f"IMG_{i:04d}.jpg") for i in range(40)}


def test_a_file_being_written_waits_until_stable(watched):
    folder, changes = watched
    target = folder / "big.jpg"
    data = (folder.parent / "x.jpg")
    picture(1, (640, 480)).save(data, "JPEG")
    blob = data.read_bytes()
    finished = threading.Event()

    def slow_copy():
        with open(target, "wb") as fh:
            for i in range(0, len(blob), len(blob) // 8):
                fh.write(blob[i:i + len(blob) // 8])
                fh.flush()
                time.sleep(0.3)
        finished.set()
        finished.at = time.monotonic()

    threading.Thread(target=slow_copy).start()
    change = changes.get(timeout=20)
    assert finished.is_set() and time.monotonic() >= finished.at
    assert change.changed == {str(target)} and target.read_bytes() == blob


def test_watcher_keeps_the_index_in_step(store, embedder, watched, tmp_path):
    folder, changes = watched
    indexer = Indexer(store, embedder)
    roots = [str(folder)]

    src = write_photo(tmp_path / "outside.jpg", 42)
    shutil.copy(src, folder / "new.jpg")
    stats = indexer.apply(merged(drain(changes)), roots)
    assert (stats.indexed, stats.embedded) == (1, 1)
    query = embedder.encode_images([picture(42)])[0]
    assert store.knn(query, k=1)[0].path == str(folder / "new.jpg")

    (folder / "album").mkdir()
    os.rename(folder / "new.jpg", folder / "album" / "moved.jpg")
    stats = indexer.apply(merged(drain(changes)), roots)
    assert (stats.moved, stats.embedded) == (1, 0)
    hit = store.knn(query, k=1)[0]
    assert hit.path == str(folder / "album" / "moved.jpg") and hit.relative_path == "album/moved.jpg"

    (folder / "album" / "moved.jpg").unlink()
    stats = indexer.apply(merged(drain(changes)), roots)
    assert stats.removed == 1 and store.count() == 0


def test_a_move_also_reported_as_new_is_not_embedded_again(store, embedder, tmp_path):
    """A folder made just before a move is walked by the watcher, which then reports the moved file twice:
    as the move and as a new file. The move keeps the vector; the second report finds the entry current."""
    folder = tmp_path / "lib"
    indexer = Indexer(store, embedder)
    roots = [str(folder)]
    src = write_photo(folder / "new.jpg", 7)
    assert indexer.apply(ChangeSet(changed={str(src)}), roots).embedded == 1
    (folder / "album").mkdir()
    dest = folder / "album" / "moved.jpg"
    os.rename(src, dest)
    stats = indexer.apply(ChangeSet(changed={str(dest)}, moved=[(str(src), str(dest))]), roots)
    assert (stats.moved, stats.embedded) == (1, 0)
    store.refresh()
    assert store.count() == 1 and set(store.indexed_files([str(folder)])) == {str(dest)}
