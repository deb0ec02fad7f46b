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

    threading.Thread(target=slow_copy).start()
    change = changes.get(timeout=20)
    assert finished.is_set()  # nothing was reported while the file grew
    assert change.changed == {str(target)} and not change.deleted and not change.moved
    assert target.read_bytes() == blob
    with pytest.raises(queue.Empty):  # reported once, when whole: no second change set for the same file
        changes.get(timeout=2)


def test_watcher_keeps_the_index_in_step(store, embedder, watched, tmp_path):
    folder, changes = watched
    indexer = Indexer(store, embedder)
    roots = [str(folder)]

    new, moved = str(folder / "new.jpg"), str(folder / "album" / "moved.jpg")

    def indexed() -> set[str]:
        store.refresh()
        return set(store.indexed_files(roots))

    src = write_photo(tmp_path / "outside.jpg", 42)
    shutil.copy(src, new)
    report = merged(drain(changes))
    assert report.changed == {new} and not report.deleted and not report.moved
    stats = indexer.apply(report, roots)
    assert (stats.indexed, stats.embedded) == (1, 1) and indexed() == {new}
    vector = store.indexed_source(new)["image_embedding"]
    query = embedder.encode_images([picture(42)])[0]
    assert store.knn(query, k=1)[0].path == new

    (folder / "album").mkdir()
    os.rename(new, moved)
    report = merged(drain(changes))
    # A move, or (when the old name had an event of its own in the same burst) the old name gone and the new one
    # changed: either way the indexer's content match re-points the document (watcher._record).
    assert (new, moved) in report.moved or (new in report.deleted and moved in report.changed)
    stats = indexer.apply(report, roots)
    assert (stats.moved, stats.embedded, stats.removed) == (1, 0, 0)
    assert indexed() == {moved} and store.count() == 1  # re-pointed: the old path's document is gone
    kept = store.indexed_source(moved)
    assert kept["image_embedding"] == vector and kept["relative_path"] == "album/moved.jpg"

    os.unlink(moved)
    report = merged(drain(changes))
    assert moved in report.deleted and not report.changed
    stats = indexer.apply(report, roots)
    assert (stats.removed, stats.indexed) == (1, 0) and indexed() == set() and store.count() == 0


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
