"""What the app keeps about a photo library (thumbnails, paths, logs, settings, the trash journal) is readable by
its user only: every directory under the config, data and cache dirs 0700, every file 0600 — also an older
version's 0755/0644 tree, tightened at the next start."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core import thumbs
from imgsearch_desktop.core.dupes import DupeFinder
from imgsearch_desktop.core.trash import default_plan, trash_plan
from tests.app.gui import wait_indexed
from tests.photos import write_photo


def _open_entries(dirs: AppDirs) -> list[str]:
    """Every directory not 0700 and file not 0600 under the three dirs (the node's own dir has its own rules)."""
    found = []
    for root in (dirs.config, dirs.data, dirs.cache):
        assert root.is_dir()
        for folder, subdirs, files in os.walk(root):
            subdirs[:] = [d for d in subdirs if os.path.join(folder, d) != str(dirs.data / "elasticsearch")]
            for path, want in [(folder, 0o700), *((os.path.join(folder, f), 0o600) for f in files)]:
                mode = stat.S_IMODE(os.lstat(path).st_mode)
                if mode != want and not os.path.islink(path):
                    found.append(f"{oct(mode)} {path}")
    return found


def _older_versions_tree(dirs: AppDirs) -> None:
    os.umask(old := os.umask(0o022))  # what the old code got: the usual umask's 0755 / 0644
    try:
        for folder in (dirs.config, dirs.data / "logs", dirs.cache / "thumbnails"):
            folder.mkdir(parents=True)
        (dirs.config / "settings.toml").write_text("results = 40\n")
        (dirs.data / "logs" / "errors.log").write_text("--- an old crash\n")
        (dirs.cache / "thumbnails" / "0123.jpg").write_bytes(b"\xff\xd8\xff")
    finally:
        os.umask(old)
    assert _open_entries(dirs)


def test_index_window_settings_and_trash_leave_only_private_files(qtbot, make_app, cli_env, isolated_home,
                                                                   tmp_path):
    dirs = AppDirs.resolve(isolated_home)
    _older_versions_tree(dirs)
    library = tmp_path / "library"
    write_photo(library / "a.jpg", 1)
    (library / "copy").mkdir()
    shutil.copy(library / "a.jpg", library / "copy" / "a.jpg")  # an identical file: the trash journal gets a line
    out = subprocess.run([sys.executable, "-m", "imgsearch_desktop", "index", str(library)], env=cli_env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith("indexed 2,")

    write_photo(library / "b.jpg", 2)  # the window indexes it: its thumbnail is written by the window's run
    app = make_app([library], index=cli_env["IMGSEARCH_INDEX"])
    assert wait_indexed(qtbot, app).indexed == 1
    app.ctx.settings.save(app.ctx.dirs)  # what the Settings dialog does
    store = app.ctx.store()
    store.attach()
    journal = dirs.data / "trash-journal.jsonl"
    report, error = trash_plan(default_plan(DupeFinder(store).scan("exact")), store, journal)
    assert error is None and len(report.outcomes) == 1 and journal.exists()
    app.window.close()  # the window's geometry goes to window.ini
    app.window.qsettings.sync()

    assert (dirs.config / "window.ini").exists() and journal.read_text().count("\n") >= 1
    assert app.ctx.thumbnails().file(thumbs.key_now(str(library / "b.jpg"))).exists()
    assert _open_entries(dirs) == []
