"""Acting on many photos at once: the tiles selected in a grid (Shift/Ctrl+click, a rubber band, Ctrl+A).

Works on any grid of photos (app/tiles.py: the results grid, the library's timeline).
The actions: search with the selected photos as the query's parts (their stored vectors), move them to the trash,
reveal their folders, copy their paths. Keys on the grid: Delete (move to trash…), Ctrl+C (copy paths); Ctrl+A is
the grid's own. In the timeline only a few pages of photos are in memory: after Ctrl+A there the actions take every
photo of the timeline (as its filters narrow it), their paths listed by the store on the pool when an action runs
(``TimelineGrid.whole_selection``), and each menu entry and dialog counts all of them.

The trash is the duplicates review's, rule for rule (core/trash.py is the only trash loop): a selected file goes
only when another indexed copy of its content stays — never the last copy of a photo — after a confirmation with
the dry run, each file re-checked on disk right before it goes, every outcome in the journal, under the per-index
write lock (one writer at a time, app/__init__.py). Planning reads the index, so it runs on the pool, as does the
trash itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import QMimeData, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QMenu, QMessageBox

from imgsearch_desktop.app.problems import explain
from imgsearch_desktop.app.results_model import index_path
from imgsearch_desktop.app.tiles import Tiles, tiles_of
from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.core.dupes import keep_policy, plural
from imgsearch_desktop.core.locks import index_lock
from imgsearch_desktop.core.store import readable_path
from imgsearch_desktop.core.trash import JOURNAL, dry_run, last_copies, selection_plan, trash_plan

MAX_REVEALED = 10  # folders opened at once by "Reveal"; more would bury the desktop in windows
MAX_SEARCH_PARTS = 200  # "Search with these photos": a query of more parts than this says little


class SelectionActions(QObject):
    search_requested = Signal(list)  # paths: search with these photos as the query's parts
    reveal_requested = Signal(object)  # a folder to show in the file manager
    trashed = Signal(object, object)  # the TrashReport, and the Problem that stopped it part-way (None if none)
    nothing_to_trash = Signal(str)  # why nothing was asked (every selected photo is its last copy)

    def __init__(self, grid: Tiles | QAbstractItemView, store: Callable[[], object], settings, dirs) -> None:
        tiles = tiles_of(grid)
        super().__init__(tiles.tiles_widget())
        self.tiles, self.view = tiles, tiles.tiles_widget()
        self.store, self.settings, self.dirs = store, settings, dirs
        self.busy = False
        if isinstance(grid, QAbstractItemView):
            grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)  # Shift, Ctrl, rubber band
            if hasattr(grid, "setSelectionRectVisible"):  # a list view's rubber band, drawn as it is dragged
                grid.setSelectionRectVisible(True)
        self._key(QKeySequence.StandardKey.Delete, self.confirm_trash)
        self._key(QKeySequence.StandardKey.Copy, self.copy_paths)

    def _key(self, keys, slot) -> None:
        action = QAction(self.view)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        action.triggered.connect(slot)
        self.view.addAction(action)

    def paths(self) -> list[str]:
        """The selected photos in grid order (one per path), or the current tile when nothing is selected."""
        tiles = self.tiles
        rows = tiles.selected_rows() or ([tiles.current_row()] if tiles.current_row() >= 0 else [])
        model = tiles.tiles_model()
        return list(dict.fromkeys(p for r in rows if (p := index_path(model.index(r, 0))) is not None))

    def count(self) -> int:
        """How many photos the actions take: the whole timeline's after Ctrl+A there, else the selected tiles'."""
        whole = self._whole()
        return whole[0] if whole is not None else len(self.paths())

    def _whole(self):
        whole = getattr(self.tiles, "whole_selection", None)  # the timeline's; the results grid has every row
        return whole() if whole is not None else None

    def _with_paths(self, then: Callable[[list[str]], None]) -> None:
        """``then(paths)``: at once, or once the store has listed the whole timeline's (on the pool)."""
        whole = self._whole()
        if whole is None:
            then(self.paths())
            return
        self.busy = True

        def listed(paths: list[str]) -> None:
            self.busy = False
            then(paths)

        run_call(whole[1], listed, self._list_failed, owner=self)

    def fill_menu(self, menu: QMenu) -> None:
        """The selection's entries, for the grid's right-click menu when several tiles are selected."""
        n = self.count()
        search = menu.addAction(f"Search with these {n:,} photos", self.search_with)
        if n > MAX_SEARCH_PARTS:
            search.setText(f"Search with these photos (at most {MAX_SEARCH_PARTS})")
            search.setEnabled(False)
        menu.addAction("Reveal in folder", self.reveal)
        menu.addAction(f"Copy {n:,} paths", self.copy_paths)
        menu.addSeparator()
        menu.addAction(f"Move {n:,} photos to the trash…", self.confirm_trash)

    # ----- the actions -----
    def search_with(self) -> None:
        if not self.busy and self.count() <= MAX_SEARCH_PARTS:
            self._with_paths(lambda paths: paths and self.search_requested.emit(paths))

    def copy_paths(self) -> None:
        if not self.busy:
            self._with_paths(self._copy)

    def _copy(self, paths: list[str]) -> None:
        """One path a line as text, and as file URLs (a file manager pastes those)."""
        if not paths:
            return
        mime = QMimeData()
        mime.setText("\n".join(readable_path(p) for p in paths))
        mime.setUrls([QUrl.fromLocalFile(readable_path(p)) for p in paths])
        QGuiApplication.clipboard().setMimeData(mime)

    def reveal(self) -> None:
        if not self.busy:
            self._with_paths(self._reveal)

    def _reveal(self, paths: list[str]) -> None:
        for folder in list(dict.fromkeys(os.path.dirname(p) for p in paths))[:MAX_REVEALED]:
            self.reveal_requested.emit(folder)

    def confirm_trash(self) -> None:
        """Plan on the pool (it reads the index), then ask with the dry run, then trash on the pool."""
        if not self.busy and self.store() is not None:
            self._with_paths(self._plan_trash)

    def _plan_trash(self, paths: list[str]) -> None:
        store = self.store()
        if store is None or not paths:
            return
        policy = keep_policy(self.settings)
        self.busy = True
        run_call(lambda: selection_plan(paths, store, policy), lambda plan: self._ask(plan, len(paths)),
                 self._failed, owner=self)

    def _ask(self, plan, picked: int) -> None:
        self.busy = False
        lone = last_copies(plan)
        movable = picked - lone
        if movable <= 0:
            whose = "the selected photo is" if picked == 1 else "each selected photo is"
            self.nothing_to_trash.emit(f"Nothing was moved to the trash: {whose} the last copy of its picture (no "
                                       "other copy is indexed), and only copies are ever removed.")
            return
        stays = ""
        if lone:
            they = "stays: it is" if lone == 1 else "stay: they are"
            stays = (f"\n\n{plural(lone, 'selected photo')} {they} the last copy (no other copy is indexed); the "
                     "last copy of a photo never goes.")
        answer = QMessageBox.question(
            self.view, "Move to the trash",
            f"Move the selected photos to the trash?\n\nThis {dry_run(plan)}.{stays}\n\n"
            "Only copies go: an identical copy of each stays where it is, and each file is checked again right "
            "before it goes.")
        if answer == QMessageBox.StandardButton.Yes:
            self.trash(plan)

    def trash(self, plan) -> None:
        store, settings, data = self.store(), self.settings, self.dirs.data
        journal, refs = data / JOURNAL, list(settings.references)
        self.busy = True
        run_call(lambda: trash_plan(plan, store, journal, refs, index_lock(data, settings.index)),
                 self._done, self._failed, owner=self)

    def _done(self, outcome) -> None:
        self.busy = False
        report, exc = outcome
        self.trashed.emit(report, explain(exc, doing="moving files to the trash") if exc else None)

    def _list_failed(self, exc: BaseException) -> None:
        self.busy = False
        self.nothing_to_trash.emit(f"The selected photos could not be listed: {explain(exc).sentence}")

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.nothing_to_trash.emit(f"Nothing was moved to the trash: {explain(exc).sentence}")
