"""One keeper decision: `dupes` on the command line, the Duplicates window and the search grid's "best version" all
choose the copy to keep by the rules saved in Settings (keep-rule order, reference folders, folder priority)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from PIL import Image

from imgsearch_desktop.config import AppDirs, Settings
from tests.app.gui import drop_file, wait_indexed
from tests.app.test_dupes_view import scan
from tests.e2e.test_cli import run
from tests.photos import write_photo

OLD = 10**17  # an mtime (ns) far in the past


def family(root: Path) -> Path:
    """One picture five times: orig.jpg, lossless.png, small.jpg (resized, the oldest file) and in the reference
    folder ref/ a copy of small.jpg (as old) and of lossless.png. Saved rules "oldest, then reference" keep
    ref/small.jpg; the default rules with the reference folder keep ref/lossless.png (reference, then most pixels),
    and without it lossless.png (most pixels, lossless, then the older file)."""
    orig = write_photo(root / "orig.jpg", 31, size=(640, 480), quality=90)
    Image.open(orig).save(root / "lossless.png")
    Image.open(orig).resize((320, 240)).save(root / "small.jpg", quality=70)
    (root / "ref").mkdir()
    for name in ("small.jpg", "lossless.png"):
        shutil.copyfile(root / name, root / "ref" / name)
    for name, ns in (("small.jpg", OLD), ("ref/small.jpg", OLD), ("lossless.png", 2 * OLD),
                     ("ref/lossless.png", 3 * OLD)):
        os.utime(root / name, ns=(ns, ns))
    for i in range(3):
        write_photo(root / f"other{i}.jpg", 40 + i)
    return root


def test_cli_window_and_search_grid_name_the_same_keeper(qtbot, make_app, cli_env, isolated_home, tmp_path):
    root = family(tmp_path / "lib")
    Settings(folders=[str(root)], references=[str(root / "ref")], keep_rules=["oldest", "reference"]).save(
        AppDirs.resolve(isolated_home))
    keeper = str(root / "ref" / "small.jpg")
    app = make_app([root])
    wait_indexed(qtbot, app)

    with qtbot.waitSignal(app.window.results_shown, timeout=30_000):
        drop_file(app.window, root / "orig.jpg")
    result = app.window.last_result
    assert len(result.copies) == 5
    grid_best = result.hits[result.best].path

    qtbot.waitUntil(lambda: app.window.ready, timeout=30_000)
    view = app.window.open_duplicates()
    qtbot.addWidget(view)
    assert scan(qtbot, view) == 1
    window_keep = view.groups[0].keep.path

    out = run({**cli_env, "IMGSEARCH_INDEX": app.ctx.settings.index}, "dupes", "--json")
    assert out.returncode == 0, out.stderr
    (group,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(group["files"]) == 5
    assert (group["keep"], window_keep, grid_best) == (keeper, keeper, keeper)
