"""The folder tree: every folder that holds photos, at any depth, under its library folder, with its photo count.

Choosing one narrows what the window shows (the timeline, and a query through the filter bar's folder filter) to
the photos in it and below it. The counts come from one aggregation of the index, off the main thread.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.core.library import FolderNode, folder_tree

log = logging.getLogger(__name__)
PathRole = Qt.ItemDataRole.UserRole + 1


class FolderTree(QTreeWidget):
    folder_chosen = Signal(str)  # the folder ("" = all photos)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setUniformRowHeights(True)
        self.setAccessibleName("Folders")
        self.store = None
        self.chosen = ""
        self._known: set[str] = set()  # the library folders shown before (their open/closed state is the user's)
        self.all_item = QTreeWidgetItem(["All photos"])
        self.all_item.setData(0, PathRole, "")
        self.addTopLevelItem(self.all_item)
        self.currentItemChanged.connect(self._on_current)

    def attach(self, store) -> None:
        self.store = store
        self.reload()

    def reload(self) -> None:
        store = self.store
        if store is not None:
            run_call(store.folder_counts, self.show_counts, lambda exc: log.info("folder counts failed: %s", exc),
                     owner=self)

    def show_counts(self, counts: dict[tuple[str, str], int]) -> None:
        """Rebuild from photos per (library folder, folder), keeping what was open and chosen."""
        expanded = {i.data(0, PathRole) for i in self._items() if i.isExpanded()}
        self.blockSignals(True)
        self.clear()
        roots = folder_tree(counts)
        self.all_item = QTreeWidgetItem([f"All photos ({sum(n.count for n in roots):,})"])
        self.all_item.setData(0, PathRole, "")
        self.addTopLevelItem(self.all_item)
        for node in roots:
            item = self._add(self.all_item, node, expanded)
            item.setExpanded(node.path in expanded or node.path not in self._known)  # a new library folder opens
        self._known = {node.path for node in roots}
        self.all_item.setExpanded(True)
        self.select_folder(self.chosen)
        self.blockSignals(False)

    def _add(self, parent: QTreeWidgetItem, node: FolderNode, expanded: set[str]) -> QTreeWidgetItem:
        item = QTreeWidgetItem([f"{node.name} ({node.count:,})"])
        item.setData(0, PathRole, node.path)
        item.setToolTip(0, node.path)
        parent.addChild(item)
        for child in node.children:
            self._add(item, child, expanded)
        item.setExpanded(node.path in expanded)
        return item

    def _items(self) -> list[QTreeWidgetItem]:
        out, stack = [], [self.topLevelItem(i) for i in range(self.topLevelItemCount())]
        while stack:
            item = stack.pop()
            out.append(item)
            stack += [item.child(i) for i in range(item.childCount())]
        return out

    def item_for(self, path: str) -> QTreeWidgetItem | None:
        return next((i for i in self._items() if i.data(0, PathRole) == path), None)

    def select_folder(self, path: str) -> None:
        """Show ``path`` as chosen (the filter bar chose it) without saying so again."""
        self.chosen = path or ""
        item = self.item_for(self.chosen) or self.all_item
        blocked = self.blockSignals(True)
        self.setCurrentItem(item)
        self.blockSignals(blocked)

    def _on_current(self, item: QTreeWidgetItem | None, _previous) -> None:
        if item is not None:
            self.chosen = item.data(0, PathRole) or ""
            self.folder_chosen.emit(self.chosen)
