"""The two halves under the bars: the query on the left, the answer on the right (hint, copies banner, grid)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from imgsearch_desktop.app.results_grid import ResultsGrid
from imgsearch_desktop.core.query import QueryResult

HINT = ("Drop a photo here to find similar shots and duplicates\n\n"
        "or type a description above — “a dog on the beach”, “ein Hund am Strand”")


class QueryPane(QWidget):
    """What was asked: the photo (its preview arrives from the thumbnail loader) or the sentence."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        title = QLabel("Query")
        title.setObjectName("sectionTitle")
        self.image = QLabel("No query yet")
        self.image.setMinimumSize(150, 150)
        self.image.setMaximumSize(260, 260)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setWordWrap(True)
        self.image.setStyleSheet("background: #eceff1; border-radius: 8px; color: #90a4ae;")
        self.caption = QLabel("")
        self.caption.setObjectName("queryCaption")
        self.caption.setWordWrap(True)
        layout.addWidget(title)
        layout.addWidget(self.image)
        layout.addWidget(self.caption)
        layout.addStretch(1)

    def show_image(self, pixmap: QPixmap, title: str, tooltip: str) -> None:
        if pixmap.isNull():
            self.image.setText(title)
        else:
            self.image.setPixmap(pixmap.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))
        self.caption.setText(title)
        self.caption.setToolTip(tooltip)

    def show_text(self, text: str) -> None:
        self.image.clear()
        self.image.setText(f"“{text}”")
        self.caption.setText("Text search")


class ResultsPane(QStackedWidget):
    """The hint (or why nothing matched) until there are hits; then the copies banner over the grid."""

    def __init__(self, icon_px: int, parent=None) -> None:
        super().__init__(parent)
        self.hint = QLabel(HINT)
        self.hint.setObjectName("hint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setMinimumWidth(120)
        self.grid = ResultsGrid(icon_px)
        self.copies_banner = QLabel()
        self.copies_banner.setObjectName("copies")
        self.copies_banner.setWordWrap(True)
        self.copies_banner.hide()
        self.results_page = QWidget()
        layout = QVBoxLayout(self.results_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.copies_banner)
        layout.addWidget(self.grid, 1)
        self.addWidget(self.hint)
        self.addWidget(self.results_page)

    def show_result(self, result: QueryResult, empty_text: str) -> None:
        self._show_copies(result)
        if result.hits:
            self.setCurrentWidget(self.results_page)
        else:
            self.hint.setText(empty_text)
            self.setCurrentWidget(self.hint)

    def _show_copies(self, result: QueryResult) -> None:
        """Above the grid: the dropped photo's duplicates, and which copy is the best version."""
        copies = result.copies
        if len(copies) < 2:
            self.copies_banner.hide()
            return
        best = result.hits[result.best]
        kinds = sorted({result.relations[i].label for i in copies})
        self.copies_banner.setText(
            f"<b>{len(copies)} copies of this picture</b> ({', '.join(kinds)}) · best version: "
            f"{best.image_name} — {best.width}×{best.height}, {(best.size or 0) / 1e6:.1f} MB")
        self.copies_banner.show()
