"""Settings → "Which copy to keep": the keep-best rules in the user's order, and the folder priority.

A self-contained box for the Settings dialog (one line adds it there): it saves its two settings itself when the
dialog is accepted, so the dialog's own code needs nothing else. What they decide is core's
``dupes.keep_policy(settings)``, the one keeper decision of the CLI, the Duplicates window and the search grid.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from imgsearch_desktop.core.dupes import DEFAULT_KEEP_RULES, folder_priority, saved_keep_rules

RuleRole = Qt.ItemDataRole.UserRole + 10


def _inside(path: str, folders) -> bool:
    """``path`` is one of ``folders`` or under one of them."""
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders if f)


class _OrderedList(QListWidget):
    """A list the user reorders by dragging, or with the Up/Down buttons beside it."""

    def __init__(self) -> None:
        super().__init__()
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)

    def move_current(self, step: int) -> None:
        row = self.currentRow()
        if row < 0 or not 0 <= row + step < self.count():
            return
        item = self.takeItem(row)
        self.insertItem(row + step, item)
        self.setCurrentRow(row + step)

    def values(self) -> list[str]:
        return [self.item(i).data(RuleRole) for i in range(self.count())]


class KeepRulesBox(QGroupBox):
    def __init__(self, settings, dirs, dialog: QDialog | None = None) -> None:
        super().__init__("Duplicates: which copy to keep")
        self.settings, self.dirs = settings, dirs
        layout = QVBoxLayout(self)
        hint = QLabel("The first rule that tells two copies apart chooses the copy to keep. Drag to reorder.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        grid = QGridLayout()
        self.rules = _OrderedList()
        for rule in saved_keep_rules(settings.keep_rules):
            item = QListWidgetItem(rule.label)
            item.setData(RuleRole, rule.value)
            item.setToolTip(rule.label)
            self.rules.addItem(item)
        self.folders = _OrderedList()
        for folder in folder_priority(settings):
            if _inside(folder, [*settings.folders, *settings.references]):  # a folder removed earlier: gone
                self._add_folder_item(folder)
        for lst, rows in ((self.rules, len(DEFAULT_KEEP_RULES)), (self.folders, 4)):  # every rule in sight
            lst.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            lst.setFixedHeight(max(lst.sizeHintForRow(0), 16) * rows + 2 * lst.frameWidth() + 4)
        grid.addWidget(self.rules, 0, 0, 2, 1)
        grid.addWidget(self._button("Up", lambda: self.rules.move_current(-1)), 0, 1)
        grid.addWidget(self._button("Down", lambda: self.rules.move_current(1)), 1, 1)
        grid.addWidget(QLabel("Folder priority (for the “folder priority” rule): keep photos in the first folder."),
                       2, 0, 1, 2)
        grid.addWidget(self.folders, 3, 0, 3, 1)
        grid.addWidget(self._button("Up", lambda: self.folders.move_current(-1)), 3, 1)
        grid.addWidget(self._button("Down", lambda: self.folders.move_current(1)), 4, 1)
        grid.addWidget(self._button("Add…", self._choose_folder), 5, 1)
        layout.addLayout(grid)
        if dialog is not None:
            # Connected while the dialog is being built: runs before the window's own reaction to "accepted".
            dialog.accepted.connect(self.save)

    def _button(self, text: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        return button

    def _add_folder_item(self, folder: str) -> None:
        item = QListWidgetItem(folder)
        item.setData(RuleRole, folder)
        self.folders.addItem(item)

    def folder_removed(self, folder: str) -> None:
        """A photo folder left the library (Settings' list above): it and its subfolders leave the priority too,
        unless they are reference folders."""
        for row in reversed(range(self.folders.count())):
            value = self.folders.item(row).data(RuleRole)
            if _inside(value, [folder]) and not _inside(value, self.settings.references):
                self.folders.takeItem(row)

    def folder_added(self, folder: str) -> None:
        if folder not in self.folders.values():
            self._add_folder_item(folder)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Priority folder", os.path.expanduser("~"))
        if folder and os.path.abspath(folder) not in self.folders.values():
            self._add_folder_item(os.path.abspath(folder))

    def save(self) -> None:
        self.settings.keep_rules = self.rules.values()
        self.settings.folder_priority = self.folders.values()
        self.settings.save(self.dirs)
