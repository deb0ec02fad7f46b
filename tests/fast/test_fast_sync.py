"""One rule for what indexing leaves out (the walk, the watcher, its change sets), and the one sync service that
`watch` and the window share, against a recording fake indexer."""

from __future__ import annotations

import contextlib

from imgsearch_desktop.core.pipeline import IndexStats
from imgsearch_desktop.core.scanner import Exclusions, scan
from imgsearch_desktop.core.sync import FolderSync, without_excluded
from imgsearch_desktop.core.watcher import ChangeSet, FolderWatcher


def is_excluded(path: str, excluded: list[str], roots: tuple[str, ...] | list[str] = ()) -> bool:
    return Exclusions.of(excluded).covers(path, roots)


def test_names_match_at_any_depth_and_paths_match_below_them():
    assert is_excluded("/p/private/a.jpg", ["private"])
    assert is_excluded("/p/x/private/deep/a.jpg", ["private"])
    assert not is_excluded("/p/private.jpg", ["private"])  # a file's own name is not a folder
    assert is_excluded("/p/2024/raw/a.jpg", ["/p/2024/raw"])
    assert not is_excluded("/p/2024/rawfiles/a.jpg", ["/p/2024/raw"])


def test_change_sets_lose_excluded_files_and_moves_across_the_border_become_add_or_remove():
    change = ChangeSet(changed={"/p/a.jpg", "/p/private/b.jpg"}, deleted={"/p/private/c.jpg"},
                       moved=[("/p/d.jpg", "/p/private/d.jpg"), ("/p/private/e.jpg", "/p/e.jpg"),
                              ("/p/f.jpg", "/p/g.jpg")])
    out = without_excluded(change, ["private"])
    assert out.changed == {"/p/a.jpg", "/p/e.jpg"}
    assert out.deleted == {"/p/private/c.jpg", "/p/d.jpg"}
    assert out.moved == [("/p/f.jpg", "/p/g.jpg")]
    assert without_excluded(change, []) is change
    assert not without_excluded(ChangeSet(changed={"/p/private/x.jpg"}), ["private"])


def test_names_above_the_watched_root_do_not_exclude_it():
    """A library at /mnt/backup/Pictures with "backup" excluded: only folders below the root are matched."""
    roots = ["/mnt/backup/Pictures"]
    assert not is_excluded("/mnt/backup/Pictures/a.jpg", ["backup"], roots)
    assert is_excluded("/mnt/backup/Pictures/backup/a.jpg", ["backup"], roots)
    moved = without_excluded(ChangeSet(moved=[("/mnt/backup/Pictures/a.jpg", "/mnt/backup/Pictures/b.jpg")]),
                             ["backup"], roots)
    assert moved.moved == [("/mnt/backup/Pictures/a.jpg", "/mnt/backup/Pictures/b.jpg")] and not moved.deleted


def test_the_walk_and_the_watcher_leave_out_the_same_files(tmp_path):
    """Every file of a tree is either found by the walk or covered by the rule the watcher uses — never both,
    never neither — including a library that itself sits inside a hidden folder."""
    root = tmp_path / ".local" / "photos"
    names = ["a.jpg", ".b.jpg", "._c.jpg", "sub/d.jpg", ".git/e.jpg", "node_modules/f.png", "private/g.jpg",
             "x/private/h.jpg", "raw/i.jpg", "rawfiles/j.jpg", "x/.hidden/k.jpg", "x/@eaDir/l.jpg"]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    excluded = ["private", str(root / "raw")]
    found = {f.path for f in scan([str(root)], excluded).files}
    rule = Exclusions.of(excluded)
    for name in names:
        path = str(root / name)
        assert (path in found) != rule.covers(path, [str(root)]), name
    assert found == {str(root / n) for n in ("a.jpg", "sub/d.jpg", "rawfiles/j.jpg")}


def test_the_watcher_keeps_events_of_a_library_inside_a_hidden_folder(tmp_path):
    root = tmp_path / ".local" / "photos"
    root.mkdir(parents=True)
    watcher = FolderWatcher(lambda change: None)
    watcher._observers[str(root)] = object()  # watched, without starting an observer thread
    watcher._record("created", str(root / "a.jpg"), "", False)
    watcher._record("created", str(root / ".git" / "b.jpg"), "", False)
    assert watcher._pending.changed == {str(root / "a.jpg")}


