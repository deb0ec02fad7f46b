"""The Duplicates window's two smaller widgets (app/dupes_view.py holds the window and its jobs): GroupTree, the
groups drawn as a tree (a header row over each group's files, a thumbnail on every row) with the review keys, and
SetAsideDialog, the files marked "not a duplicate" with Undo. Both run on the main thread only."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from imgsearch_desktop.app.compare_pane import human_size
from imgsearch_desktop.app.results_model import placeholder
from imgsearch_desktop.app.thumbnails import centred_image
from imgsearch_desktop.core.dupes import Group, Member, NotDuplicates
from imgsearch_desktop.core.dupes.review import file_key, header_text
from imgsearch_desktop.core.store import readable_path

MemberRole = Qt.ItemDataRole.UserRole + 2  # a file row's Member
ICON_PX = 72


class GroupTree(QTreeWidget):
    """The groups; review keys: Up/Down (files only, headers skipped), Space, K, N."""

    keep = Signal()
    not_duplicate = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(6)
        # The checkbox has a column of its own, so every row's thumbnail lines up (a keeper has no checkbox).
        self.setHeaderLabels(["Trash", "File", "Relation", "Similarity", "Size", "Pixels"])
        self.setIconSize(QSize(ICON_PX, ICON_PX))
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long folder keeps its start and its end
        for col, width in enumerate((66, 280, 165, 66, 64)):
            self.setColumnWidth(col, width)
        self.setAlternatingRowColors(True)
        self.filling = False  # itemChanged while the tree is built is not the user's doing
        self.icons: dict[str, QIcon] = {}
        self._items: dict[str, list[QTreeWidgetItem]] = {}  # each file's rows, for its icon when it comes
        self._loading_icon = QIcon(placeholder(ICON_PX))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = Qt.Key(event.key()), event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if mods == Qt.KeyboardModifier.NoModifier:
            if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
                self.step(-1 if key == Qt.Key.Key_Up else 1)
                return
            if key == Qt.Key.Key_Space:
                self.toggle_current()
                return
            signal = {Qt.Key.Key_K: self.keep, Qt.Key.Key_N: self.not_duplicate}.get(key)
            if signal is not None:
                signal.emit()
                return
        super().keyPressEvent(event)

    def file_items(self) -> list[QTreeWidgetItem]:
        return [self.topLevelItem(g).child(i) for g in range(self.topLevelItemCount())
                for i in range(self.topLevelItem(g).childCount())]

    def step(self, direction: int) -> None:
        """To the next (or previous) file row; from a header, to its first file (or the group above's last)."""
        rows = self.file_items()
        if not rows:
            return
        current = self.currentItem()
        if current in rows:
            i = rows.index(current) + direction
        elif current is not None:  # a header: its own first file going down, the file above it going up
            first = current.child(0)
            i = rows.index(first) if direction > 0 else rows.index(first) - 1
        else:
            i = 0
        self.setCurrentItem(rows[max(0, min(i, len(rows) - 1))])

    def toggle_current(self) -> None:
        """Space: check or uncheck the selected file; on a group's header, all of its files at once."""
        item = self.currentItem()
        if item is None:
            return
        rows = [item] if item.parent() is not None else [item.child(i) for i in range(item.childCount())]
        rows = [r for r in rows if r.flags() & Qt.ItemFlag.ItemIsUserCheckable]
        if not rows:
            return
        on = not all(r.checkState(0) == Qt.CheckState.Checked for r in rows)
        for r in rows:
            r.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    # ----- drawing the groups -----
    def fill(self, groups: Sequence[Group], ticked: Callable[[Group, Member], bool]) -> bool:
        """Redraw every group, each member ticked as ``ticked`` says; the selection stays on the same file (or on
        the row where it was, when that file left). False when no file is left to select."""
        rows = self.file_items()
        current = self.currentItem()
        old_row = rows.index(current) if current in rows else 0
        current_key = file_key(current.data(0, MemberRole).photo) if current in rows else None  # (the old groups)
        self.filling = True
        try:
            self.clear()
            self._items = {}
            bold = QFont()
            bold.setBold(True)
            for group in groups:
                top = QTreeWidgetItem([header_text(group)])
                top.setFont(0, bold)
                top.setToolTip(0, f"{group.why}\nkeeper chosen by: {group.keep_why}")
                top.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                for col in range(self.columnCount()):
                    top.setBackground(col, QBrush(QColor("#e3eaf0")))
                self.addTopLevelItem(top)
                top.setFirstColumnSpanned(True)
                for member in group.members:
                    member.ticked = ticked(group, member)
                    top.addChild(self._row(group, member, bold))
                top.setExpanded(True)
        finally:
            self.filling = False
        rows = self.file_items()
        target = None
        if current_key is not None:
            target = next((r for r in rows if file_key(r.data(0, MemberRole).photo) == current_key), None)
        if target is None and rows:
            target = rows[min(old_row, len(rows) - 1)]
        if target is not None:
            self.setCurrentItem(target)
        # Icons of files no longer listed go (they come back from the disk cache in a millisecond if needed).
        self.icons = {path: icon for path, icon in self.icons.items() if path in self._items}
        return target is not None

    def _row(self, group: Group, m: Member, bold: QFont) -> QTreeWidgetItem:
        p = m.photo
        folder, name = os.path.split(readable_path(p.path))
        relation = f"keeper\n{group.keep_why}" if m.is_keeper else m.relation
        if m.quality is not None and not m.is_keeper:  # a burst's frame: what it lacks against the pick
            relation = f"{relation}\n{m.why}"
        if m.copy_of is not None:  # an identical copy of another member, not of the keeper: say of which
            relation += f"\nof {Path(m.copy_of.path).name}"
        if m.protected:
            relation += f"\n{m.protected}"
        similarity = "" if m.is_keeper else f"{m.score:.3f}"
        item = QTreeWidgetItem(["★" if m.is_keeper else "", f"{name}\n{folder}", relation, similarity,
                                human_size(p.size), f"{p.width}×{p.height}"])
        item.setData(0, MemberRole, m)
        item.setIcon(1, self.icons.get(p.path, self._loading_icon))
        also = f"\nalso reached as: {', '.join(map(readable_path, p.aliases))}" if p.aliases else ""
        tip = readable_path(p.path) + also
        item.setToolTip(1, tip)
        item.setToolTip(2, m.why)
        if m.is_keeper:
            item.setToolTip(0, "the copy kept: never trashed")
            for col in (0, 1, 2):
                item.setFont(col, bold)
        if m.is_keeper or m.protected:  # no checkbox at all: these never go to the trash
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
        else:
            item.setCheckState(0, Qt.CheckState.Checked if m.ticked else Qt.CheckState.Unchecked)
            item.setToolTip(0, "checked: goes to the trash (Space)")
        self._items.setdefault(p.path, []).append(item)
        return item

    def missing_icons(self) -> list[str]:
        """The files listed whose thumbnail has not come yet."""
        return [path for path in self._items if path not in self.icons]

    @Slot(object, QImage)
    def set_thumbnail(self, path: str, image: QImage) -> None:
        # Main thread: the only place a QPixmap is made.
        pixmap = placeholder(ICON_PX, "?") if image.isNull() else QPixmap.fromImage(centred_image(image, ICON_PX))
        self.icons[path] = QIcon(pixmap)
        for item in self._items.get(path, []):
            item.setIcon(1, self.icons[path])


class SetAsideDialog(QDialog):
    """What the user marked "not a duplicate", newest first, with Undo (the file may be grouped again)."""

    undone = Signal(list)  # the names undone, once per click

    def __init__(self, not_duplicates: NotDuplicates, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.not_duplicates = not_duplicates
        self.setWindowTitle("Set aside: not duplicates")
        self.resize(640, 360)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Files you marked “not a duplicate” are never grouped again with the photos they "
                                "were in. Undo lets the next scan group them again."))
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        layout.addWidget(self.list, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.undo_button = buttons.addButton("Undo", QDialogButtonBox.ButtonRole.ActionRole)
        self.undo_button.clicked.connect(self.undo_selected)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.list.itemSelectionChanged.connect(
            lambda: self.undo_button.setEnabled(bool(self.list.selectedItems())))
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for mark in self.not_duplicates.list():
            names = [Path(n).name for n in mark.others.values() if n] or ["the photos of its group"]
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            item = QListWidgetItem(f"{readable_path(mark.path) or mark.sha256[:12]}\n    not a duplicate of {shown}"
                                   + (f" · {mark.time[:10]}" if mark.time else ""))
            item.setData(Qt.ItemDataRole.UserRole, (mark.sha256, mark.path))
            self.list.addItem(item)
        self.undo_button.setEnabled(False)
        if not self.list.count():
            self.list.addItem("Nothing set aside.")
            self.list.item(0).setFlags(Qt.ItemFlag.NoItemFlags)

    def undo_selected(self) -> None:
        undone = []
        for item in self.list.selectedItems():
            sha256, path = item.data(Qt.ItemDataRole.UserRole)
            if self.not_duplicates.forget(sha256):
                undone.append(readable_path(path) or sha256[:12])
        self.refresh()
        if undone:
            self.undone.emit(undone)
