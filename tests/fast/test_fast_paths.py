"""core/paths.py: the one place for path identity — exact-bytes containment, the root a path belongs to, and one
file under two names."""

from __future__ import annotations

import os

import pytest

from imgsearch_desktop.core.paths import identity, inside, root_of, under

LATIN1 = os.fsdecode(b"/photos/caf\xe9")  # a folder whose name is not UTF-8
OTHER = os.fsdecode(b"/photos/caf\xe8")  # another one with the same display form


@pytest.mark.parametrize(("path", "folder", "expected"), [
    ("/a/b/c.jpg", "/a", True),
    ("/a/b/c.jpg", "/a/", True),
    ("/a", "/a", True),
    ("/a/x.jpg", "/", True),
    ("/ab/c.jpg", "/a", False),
    ("/a.jpg", "/a", False),
    ("/b/c.jpg", "/a", False),
    ("/A/c.jpg", "/a", False),  # case is never folded (see the module's step 4)
    (LATIN1 + "/x.jpg", LATIN1, True),
    (LATIN1 + "/x.jpg", OTHER, False),  # equal display forms, different bytes
])
def test_under_and_inside_are_one_rule(path, folder, expected):
    assert under(path, folder) is expected and inside(path, folder) is expected


def test_root_of_is_the_deepest_root_holding_the_path():
    roots = ["/lib", "/lib/phone", "/other", "/lib/phone-backup"]
    assert root_of("/lib/phone/2024/a.jpg", roots) == "/lib/phone"
    assert root_of("/lib/phone-backup/a.jpg", roots) == "/lib/phone-backup"  # not /lib/phone: a name, not a prefix
    assert root_of("/lib/a.jpg", roots) == "/lib" and root_of("/lib", roots) == "/lib"
    assert root_of("/elsewhere/a.jpg", roots) is None and root_of("/lib/a.jpg", []) is None


def test_identity_tells_one_file_under_two_names(tmp_path):
    real = tmp_path / "a.jpg"
    real.write_bytes(b"x")
    os.link(real, tmp_path / "hard.jpg")
    (tmp_path / "via").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "copy.jpg").write_bytes(b"x")
    found = identity(str(real))
    assert found is not None and found[0] == os.path.realpath(real)
    assert identity(str(tmp_path / "hard.jpg"))[1] == found[1]  # a hard link: same inode, its own name
    assert identity(str(tmp_path / "via" / "a.jpg")) == found  # through a linked folder: same real path too
    assert identity(str(tmp_path / "copy.jpg"))[1] != found[1]  # same bytes, another file
    assert identity(str(tmp_path / "gone.jpg")) is None