class FakeIndexer:
    """Records what the service asks of the indexer."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def run(self, roots, excluded, progress=None) -> IndexStats:
        self.calls.append(("run", list(roots), list(excluded)))
        return IndexStats(indexed=1)

    def apply(self, change, roots, progress=None) -> IndexStats:
        self.calls.append(("apply", change, list(roots)))
        return IndexStats(indexed=len(change.changed))

    def remove_paths(self, paths, keep=()) -> int:
        self.calls.append(("remove", list(paths), list(keep)))
        return 3


def service() -> tuple[FolderSync, FakeIndexer, list[str]]:
    held: list[str] = []

    @contextlib.contextmanager
    def lock():
        held.append("in")
        yield
        held.append("out")

    indexer = FakeIndexer()
    return FolderSync(lambda change: None, on_error=lambda msg: None, lock=lock, indexer=indexer), indexer, held


def test_a_rescan_request_scans_every_root_under_the_lock():
    sync, indexer, held = service()
    stats = sync.apply(ChangeSet(rescan=True), ["/p", "/q"], ["private"])
    assert indexer.calls == [("run", ["/p", "/q"], ["private"])]
    assert stats.indexed == 1 and held == ["in", "out"]


def test_changes_are_filtered_then_applied_under_the_lock_and_nothing_left_is_no_job():
    sync, indexer, held = service()
    stats = sync.apply(ChangeSet(changed={"/p/a.jpg", "/p/private/b.jpg"}), ["/p"], ["private"])
    assert [(c[0], c[1].changed) for c in indexer.calls] == [("apply", {"/p/a.jpg"})]
    assert stats.indexed == 1 and held == ["in", "out"]
    assert sync.apply(ChangeSet(changed={"/p/private/c.jpg"}), ["/p"], ["private"]) is None
    assert len(indexer.calls) == 1 and held == ["in", "out"]  # no job, no lock taken


def test_a_cancelled_change_set_writes_nothing():
    sync, indexer, held = service()
    seen = []
    stats = sync.apply(ChangeSet(changed={"/p/a.jpg"}), ["/p"], progress=lambda *a: seen.append(a) and False)
    assert stats.cancelled and seen == [(0, 1, "changes")]
    assert indexer.calls == [] and held == []


def test_forgetting_folders_removes_their_documents_under_the_lock():
    sync, indexer, held = service()
    assert sync.forget(["/p/old"], ["/p"]).removed == 3
    assert indexer.calls == [("remove", ["/p/old"], ["/p"])] and held == ["in", "out"]


def test_a_watcher_error_is_reported_and_asks_for_a_rescan(tmp_path):
    delivered, errors = [], []
    sync = FolderSync(delivered.append, on_error=errors.append)
    sync.watch([str(tmp_path)])
    try:
        sync.watcher.on_error("inotify watch limit reached")
    finally:
        sync.stop()
    assert errors == ["inotify watch limit reached"]
    assert [c.rescan for c in delivered] == [True]


def test_watch_follows_the_folder_list(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    sync = FolderSync(lambda change: None, on_error=lambda msg: None)
    try:
        sync.watch([str(a)])
        assert sync.watcher.folders == [str(a)]
        sync.watch([str(b), str(tmp_path / "missing")])  # a missing folder is not watched (the scan reports it)
        assert sync.watcher.folders == [str(b)]
    finally:
        sync.stop()
    assert sync.watcher.folders == []
    sync.watch([str(a)])  # a job still queued at shutdown starts nothing
    assert sync.watcher.folders == []


def test_a_fallback_to_polling_is_reported_after_the_folder_is_watched(tmp_path, monkeypatch):
    """The report asks for a rescan, and the window's rescan watches the folders again: the folder must already be
    registered then, or each report starts another attempt (unbounded recursion when inotify is exhausted)."""
    import imgsearch_desktop.core.watcher as watcher_module

    class NoInotify(watcher_module.Observer):
        def schedule(self, *args, **kwargs):
            raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(watcher_module, "Observer", NoInotify)
    reports = []
    sync = FolderSync(lambda change: (reports.append(change), sync.watch([str(tmp_path)])), on_error=lambda m: None)
    try:
        sync.watch([str(tmp_path)])
        assert sync.watcher.folders == [str(tmp_path)] and [c.rescan for c in reports] == [True]
    finally:
        sync.stop()
