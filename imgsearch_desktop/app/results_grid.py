"""The grid of hits: icon mode over the results model, with the same actions from mouse and keyboard.

Space, Enter or a double-click opens the preview (app/preview.attach); right-click, the Menu key and Shift+F10 open
the menu of the current tile — or, with several tiles selected, the selection's menu (app/selection.py). The grid
only asks: the window decides how to open a file and says so when no viewer is set up.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QListView, QMenu

from imgsearch_desktop.app.results_model import HitRole
from imgsearch_desktop.app.tiles import photo_menu
from imgsearch_desktop.core.analyses.text import text_in_photo


class ResultsGrid(QListView):
    open_requested = Signal(object)  # path (object: a non-UTF-8 name must arrive intact)
    reveal_requested = Signal(object)  # the folder of a path
    similar_requested = Signal(object)  # search with this photo
    more_like_requested = Signal(object)  # add this photo's stored vector to the query, "more like"
    less_like_requested = Signal(object)  # … "less like"
    preview_requested = Signal()  # the menu's "Preview": the current tile, large

    def __init__(self, icon_px: int, parent=None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(False)  # a copy's tile has a second line: sized by its own hint
        self.setIconSize(QSize(icon_px, icon_px))
        self.setGridSize(QSize(icon_px + 24, icon_px + 64))  # room for 3 lines: score + name, and a copy's label
        self.setSpacing(6)
        self.setWordWrap(True)
        # Qt elides a two-line label down to one line: names are shortened in the model instead
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu_at)
        self.many = None  # the selection's actions (SelectionActions), set by the window

    def setModel(self, model) -> None:
        super().setModel(model)
        model.modelReset.connect(self._current_first)

    def _current_first(self) -> None:
        """New results: the first tile is the current one, so Enter or the Menu key acts at once (after "Search
        similar" the grid keeps the focus, and a reset model has no current tile)."""
        if self.model().rowCount():
            self.setCurrentIndex(self.model().index(0, 0))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Shift+F10 and the Menu key: the current tile's menu, as a right-click gives it.
        shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        if event.key() == Qt.Key.Key_Menu or (event.key() == Qt.Key.Key_F10 and shift):
            self.menu_for_current()
            event.accept()
            return
        super().keyPressEvent(event)

    def _menu_at(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if not index.isValid():  # the Menu key reports a point that need not be on a tile
            index = self.currentIndex()
            pos = self.visualRect(index).center()
        self.show_menu(index, pos)

    def menu_for_current(self) -> None:
        index = self.currentIndex()
        if not index.isValid() and self.model() is not None and self.model().rowCount():
            index = self.model().index(0, 0)
            self.setCurrentIndex(index)
        self.show_menu(index, self.visualRect(index).center())

    def show_menu(self, index: QModelIndex, pos: QPoint) -> None:
        if not index.isValid():
            return
        menu = QMenu(self)
        selected = self.selectionModel().selectedIndexes()
        if self.many is not None and len(selected) > 1 and index in selected:
            self.many.fill_menu(menu)
            self.popup(menu, self.viewport().mapToGlobal(pos))
            return
        hit = index.data(HitRole)
        path = hit.path
        photo_menu(menu, self, path, os.path.dirname(path),
                   extra=(("More like this", lambda: self.more_like_requested.emit(path)),
                          ("Less like this", lambda: self.less_like_requested.emit(path))),
                   text=text_in_photo(hit.text_lines))
        self.popup(menu, self.viewport().mapToGlobal(pos))

    def popup(self, menu: QMenu, global_pos: QPoint) -> None:
        menu.exec(global_pos)  # modal until an entry is chosen (tests replace this method)
