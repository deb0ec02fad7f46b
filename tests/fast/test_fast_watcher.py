"""core/watcher.py: the debounce and coalescing logic, driven by hand — events go straight to ``_record``, the
clock is a fake one, and the flush is called directly (no observer threads)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from imgsearch_desktop.core import watcher as watcher_module
from imgsearch_desktop.core.scanner import Exclusions
from imgsearch_desktop.core.watcher import ChangeSet, FolderWatcher


class Recorder:
    """``on_changes`` that keeps every change set it is given."""

    def __init__(self) -> None:
        self.sets: list[ChangeSet] = []

    def __call__(self, changes: ChangeSet) -> None:
        self.sets.append(changes)


@pytest.fixture
def watched(clock, monkeypatch):
    monkeypatch.setattr(watcher_module, "time", clock)  # the module's time.monotonic() is the fake clock
    recorder = Recorder()
    w = FolderWatcher(recorder, debounce=1.0, stable_for=1.0)
    return w, recorder


def flush_after(w: FolderWatcher, clock, seconds: float) -> None:
    clock.advance(seconds)
    w._flush_if_quiet()


def settle(w: FolderWatcher, clock, recorder: Recorder, step: float = 0.5, limit: int = 40) -> ChangeSet:
    """Flush every ``step`` seconds of fake time until a change set comes out; return it."""
    before = len(recorder.sets)
    for _ in range(limit):
        flush_after(w, clock, step)
        if len(recorder.sets) > before:
            assert len(recorder.sets) == before + 1
            return recorder.sets[-1]
    raise AssertionError("nothing was delivered")


def write(path: Path, data: bytes = b"x") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_nothing_is_delivered_until_the_folders_are_quiet(watched, clock):
    w, recorder = watched
    w._record("created", "/p/a.jpg", "", False)
    flush_after(w, clock, 0.6)
    w._record("modified", "/p/b.jpg", "", False)  # the burst goes on: the quiet period starts again
    flush_after(w, clock, 0.6)
    assert recorder.sets == []
    flush_after(w, clock, 0.5)  # 1.1 s after the last event
    assert len(recorder.sets) == 1
    assert recorder.sets[0].changed == {"/p/a.jpg", "/p/b.jpg"}
    flush_after(w, clock, 5)
    assert len(recorder.sets) == 1  # delivered once; nothing pending
    assert not w._pending


def test_a_burst_becomes_one_change_set(watched, clock):
    w, recorder = watched
    for i in range(50):
        w._record("created", f"/p/img{i}.jpg", "", False)
        w._record("modified", f"/p/img{i}.jpg", "", False)
        w._record("closed", f"/p/img{i}.jpg", "", False)
    changes = settle(w, clock, recorder)
    assert changes.changed == {f"/p/img{i}.jpg" for i in range(50)}
    assert len(changes) == 50 and changes.deleted == set() and changes.moved == []


def test_created_then_deleted_in_one_burst_is_only_a_deletion(watched, clock):
    w, recorder = watched
    w._record("created", "/p/tmp.jpg", "", False)
    w._record("modified", "/p/tmp.jpg", "", False)
    w._record("deleted", "/p/tmp.jpg", "", False)
    changes = settle(w, clock, recorder)
    assert changes.changed == set()
    assert changes.deleted == {"/p/tmp.jpg"}  # harmless if never indexed; right if an older file was


def test_deleted_then_created_again_keeps_both(watched, clock):
    """A file replaced by a new one of the same name: the old entry goes, the new file is indexed."""
    w, recorder = watched
    w._record("deleted", "/p/a.jpg", "", False)
    w._record("created", "/p/a.jpg", "", False)
    changes = settle(w, clock, recorder)
    assert changes.changed == {"/p/a.jpg"} and changes.deleted == {"/p/a.jpg"}


def test_a_move_of_an_indexed_file_stays_a_move(watched, clock):
    w, recorder = watched
    w._record("moved", "/p/a.jpg", "/p/2024/a.jpg", False)
    changes = settle(w, clock, recorder)
    assert changes.moved == [("/p/a.jpg", "/p/2024/a.jpg")]
    assert not changes.changed and not changes.deleted


def test_created_then_moved_in_one_burst_indexes_the_destination(watched, clock):
    w, recorder = watched
    w._record("created", "/p/download.jpg", "", False)
    w._record("moved", "/p/download.jpg", "/p/final.jpg", False)
    changes = settle(w, clock, recorder)
    assert changes.changed == {"/p/final.jpg"}
    assert changes.deleted == {"/p/download.jpg"}
    assert changes.moved == []


def test_moved_out_of_sight_is_a_deletion(watched, clock):
    """Renamed to a name that is not a photo, or into a hidden folder: as good as deleted."""
    w, recorder = watched
    w._record("moved", "/p/a.jpg", "/p/a.jpg.bak", False)
    w._record("moved", "/p/b.jpg", "/p/.trash/b.jpg", False)
    w._record("moved", "/p/notes.txt", "/p/notes.md", False)  # never a photo: nothing at all
    changes = settle(w, clock, recorder)
    assert changes.deleted == {"/p/a.jpg", "/p/b.jpg"}
    assert not changes.changed and not changes.moved


def test_a_temp_file_renamed_to_a_photo_is_new(watched, clock):
    """Editors and downloaders write ``x.jpg.part`` then rename it: no event was recorded for the .part."""
    w, recorder = watched
    w._record("created", "/p/x.jpg.part", "", False)
    w._record("moved", "/p/x.jpg.part", "/p/x.jpg", False)
    changes = settle(w, clock, recorder)
    # not in `changed` before (unsupported), so it is a move: the indexer re-points or indexes the destination
    assert changes.moved == [("/p/x.jpg.part", "/p/x.jpg")]


def test_a_moved_folder_drops_the_old_tree_and_walks_the_new_one(watched, clock, tmp_path):
    w, recorder = watched
    new = tmp_path / "trip-2024"
    files = {write(new / "a.jpg"), write(new / "day2" / "b.png")}
    write(new / "notes.txt")
    write(new / ".thumbs" / "c.jpg")
    write(new / "node_modules" / "d.jpg")
    old = str(tmp_path / "trip")
    w._record("modified", old, "", True)  # a folder's own modified event: ignored
    w._record("moved", old, str(new), True)
    first = settle(w, clock, recorder)  # the old tree's entries go at once: no need to wait for the new files
    assert (first.deleted, first.changed, first.moved) == ({old}, set(), [])
    second = settle(w, clock, recorder)  # the new files, once their sizes have held still
    assert (second.deleted, second.changed, second.moved) == (set(), files, [])


def test_a_created_folder_adds_the_files_already_in_it(watched, clock, tmp_path):
    w, recorder = watched
    folder = tmp_path / "import"
    files = {write(folder / "a.jpg"), write(folder / "b.jpeg")}
    write(folder / ".hidden.jpg")
    w._record("created", str(folder), "", True)
    w._record("created", str(tmp_path / ".git"), "", True)  # a hidden folder is not walked at all
    assert settle(w, clock, recorder).changed == files


def test_ignored_events_leave_nothing_pending(watched, clock):
    w, recorder = watched
    w._record("created", "/p/.git/objects/a.jpg", "", False)
    w._record("created", "/p/node_modules/x/b.png", "", False)
    w._record("modified", "/p/.c.jpg", "", False)
    w._record("created", "/p/readme.txt", "", False)
    w._record("modified", "/p/sub", "", True)
    assert not w._pending
    flush_after(w, clock, 5)
    assert recorder.sets == []


def test_a_file_still_growing_is_held_back(watched, clock, tmp_path):
    w, recorder = watched
    copying = tmp_path / "big.jpg"
    copying.write_bytes(b"x" * 10)
    done = write(tmp_path / "small.jpg", b"y" * 10)
    w._record("created", str(copying), "", False)
    w._record("created", done, "", False)
    flush_after(w, clock, 1.0)  # quiet: both sizes seen for the first time, so both wait
    assert recorder.sets == []
    with open(copying, "ab") as fh:  # the copy goes on
        fh.write(b"x" * 10)
    flush_after(w, clock, 0.3)
    assert recorder.sets == []
    flush_after(w, clock, 0.7)  # small.jpg unchanged for stable_for: it goes; big.jpg changed 0.7 s ago: held
    assert [c.changed for c in recorder.sets] == [{done}]
    assert w._pending.changed == {str(copying)}
    changes = settle(w, clock, recorder, step=0.25)
    assert changes.changed == {str(copying)}
    assert not w._pending and w._sizes == {}


def test_a_growing_file_that_disappears_is_dropped_from_the_watch(watched, clock, tmp_path):
    w, recorder = watched
    path = write(tmp_path / "a.jpg")
    w._record("created", path, "", False)
    flush_after(w, clock, 1.0)
    assert path in w._sizes
    os.unlink(path)
    changes = settle(w, clock, recorder)
    assert changes.changed == {path}  # the indexer finds it gone and skips it
    assert w._sizes == {}


def test_changeset_truthiness_and_length():
    assert not ChangeSet()
    assert ChangeSet(rescan=True)  # a rescan request is work, though it names no file
    changes = ChangeSet(changed={"/a.jpg"}, deleted={"/b.jpg", "/c.jpg"}, moved=[("/d.jpg", "/e.jpg")])
    assert changes and len(changes) == 4


@pytest.mark.parametrize(("path", "ignored"), [
    ("/p/a.jpg", False),
    ("/p/sub/a.jpg", False),
    ("/p/.a.jpg", True),
    ("/p/.git/a.jpg", True),
    ("/p/@eaDir/a.jpg", True),
    ("/p/x/__pycache__/a.jpg", True),
])
def test_ignored_paths(path, ignored):
    assert Exclusions().covers(path) is ignored


def test_the_flush_thread_survives_a_failing_receiver():
    """The only real thread here: the debounce loop, with no folders (so no observer). A receiver that raises
    is reported through on_error and the loop keeps going."""
    calls, errors = [], []
    first_failed, second_arrived = threading.Event(), threading.Event()

    def on_changes(changes: ChangeSet) -> None:
        calls.append(changes)
        if len(calls) == 1:
            raise RuntimeError("boom")
        second_arrived.set()

    def on_error(message: str) -> None:
        errors.append(message)
        first_failed.set()

    w = FolderWatcher(on_changes, on_error, debounce=0.0, stable_for=0.0)
    w.start()
    try:
        w._record("deleted", "/p/a.jpg", "", False)
        assert first_failed.wait(5)
        w._record("deleted", "/p/b.jpg", "", False)
        assert second_arrived.wait(5)
    finally:
        w.stop()
    assert errors == ["watcher error: boom"]
    assert [c.deleted for c in calls] == [{"/p/a.jpg"}, {"/p/b.jpg"}]
    assert not w._thread.is_alive()
