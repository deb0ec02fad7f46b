"""The watcher's change sets lose whatever lies in an excluded folder, with the walk's own rule."""

from __future__ import annotations

from imgsearch_desktop.core.sync import is_excluded, without_excluded
from imgsearch_desktop.core.watcher import ChangeSet


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
