"""Names, part titles and the compare pane's message as a person reads them ([W] issue 23): a name is cut where
the names around it are alike, never where they differ; a part's title and the compare pane's message are never
clipped at a widget's edge."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QLabel

from imgsearch_desktop.app.compare_pane import ComparePane
from imgsearch_desktop.app.query_panel import Chip
from imgsearch_desktop.app.results_model import NAME_CHARS, ResultsModel
from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.core.query import Part
from imgsearch_desktop.core.store import Hit

NAMES = ["IMG_20240801_123456_2041.jpg", "IMG_20240801_123456_2042.jpg", "Ubuntu-Mate-Warm-no-logo.png",
         "Ubuntu-Mate-Radioactive-no-logo.png", "Ubuntu-Mate-Cold-no-logo.png", "Garden.jpg",
         "holiday.jpg", "holiday.jpg"]


def test_names_in_the_grid_keep_what_tells_them_apart(qtbot, tmp_path):
    model = ResultsModel(ThumbnailLoader(tmp_path / "thumbs", px=64), icon_px=180)  # the window's tiles
    model.set_hits([Hit(str(tmp_path / f"{i}" / n), 0.9, str(i), n, n, 320, 240) for i, n in enumerate(NAMES)])
    labels = [model.data(model.index(r), Qt.ItemDataRole.DisplayRole) for r in range(len(NAMES))]
    shown = [label.split("  ", 1)[1] for label in labels]
    assert all(len(s) <= NAME_CHARS for s in shown)
    metrics = QFontMetrics(QGuiApplication.font())  # one line beside the score: the grid does not wrap it
    assert all(metrics.horizontalAdvance(label) <= 180 + 24 - 12 for label in labels), labels
    assert len(set(shown[:5])) == 5  # five different names read as five different names
    assert shown[0].endswith("2041.jpg") and shown[1].endswith("2042.jpg")
    for name, colour in zip(shown[2:5], ("Warm", "Radioactive", "Cold"), strict=True):
        assert colour in name or colour[:8] in name, name
    assert shown[5:] == ["Garden.jpg", "holiday.jpg", "holiday.jpg"]  # short names stay whole
    model.drop({str(tmp_path / "1" / NAMES[1])})  # a tile gone: the names follow the rows that are left
    assert model.data(model.index(1), Qt.ItemDataRole.DisplayRole).split("  ", 1)[1] == shown[2]


def fits(label: QLabel, text: str, wrap: bool) -> bool:
    flags = Qt.TextFlag.TextWordWrap if wrap else Qt.TextFlag.TextSingleLine
    need = QFontMetrics(label.font()).boundingRect(label.contentsRect(), int(flags), text)
    return need.width() <= label.contentsRect().width() and need.height() <= label.contentsRect().height()


def test_a_parts_title_is_cut_with_an_ellipsis_not_clipped(qtbot, tmp_path):
    name = "Ubuntu-Mate-Radioactive-no-logo-3840x2160.png"
    chip = Chip(Part(path=str(tmp_path / name)))
    qtbot.addWidget(chip)
    chip.resize(230, 70)  # the query pane's width
    chip.show()
    qtbot.waitExposed(chip)
    shown = QLabel.text(chip.title)  # what is painted, not the whole title
    assert "…" in shown and shown.endswith(".png") and shown.startswith("Ubuntu")
    assert fits(chip.title, shown, wrap=False)
    assert chip.title.toolTip() == str(tmp_path / name)
    sentence = Chip(Part(text="a snowy mountain at dawn above a frozen lake"))
    qtbot.addWidget(sentence)
    assert QLabel.text(sentence.title) == "“a snowy mountain at dawn above a frozen lake”"  # a sentence wraps


def test_the_compare_panes_message_wraps_in_its_half(qtbot, tmp_path):
    pane = ComparePane(ThumbnailLoader(tmp_path / "previews", px=256))
    qtbot.addWidget(pane)
    pane.resize(520, 420)
    pane.show()
    qtbot.waitExposed(pane)
    picture = pane.pictures[0]
    assert picture.text().startswith("Select a photo to compare")
    assert picture.width() < QFontMetrics(picture.font()).horizontalAdvance(picture.text())  # one line is too wide
    assert fits(picture, picture.text(), wrap=picture.wordWrap()) and picture.wordWrap()
