"""core/scanner.py: plan() against a fake index, probe() on each kind of "not there", scan() over a small tmp tree."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from imgsearch_desktop.core.scanner import FileEntry, Probe, plan, probe, scan
from imgsearch_desktop.core.store import IndexedFile

NON_UTF8 = b"caf\xe9.jpg"  # Latin-1 "café.jpg": not valid UTF-8


def entry(path: str, size: int = 10, mtime_ns: int = 1_000, root: str = "/photos") -> FileEntry:
    return FileEntry(path, root, size, mtime_ns)


def indexed(path: str, size: int = 10, mtime_ns: int = 1_000) -> IndexedFile:
    return IndexedFile(doc_id="id-" + path, path=path, size=size, mtime_ns=mtime_ns, sha256="s-" + path)


def write(path: Path | bytes, data: bytes = b"x") -> None:
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


# ---------------------------------------------------------------- plan
def test_plan_sorts_new_changed_unchanged_and_gone():
    disk = [entry("/photos/new.jpg"), entry("/photos/same.jpg"), entry("/photos/bigger.jpg", size=11),
            entry("/photos/touched.jpg", mtime_ns=2_000)]
    index = {p: indexed(p) for p in ("/photos/same.jpg", "/photos/bigger.jpg", "/photos/touched.jpg",
                                     "/photos/deleted.jpg")}
    result = plan(disk, index)
    assert [f.path for f in result.todo] == ["/photos/new.jpg", "/photos/bigger.jpg", "/photos/touched.jpg"]
    assert result.unchanged == 1
    assert [d.path for d in result.gone] == ["/photos/deleted.jpg"]
    assert result.gone[0] is index["/photos/deleted.jpg"]  # the index's own record: its doc_id and sha256 travel


def test_plan_of_nothing_indexed_is_all_new_and_of_nothing_on_disk_is_all_gone():
    files = [entry("/p/a.jpg"), entry("/p/b.jpg")]
    first = plan(files, {})
    assert first.todo == files and first.unchanged == 0 and first.gone == []
    index = {f.path: indexed(f.path) for f in files}
    emptied = plan([], index)
    assert emptied.todo == [] and emptied.unchanged == 0
    assert sorted(d.path for d in emptied.gone) == ["/p/a.jpg", "/p/b.jpg"]


def test_plan_compares_paths_by_exact_name():
    """Two non-UTF-8 names with the same display form are two files."""
    a, b = os.fsdecode(b"/p/" + NON_UTF8), os.fsdecode(b"/p/caf\xe8.jpg")
    result = plan([entry(a)], {b: indexed(b)})
    assert [f.path for f in result.todo] == [a]
    assert [d.path for d in result.gone] == [b]


# ---------------------------------------------------------------- probe
def test_probe_regular_file(tmp_path):
    write(tmp_path / "a.jpg", b"12345")
    found = probe(str(tmp_path / "a.jpg"), str(tmp_path))
    assert found.stat is not None and found.stat.st_size == 5
    assert found.unreachable is None and not found.gone


def test_probe_missing_file_under_a_readable_root_is_gone(tmp_path):
    assert probe(str(tmp_path / "nope.jpg"), str(tmp_path)) == Probe(None, None)
    assert probe(str(tmp_path / "nope.jpg"), str(tmp_path)).gone
    # its whole folder went too: still gone (the root is there and searchable)
    assert probe(str(tmp_path / "trip" / "day1" / "a.jpg"), str(tmp_path)).gone


def test_probe_a_folder_that_took_the_files_name_is_gone(tmp_path):
    (tmp_path / "a.jpg").mkdir()
    found = probe(str(tmp_path / "a.jpg"), str(tmp_path))
    assert found.stat is None and found.unreachable is None and found.gone


def test_probe_missing_root_is_unreachable_not_gone(tmp_path):
    root = str(tmp_path / "unplugged-drive")
    found = probe(os.path.join(root, "a.jpg"), root)
    assert not found.gone
    assert found.unreachable == (root, "no such file or folder")


def test_probe_dangling_folder_symlink_is_unreachable(tmp_path):
    (tmp_path / "card").symlink_to(tmp_path / "mnt-card")  # the drive behind it is not mounted
    found = probe(str(tmp_path / "card" / "2024" / "a.jpg"), str(tmp_path))
    assert not found.gone
    assert found.unreachable is not None
    assert found.unreachable[0] == str(tmp_path / "card")
    assert "broken symlink" in found.unreachable[1]


def test_probe_dangling_file_symlink_is_unreachable(tmp_path):
    (tmp_path / "a.jpg").symlink_to(tmp_path / "elsewhere.jpg")
    found = probe(str(tmp_path / "a.jpg"), str(tmp_path))
    assert not found.gone
    assert found.unreachable == (str(tmp_path / "a.jpg"), "broken symlink (its target is missing)")


def test_probe_unsearchable_folder_is_unreachable(tmp_path, monkeypatch):
    """EACCES below a folder (a fake stat: root ignores permission bits, so chmod cannot show it here)."""
    locked = tmp_path / "locked"
    write(locked / "a.jpg")
    real_stat = os.stat

    def fake_stat(path, *args, **kwargs):
        if os.fsdecode(path).startswith(str(locked) + os.sep):
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", fake_stat)
    found = probe(str(locked / "a.jpg"), str(tmp_path))
    assert not found.gone
    assert found.unreachable == (str(locked), "folder unreadable: Permission denied")


# ---------------------------------------------------------------- scan
@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "photos"
    write(root / "a.jpg", b"aaaa")
    write(root / "b.PNG", b"bb")  # the extension's case does not matter
    write(root / "notes.txt")  # not an image: neither listed nor reported
    write(root / "._a.jpg")  # macOS resource fork
    write(root / ".hidden" / "c.jpg")
    write(root / "node_modules" / "d.jpg")  # an always-excluded folder
    write(root / "skipme" / "e.jpg")  # excluded by name
    write(root / "sub" / "f.jpg", b"ffffff")
    write(root / "sub" / "deep" / "g.jpg")  # excluded by its path
    os.link(root / "sub" / "f.jpg", root / "sub" / "f_link.jpg")  # hard link: the same file
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)  # a loop back to the root
    (root / "broken.jpg").symlink_to(tmp_path / "gone.jpg")  # dangling
    (root / "self.jpg").symlink_to("self.jpg")  # a symlink to itself
    write(os.path.join(os.fsencode(root), NON_UTF8), b"cafe")
    return root


def test_scan_lists_each_supported_file_once(tree):
    result = scan([tree], excluded=["skipme", str(tree / "sub" / "deep")])
    names = sorted(os.path.relpath(f.path, tree) for f in result.files)
    assert names == sorted(["a.jpg", "b.PNG", "sub/f.jpg", os.fsdecode(NON_UTF8)])
    assert all(f.root == str(tree) for f in result.files)
    a = next(f for f in result.files if f.path.endswith("a.jpg"))
    st = os.stat(tree / "a.jpg")
    assert (a.size, a.mtime_ns) == (4, st.st_mtime_ns)
    assert result.unreachable == []


def test_scan_reports_broken_symlinks_and_loops(tree):
    result = scan([tree], excluded=["skipme"])
    skipped = dict(result.skipped)
    assert skipped[str(tree / "broken.jpg")] == "broken symlink or symlink loop"
    assert skipped[str(tree / "self.jpg")] == "symlink loop"
    assert len(result.skipped) == 2


def test_scan_keeps_non_utf8_names_exact(tree):
    result = scan([tree])
    odd = [f for f in result.files if "\udce9" in f.path]
    assert len(odd) == 1
    assert os.fsencode(odd[0].path) == os.path.join(os.fsencode(tree), NON_UTF8)
    assert odd[0].size == 4


def test_scan_without_exclusions_walks_named_folders_but_never_hidden_ones(tree):
    paths = {os.path.relpath(f.path, tree) for f in scan([tree]).files}
    assert {"skipme/e.jpg", "sub/deep/g.jpg"} <= paths
    assert not {".hidden/c.jpg", "node_modules/d.jpg", "._a.jpg", "sub/loop/a.jpg"} & paths


def test_scan_nested_and_repeated_roots_list_files_once(tree):
    result = scan([tree, tree / "sub", tree / "sub" / "f.jpg"])
    f_entries = [f for f in result.files if os.path.basename(f.path) in ("f.jpg", "f_link.jpg")]
    assert len(f_entries) == 1
    assert f_entries[0].root == str(tree)  # found first under the outer root


def test_scan_follows_a_symlinked_folder_outside_the_root(tmp_path):
    write(tmp_path / "elsewhere" / "x.jpg")
    root = tmp_path / "photos"
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    result = scan([root])
    assert [f.path for f in result.files] == [str(root / "link" / "x.jpg")]


def test_scan_single_files_and_missing_roots(tmp_path):
    write(tmp_path / "one.jpg", b"123")
    write(tmp_path / "readme.md")
    missing = tmp_path / "not-there"
    result = scan([tmp_path / "one.jpg", tmp_path / "readme.md", missing])
    assert [(f.path, f.root, f.size) for f in result.files] == [(str(tmp_path / "one.jpg"), str(tmp_path), 3)]
    assert result.skipped == [(str(tmp_path / "readme.md"), "unsupported file type .md")]
    assert result.unreachable == [(str(missing), "no such file or folder")]


def test_scan_reports_a_folder_it_cannot_list(tmp_path, monkeypatch):
    write(tmp_path / "ok" / "a.jpg")
    write(tmp_path / "locked" / "b.jpg")
    real_scandir = os.scandir

    def fake_scandir(path):
        if os.fsdecode(path) == str(tmp_path / "locked"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", fake_scandir)
    result = scan([tmp_path])
    assert [os.path.relpath(f.path, tmp_path) for f in result.files] == ["ok/a.jpg"]
    assert result.unreachable == [(str(tmp_path / "locked"), "folder unreadable: Permission denied")]


def test_a_very_deep_tree_is_walked_without_recursion():
    """A 1,500-level folder tree (once a RecursionError): walked with a stack of its own."""
    import shutil
    import sys
    import tempfile

    # Outside pytest's tmp_path: pytest's own clean-up of old runs (shutil.rmtree) recurses per level and would fail
    # on a tree left behind by a killed run.
    top = tempfile.mkdtemp(prefix="imgsearch-deep-")
    deep = top
    try:
        for _ in range(1500):  # ~3,000 characters: under PATH_MAX (os.makedirs itself recurses)
            deep = os.path.join(deep, "d")
            os.mkdir(deep)
        Path(deep, "deep.jpg").write_bytes(b"\xff\xd8\xff")
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(400)  # far below 1,500: the walk must not use the call stack per level
        try:
            result = scan([top])
        finally:
            sys.setrecursionlimit(limit)
        assert [f.path for f in result.files] == [os.path.join(deep, "deep.jpg")]
    finally:
        while deep != top:  # bottom up: shutil.rmtree recurses per level
            shutil.rmtree(deep)
            deep = os.path.dirname(deep)
        shutil.rmtree(top)


def test_a_root_that_is_a_fifo_or_a_device_is_skipped_saying_what_it_is(tmp_path):
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    result = scan([fifo, "/dev/null"])
    assert result.skipped == [(str(fifo), "not a photo or a folder: a FIFO"),
                              ("/dev/null", "not a photo or a folder: a device")]
    assert result.unreachable == [] and result.files == []
