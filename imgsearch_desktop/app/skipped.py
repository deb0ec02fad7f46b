"""Which files are not in the index and why: kept up to date by the indexer thread, listed in a small dialog.

A full scan re-tries every file that is not indexed, so it replaces what is known under its folders; a watcher
change set only touches the files it names.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from imgsearch_desktop.core.paths import readable_path, under


class SkippedFiles:
    """path → reason; written on the indexer thread, read (as a copy) on the main thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reasons: dict[str, str] = {}

    def replace_under(self, roots: Iterable[str], found: Iterable[tuple[str, str]]) -> None:
        roots = list(roots)
        with self._lock:
            self._reasons = {p: r for p, r in self._reasons.items() if not any(under(p, root) for root in roots)}
            self._reasons.update(found)

    def update(self, touched: Iterable[str], found: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            for path in touched:
                self._reasons.pop(path, None)
            self._reasons.update(found)

    def items(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self._reasons.items())

    def __len__(self) -> int:
        return len(self._reasons)


class SkippedDialog(QDialog):
    """The skipped files, one a row with its reason; Copy puts the list on the clipboard for a bug report."""

    def __init__(self, items: list[tuple[str, str]], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Skipped files")
        self.resize(760, 360)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{len(items):,} file{'' if len(items) == 1 else 's'} could not be indexed. "
                                "Fix or replace them and they are picked up by the next scan (F5)."))
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["File", "Why"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        for path, reason in items:
            row = QTreeWidgetItem([readable_path(path), reason])
            row.setToolTip(0, readable_path(path))
            row.setToolTip(1, reason)
            self.tree.addTopLevelItem(row)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.tree.header().resizeSection(1, 300)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        layout.addWidget(self.tree)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("Copy list")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(
            "\n".join(f"{readable_path(p)}\t{r}" for p, r in items)))
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
