"""Text in photos in the window: a tile found by its words says so, its menu copies the text read in it, and the
OCR engine's import leaves Qt's environment alone."""

from __future__ import annotations

import importlib.metadata
import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from imgsearch_desktop.app.results_grid import ResultsGrid
from imgsearch_desktop.app.results_model import ResultsModel
from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.core.store import Hit
from tests.photos import write_photo

LINES = [{"text": "Ponte di Rialto", "box": [10, 10, 100, 20], "score": 0.99},
         {"text": "Vaporetto 1", "box": [10, 40, 80, 20], "score": 0.97}]


def test_a_tile_found_by_text_says_so_and_its_menu_copies_the_text(qtbot, tmp_path, monkeypatch):
    paths = [write_photo(tmp_path / f"p{i}.jpg", seed=40 + i) for i in range(2)]
    by_text = Hit(str(paths[0]), 0.2, "a", "p0.jpg", "p0.jpg", 320, 240, text_lines=LINES, matched="both")
    by_meaning = Hit(str(paths[1]), 0.9, "b", "p1.jpg", "p1.jpg", 320, 240, matched="meaning")
    loader = ThumbnailLoader(tmp_path / "thumbs", px=64)
    model = ResultsModel(loader, icon_px=64)
    model.set_hits([by_text, by_meaning])
    grid = ResultsGrid(icon_px=64)
    qtbot.addWidget(grid)
    grid.setModel(model)
    labels = [model.data(model.index(r), Qt.ItemDataRole.DisplayRole) for r in range(2)]
    assert labels[0].endswith("\nmatched by text") and "matched by text" not in labels[1]

    menus: list = []
    monkeypatch.setattr(grid, "popup", lambda menu, pos: menus.append(menu))
    for row in range(2):
        grid.show_menu(model.index(row), grid.visualRect(model.index(row)).center())
    first, second = ({a.text(): a for a in m.actions()} for m in menus)
    assert "Copy text in photo" in first and "Copy text in photo" not in second
    first["Copy text in photo"].trigger()
    assert QGuiApplication.clipboard().text() == "Ponte di Rialto\nVaporetto 1"
    qtbot.waitUntil(model.thumbnails_ready, timeout=20_000)
    loader.pool.waitForDone()


def test_loading_the_ocr_engine_leaves_qts_environment_alone(qtbot):
    from imgsearch_desktop.core.analyses.text import default_reader

    before = {k: os.environ.get(k) for k in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR", "LD_LIBRARY_PATH")}
    default_reader()  # imports cv2 (the headless build) and RapidOCR, loads the three models
    assert {k: os.environ.get(k) for k in before} == before
    with pytest.raises(importlib.metadata.PackageNotFoundError):  # the GUI build of OpenCV (its own Qt) stays out
        importlib.metadata.distribution("opencv-python")


def test_the_preview_outlines_the_matched_words(qtbot, tmp_path):
    from imgsearch_desktop.app.preview import MATCH_COLOUR, PreviewPane
    from tests.app.gui import SCREENSHOTS
    from tests.text_photos import draw_words, need_photos, text_photo

    need_photos()
    path = text_photo(tmp_path / "bridge.jpg", "", index=2, size=(1200, 800))
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
    box = draw_words(im, "Ponte di Rialto", at=(0.1, 0.3), height=0.08)
    im.save(path, quality=92)
    lines = [{"text": "Ponte di Rialto", "box": list(box), "score": 0.99}]
    found = Hit(str(path), 0.3, "a", "bridge.jpg", "bridge.jpg", 1200, 800, text_lines=lines, matched="text",
                matched_terms=("rial",))
    model = ResultsModel(ThumbnailLoader(tmp_path / "thumbs", px=64), icon_px=64)
    grid = ResultsGrid(icon_px=64)
    grid.setModel(model)
    preview = PreviewPane()
    qtbot.addWidget(grid)
    qtbot.addWidget(preview)
    preview.resize(1000, 700)
    preview.show()

    def colour_at_box(hit) -> str:
        model.set_hits([hit])
        grid.setCurrentIndex(model.index(0))
        with qtbot.waitSignal(preview.shown, timeout=20_000):
            preview.open(grid, 0)
        image = preview.pixmap.toImage()
        x, y = box[0] + box[2] // 2, box[1] - 4  # the outline's top edge, mid-way (the pixmap is the photo's size)
        return image.pixelColor(x, y).name()

    assert colour_at_box(found) == MATCH_COLOUR
    SCREENSHOTS.mkdir(exist_ok=True)
    preview.grab().save(str(SCREENSHOTS / "preview-text-boxes.png"))
    by_meaning = Hit(str(path), 0.3, "a", "bridge.jpg", "bridge.jpg", 1200, 800, text_lines=lines, matched="meaning")
    assert colour_at_box(by_meaning) != MATCH_COLOUR  # found by meaning only: nothing outlined
    preview.pool.waitForDone()


def test_the_window_reads_the_text_in_photos_and_finds_them_by_it(qtbot, make_app, tmp_path):
    """The window's own indexing runs the text analysis after the CLIP pass (with faces, one decode a photo):
    the photos are searchable first, then found by the words on them."""
    from imgsearch_desktop.core.query import TEXT, Query, run_query
    from tests.app.gui import wait_indexed
    from tests.text_photos import text_photo

    root = tmp_path / "Pictures"
    sign = text_photo(root / "sign.jpg", "Ponte di Rialto", index=0, height=0.08)
    text_photo(root / "plain.jpg", "", index=6)
    app = make_app([root], text=True)
    phases, clip_pass = [], []
    app.worker.analysing.connect(phases.append)
    app.worker.finished.connect(clip_pass.append)
    wait_indexed(qtbot, app)  # the job and its analyses
    assert [s.indexed for s in clip_pass] == [2] and phases == ["Finding faces and reading text in photos"]
    assert app.window.index_status.message.text().startswith("Up to date · 2 photos analysed")
    hits = run_query(app.worker.embedder, app.worker.store, Query(words="rialto", k=5)).hits
    assert [h.path for h in hits] == [str(sign)] and hits[0].matched == TEXT
    assert "Ponte di Rialto" in (hits[0].text_lines or [{}])[0].get("text", "")
