"""What the preview and the actions on a selection need from a grid of photos, whatever widget draws it.

Two grids show photos: the results (a QListView over ResultsModel) and the library's timeline (its own scroll area
with month headers, app/library_view.TimelineGrid). Both models answer ``results_model.PathRole``; the rest — which
tile is current, which are selected, showing a tile again — is this small interface. The timeline grid implements
it itself; a QAbstractItemView gets it from ``ItemViewTiles``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from PySide6.QtCore import QAbstractItemModel
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractItemView, QMenu, QWidget

from imgsearch_desktop.core.store import readable_path


@runtime_checkable
class Tiles(Protocol):
    def tiles_widget(self) -> QWidget:
        """The widget that has the keys (and parents a dialog)."""

    def tiles_model(self) -> QAbstractItemModel:
        """The model whose rows are the tiles (PathRole answers each tile's path)."""

    def current_row(self) -> int:
        """The current tile's row, -1 when none."""

    def selected_rows(self) -> list[int]:
        """The selected tiles' rows, in grid order."""

    def show_row(self, row: int) -> None:
        """Make ``row`` the current (and only selected) tile, scrolling only if it is off screen; take the focus."""

    def hold_row(self, row: int) -> None:
        """Keep ``row``'s photo loaded though it may be off screen (the preview shows it); -1: none."""


class ItemViewTiles:
    """The interface over a QAbstractItemView (the results grid)."""

    def __init__(self, view: QAbstractItemView) -> None:
        self.view = view

    def tiles_widget(self) -> QWidget:
        return self.view

    def tiles_model(self) -> QAbstractItemModel:
        return self.view.model()

    def current_row(self) -> int:
        index = self.view.currentIndex()
        return index.row() if index.isValid() else -1

    def selected_rows(self) -> list[int]:
        selection = self.view.selectionModel()
        return sorted({i.row() for i in selection.selectedIndexes()}) if selection else []

    def show_row(self, row: int) -> None:
        index = self.view.model().index(row, 0)
        if self.view.currentIndex() != index:
            self.view.setCurrentIndex(index)
        self.view.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)
        self.view.setFocus()

    def hold_row(self, row: int) -> None:
        pass  # every row of the results is in memory


def tiles_of(grid: Tiles | QAbstractItemView) -> Tiles:
    return ItemViewTiles(grid) if isinstance(grid, QAbstractItemView) else grid


def photo_menu(menu: QMenu, grid, path: str, folder: str, extra: tuple = (), text: str = "") -> None:
    """One photo's menu, the same on every grid (the results and the timeline): ``grid`` has the tile signals
    (preview/open/reveal/similar requested) and ``many`` (the selection's actions, or None); ``extra``: more
    (text, slot) entries after "Search similar to this"; ``text``: the text read in the photo (copied by
    "Copy text in photo", shown only when there is some)."""
    menu.addAction("Preview", grid.preview_requested.emit)
    menu.addAction("Open in viewer", lambda: grid.open_requested.emit(path))
    menu.addAction("Reveal in folder", lambda: grid.reveal_requested.emit(folder))
    menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setText(readable_path(path)))
    if text:
        menu.addAction("Copy text in photo", lambda: QGuiApplication.clipboard().setText(text))
    menu.addSeparator()
    menu.addAction("Search similar to this", lambda: grid.similar_requested.emit(path))
    for label, slot in extra:
        menu.addAction(label, slot)
    if grid.many is not None:
        menu.addSeparator()
        menu.addAction("Move to the trash…", grid.many.confirm_trash)
