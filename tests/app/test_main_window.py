"""The window with real widgets (pytest-qt, offscreen), a real node, tiny models and real files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import elastic_transport
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage

from imgsearch_desktop.core import images as images_module
from imgsearch_desktop.core import thumbs
from imgsearch_desktop.core.dupes import Tier
from imgsearch_desktop.core.embedder import Embedder
from tests.app.gui import SCREENSHOTS, drop_file, wait_indexed
from tests.photos import write_photo


def start_and_index(qtbot, app):
    return wait_indexed(qtbot, app)


def test_drop_paste_and_text_search_fill_the_grid(qtbot, make_app, library, monkeypatch):
    app = make_app([library])
    stats = start_and_index(qtbot, app)
    assert stats.indexed == 10
    window = app.window
    cache = app.ctx.thumbnails()  # the window's indexing wrote every photo's thumbnail from its own decode
    assert all(cache.file(thumbs.key_now(str(p))).exists() for p in library.rglob("*") if p.is_file())
    decoded = []
    make = thumbs.make
    monkeypatch.setattr(thumbs, "make", lambda path, *a: decoded.append(path) or make(path, *a))

    target = library / "2023" / "IMG_0003.jpg"
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        drop_file(window, target)
    assert window.model.rowCount() == 10 and window.model.hits[0].path == str(target)
    assert window.model.hits[0].score > 0.999
    qtbot.waitUntil(window.model.thumbnails_ready, timeout=30_000)  # every thumbnail arrived and painted
    assert decoded == []  # from the disk cache: the grid never decodes an indexed photo
    portrait = window.model.pixmaps[str(library / "2024" / "portrait.jpg")].toImage()
    # EXIF orientation 6: stored 480×360, shown 360×480 (centred in its cell, transparent at the sides).
    assert portrait.pixelColor(5, portrait.height() // 2).alpha() == 0
    assert portrait.pixelColor(portrait.width() // 2, 5).alpha() == 255

    QGuiApplication.clipboard().setImage(QImage(str(library / "scan.png")))
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.paste()
    assert window.model.hits[0].path == str(library / "scan.png")

    window.filter_bar.k_spin.setValue(4)
    window.search.setText("un chat sur un canapé")
    with qtbot.waitSignal(window.results_shown, timeout=30_000) as shown:
        qtbot.keyClick(window.search, Qt.Key.Key_Return)
    assert shown.args == [4]
    scores = [h.score for h in window.model.hits]
    assert scores == sorted(scores, reverse=True)


def test_broken_query_image_gives_a_clear_message(qtbot, make_app, library, tmp_path):
    app = make_app([library])
    start_and_index(qtbot, app)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0garbage")
    with qtbot.waitSignal(app.window.query_failed, timeout=30_000) as failed:
        drop_file(app.window, bad)
    assert "Cannot search with this image" in failed.args[0] and str(bad) in failed.args[0]
    assert "Cannot search" in app.window.status_label.text()


def test_watched_folder_changes_reach_the_index(qtbot, make_app, library, tmp_path):
    app = make_app([library])
    start_and_index(qtbot, app)
    store = app.worker.store
    new = write_photo(tmp_path / "incoming.jpg", 4242)
    shutil.copy(new, library / "2024" / "new.jpg")
    stats = wait_indexed(qtbot, app, 30_000)
    assert (stats.indexed, stats.embedded) == (1, 1)
    assert str(library / "2024" / "new.jpg") in store.indexed_files([str(library)])

    os.rename(library / "2024" / "new.jpg", library / "2023" / "moved.jpg")
    moved = wait_indexed(qtbot, app, 30_000)
    assert (moved.moved, moved.embedded) == (1, 0)

    (library / "2023" / "moved.jpg").unlink()
    removed = wait_indexed(qtbot, app, 30_000)
    assert removed.removed == 1
    assert str(library / "2023" / "moved.jpg") not in store.indexed_files([str(library)])


def test_no_model_or_es_call_on_the_main_thread(qtbot, make_app, library, monkeypatch):
    threads: list[tuple[str, threading.Thread]] = []
    original = elastic_transport.Transport.perform_request

    def recording(self, *args, **kwargs):
        threads.append(("es", threading.current_thread()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(elastic_transport.Transport, "perform_request", recording)
    decode = images_module.decode

    def recording_decode(*args, **kwargs):  # every image decode: query photo, its preview, thumbnails, indexing
        threads.append(("decode", threading.current_thread()))
        return decode(*args, **kwargs)

    monkeypatch.setattr(images_module, "decode", recording_decode)
    for kind in ("image", "text"):  # every model call goes through one of these two (on any Embedder instance)
        method = getattr(Embedder, f"encode_{kind}s")

        def recording_encode(self, *args, _kind=kind, _method=method, **kwargs):
            threads.append((_kind, threading.current_thread()))
            return _method(self, *args, **kwargs)

        monkeypatch.setattr(Embedder, f"encode_{kind}s", recording_encode)
    app = make_app([library])
    start_and_index(qtbot, app)
    with qtbot.waitSignal(app.window.results_shown, timeout=30_000):
        drop_file(app.window, library / "scan.png")
    qtbot.waitUntil(lambda: not app.window.query_image.pixmap().isNull(), timeout=10_000)  # its preview
    app.window.search.setText("ein Hund am Strand")
    with qtbot.waitSignal(app.window.results_shown, timeout=30_000):
        app.window.search_text()
    kinds = {k for k, _ in threads}
    assert {"es", "image", "text", "decode"} <= kinds
    main = threading.main_thread()
    assert not [k for k, t in threads if t is main]


def test_pause_resume_cancel_and_resume_after_close(qtbot, make_app, tmp_path):
    root = tmp_path / "many"
    for i in range(40):
        write_photo(root / f"p{i:03d}.jpg", 900 + i, size=(200, 150))
    app = make_app([root], batch_size=4)
    worker = app.worker
    with qtbot.waitSignal(worker.progress, timeout=60_000, check_params_cb=lambda d, t, n: d >= 4):
        pass
    app.window.toggle_pause()
    assert "paused" in app.window.status_label.text()
    qtbot.wait(300)
    seen: list[int] = []
    worker.progress.connect(lambda d, t, n: seen.append(d))
    qtbot.wait(1500)
    assert len(seen) <= 1  # at most the batch that was already running when pause was pressed
    app.window.toggle_pause()
    with qtbot.waitSignal(worker.progress, timeout=30_000):
        pass
    app.window.cancel_indexing()
    stats = wait_indexed(qtbot, app, 60_000)
    assert stats.cancelled and 0 < stats.embedded < 40
    done_first = stats.embedded

    # Close during indexing is the same cancel; a new start resumes without redoing finished work.
    app.shutdown()
    app.window.close()
    app2 = make_app([root], batch_size=4, index=app.ctx.settings.index)
    again = start_and_index(qtbot, app2)
    assert (again.unchanged, again.embedded) == (done_first, 40 - done_first)


def test_second_launch_hands_its_photo_to_the_running_window(qtbot, make_app, library, cli_env, isolated_home):
    app = make_app([library])
    start_and_index(qtbot, app)
    photo = library / "2024" / "IMG_0004.jpg"
    env = {**cli_env, "IMGSEARCH_HOME": str(isolated_home), "QT_QPA_PLATFORM": "offscreen"}
    with qtbot.waitSignal(app.window.results_shown, timeout=120_000):
        proc = subprocess.Popen([sys.executable, "-m", "imgsearch_desktop", str(photo)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "handed over to the running window" in out
    assert app.window.model.hits[0].path == str(photo)


@pytest.mark.parametrize("state", ["screens"])
def test_screenshots(qtbot, make_app, library, tmp_path, state):
    SCREENSHOTS.mkdir(exist_ok=True)
    app = make_app([library], batch_size=2)
    window = app.window
    window.resize(1200, 780)
    assert window.grab().save(str(SCREENSHOTS / "main-empty.png"))
    with qtbot.waitSignal(app.worker.progress, timeout=60_000, check_params_cb=lambda d, t, n: 0 < d < t):
        pass
    app.window.toggle_pause()  # hold the "indexing" state still for the picture
    assert window.grab().save(str(SCREENSHOTS / "main-indexing.png"))
    app.window.toggle_pause()
    start_and_index(qtbot, app)
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        drop_file(window, library / "2024" / "IMG_0000.jpg")
    qtbot.waitUntil(window.model.thumbnails_ready, timeout=30_000)
    qtbot.wait(200)
    assert window.grab().save(str(SCREENSHOTS / "main-results.png"))
    for name in ("main-empty.png", "main-indexing.png", "main-results.png"):
        assert QImage(str(SCREENSHOTS / name)).width() >= 1000


def test_drop_shows_the_photos_copies_and_the_best_version(qtbot, make_app, tmp_path):
    root = tmp_path / "lib"
    orig = write_photo(root / "orig.jpg", 31, size=(640, 480), quality=90)
    shutil.copyfile(orig, root / "copy.jpg")
    Image.open(orig).save(root / "lossless.png")
    os.utime(root / "lossless.png", ns=(10**17, 10**17))  # older: the lossless source of the JPEGs, not their copy
    Image.open(orig).resize((320, 240)).save(root / "small.jpg", quality=70)
    for i in range(3):
        write_photo(root / f"other{i}.jpg", 40 + i)
    app = make_app([root])
    start_and_index(qtbot, app)
    with qtbot.waitSignal(app.window.results_shown, timeout=30_000):
        drop_file(app.window, orig)
    result = app.window.last_result
    relation = {Path(h.path).name: r for h, r in zip(result.hits, result.relations, strict=True)}
    assert relation["orig.jpg"] == relation["copy.jpg"] == Tier.EXACT
    assert relation["lossless.png"] == relation["small.jpg"] == Tier.SAME_PICTURE
    assert {relation[f"other{i}.jpg"] for i in range(3)} == {Tier.SIMILAR}
    assert Path(result.hits[result.best].path).name == "lossless.png"  # most pixels, least compressed
    assert app.window.copies_banner.isVisibleTo(app.window)
    assert "4 copies" in app.window.copies_banner.text() and "lossless.png" in app.window.copies_banner.text()
    best_row = app.window.model.index(result.best)
    assert "★ best" in best_row.data(Qt.ItemDataRole.DisplayRole)


def test_filters_narrow_the_grid(qtbot, make_app, library):
    from PySide6.QtCore import QDate

    app = make_app([library])
    start_and_index(qtbot, app)
    window = app.window
    window.filter_bar.format_combo.setCurrentText("PNG")
    with qtbot.waitSignal(window.results_shown, timeout=30_000) as shown:
        drop_file(window, library / "2023" / "IMG_0001.jpg")
    assert shown.args == [1] and window.model.hits[0].path == str(library / "scan.png")
    window.filter_bar.format_combo.setCurrentIndex(0)
    window.filter_bar.folder_combo.addItem("2023", str(library / "2023"))
    window.filter_bar.folder_combo.setCurrentIndex(window.filter_bar.folder_combo.count() - 1)
    with qtbot.waitSignal(window.results_shown, timeout=30_000) as shown:
        drop_file(window, library / "2024" / "IMG_0000.jpg")
    assert shown.args == [4] and all("/2023/" in h.path for h in window.model.hits)
    window.filter_bar.folder_combo.setCurrentIndex(0)
    window.filter_bar.date_filter.setChecked(True)  # only the EXIF-dated portrait (2021-07-14) has a date taken
    window.filter_bar.date_from.setDate(QDate(2021, 7, 1))
    window.filter_bar.date_to.setDate(QDate(2021, 7, 31))
    with qtbot.waitSignal(window.results_shown, timeout=30_000) as shown:
        drop_file(window, library / "2024" / "IMG_0000.jpg")
    assert shown.args == [1] and window.model.hits[0].path == str(library / "2024" / "portrait.jpg")
