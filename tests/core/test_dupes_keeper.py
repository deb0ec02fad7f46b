"""[C3] A keeper is a real file inside the library: a symlink to a copy outside it, older than the library's own
copy, is never the keeper, and the library's copy is never pre-ticked or trashed in its favour (real node, real
files, the real trash)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from imgsearch_desktop.core.dupes import DupeFinder
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.trash import default_plan, trash_plan
from tests.photos import write_photo

OLD = 946_684_800 * 10**9  # 2000-01-01: the outside copy is the oldest file


@pytest.fixture
def linked_out(store, embedder, tmp_path) -> tuple[Path, Path, Path]:
    """lib/2024/x.jpg (the library's only real copy) and lib/album/x.jpg, a symlink to an older copy outside."""
    lib, outside = tmp_path / "lib", tmp_path / "downloads" / "x.jpg"
    real = write_photo(lib / "2024" / "x.jpg", seed=4300, size=(160, 120))
    outside.parent.mkdir()
    shutil.copyfile(real, outside)
    os.utime(outside, ns=(OLD, OLD))
    link = lib / "album" / "x.jpg"
    link.parent.mkdir()
    link.symlink_to(outside)
    assert Indexer(store, embedder).run([lib]).indexed == 2
    return real, link, outside


def test_a_symlink_to_an_older_copy_outside_is_never_the_keeper(store, linked_out, tmp_path):
    real, link, outside = linked_out
    finder = DupeFinder(store)
    (group,) = finder.scan("exact")
    assert group.keep.path == str(real) and group.keep_why == "a real file inside the library"
    assert [m.photo.path for m in group.ticked] == [str(link)]
    report, error = trash_plan(default_plan([group]), store, tmp_path / "journal.jsonl")
    assert error is None and real.exists() and outside.exists() and link.is_symlink() and not report.trashed


def test_a_symlink_chosen_as_keeper_trashes_nothing(store, linked_out, tmp_path):
    real, link, outside = linked_out
    finder = DupeFinder(store)
    (group,) = finder.scan("exact")
    chosen = finder.rekeep(group, next(m.photo for m in group.members if m.photo.path == str(link)))
    assert not chosen.ticked  # the library's own copy is not suggested for the trash
    (outcome,), error = trash_plan([(chosen, [str(real)])], store, tmp_path / "journal.jsonl")  # ticked by hand
    assert error is None and not outcome.trashed and "symbolic link" in outcome.reason
    assert real.exists() and outside.exists()
