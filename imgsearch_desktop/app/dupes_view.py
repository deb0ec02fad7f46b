"""The Duplicates window: scan the library in the background, review groups, pick the keeper, trash the rest."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from imgsearch_desktop.app.workers import run_task
from imgsearch_desktop.core.dupes import SIMILAR_COSINE, DupeFinder, Group, Member, NotDuplicates, under
from imgsearch_desktop.core.locks import index_lock
from imgsearch_desktop.core.store import display
from imgsearch_desktop.core.trash import trash_group

MemberRole = Qt.ItemDataRole.UserRole + 2


class _Progress(QObject):
    changed = Signal(int, int)


class DupesView(QDialog):
    scanned = Signal(int)  # number of groups shown
    trashed = Signal(int)  # number of files moved to the trash

    def __init__(self, store, settings, dirs, parent=None) -> None:
        super().__init__(parent)
        self.store, self.settings, self.dirs = store, settings, dirs
        self.groups: list[Group] = []
        self.not_duplicates = NotDuplicates(dirs.data / "not-duplicates.json")
        self.journal = dirs.data / "trash-journal.jsonl"
        self._cancel = threading.Event()
        self._progress = _Progress()
        self._progress.changed.connect(self._on_progress)
        self.setWindowTitle("Duplicates and similar shots")
        self.resize(1000, 680)
        self._build()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.level = QComboBox()
        self.level.addItem("Identical files", "exact")
        self.level.addItem("Same picture (resized, converted, recompressed)", "near")
        self.level.addItem("Similar shots", "similar")
        self.level.setCurrentIndex(1)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.5, 1.0)
        self.threshold.setSingleStep(0.01)
        self.threshold.setDecimals(3)
        self.threshold.setValue(SIMILAR_COSINE)
        self.threshold.setToolTip("Cosine similarity for similar shots")
        self.folder = QComboBox()
        self.folder.addItem("Whole library", "")
        for f in self.settings.folders:
            self.folder.addItem(f, f)
        self.scan_button = QPushButton("Scan")
        self.scan_button.clicked.connect(self.scan)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(160)
        self.progress.hide()
        for w in (QLabel("Find"), self.level, QLabel("Similarity ≥"), self.threshold, self.folder, self.scan_button,
                  self.progress):
            bar.addWidget(w)
        bar.addStretch(1)
        layout.addLayout(bar)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["File", "Relation", "Similarity", "Size", "Pixels"])
        self.tree.setColumnWidth(0, 520)
        self.tree.itemDoubleClicked.connect(lambda item, _c: self.keep_item(item))
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setPlaceholderText("Actions appear here: what went to the trash, what was kept and why.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.log)
        split.setStretchFactor(0, 4)
        layout.addWidget(split, 1)

        self.summary = QLabel("Scan to find duplicates. Double-click a file to keep it instead; checked files go to "
                              "the trash.")
        buttons = QHBoxLayout()
        keep = QPushButton("Keep this one")
        keep.clicked.connect(lambda: self.keep_item(self.tree.currentItem()))
        not_dupe = QPushButton("Not a duplicate")
        not_dupe.clicked.connect(lambda: self.not_a_duplicate(self.tree.currentItem()))
        export = QPushButton("Export…")
        export.clicked.connect(self._export_dialog)
        self.trash_button = QPushButton("Move checked to trash…")
        self.trash_button.clicked.connect(self.confirm_trash)
        for w in (keep, not_dupe, export):
            buttons.addWidget(w)
        buttons.addStretch(1)
        buttons.addWidget(self.trash_button)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)

    # ----- scanning -----
    def scan(self) -> None:
        level, threshold = self.level.currentData(), self.threshold.value()
        folders = [self.folder.currentData()] if self.folder.currentData() else []
        finder = DupeFinder(self.store, references=self.settings.references, not_duplicates=self.not_duplicates)
        self._cancel.clear()
        self.scan_button.setEnabled(False)
        self.progress.show()

        def progress(done: int, total: int, note: str) -> bool:
            self._progress.changed.emit(done, total)  # queued to this window's thread
            return not self._cancel.is_set()

        run_task(lambda: finder.scan(level, threshold, folders, progress), self._on_scanned, self._on_failed)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _on_scanned(self, groups: list[Group]) -> None:
        self.scan_button.setEnabled(True)
        self.progress.hide()
        self.groups = groups
        self._fill()
        self.scanned.emit(len(groups))

    def _on_failed(self, message: str) -> None:
        self.scan_button.setEnabled(True)
        self.progress.hide()
        self.log.appendPlainText(f"error: {message}")

    def reject(self) -> None:
        self._cancel.set()
        super().reject()

    # ----- the tree -----
    def _fill(self) -> None:
        self.tree.clear()
        for group in self.groups:
            top = QTreeWidgetItem([f"{group.level} · {len(group.members)} files · "
                                   f"{group.wasted_bytes / 1e6:.1f} MB to free", "", "", "", ""])
            font = QFont()
            font.setBold(True)
            top.setFont(0, font)
            self.tree.addTopLevelItem(top)
            for member in group.members:
                child = QTreeWidgetItem(self._columns(group, member))
                child.setData(0, MemberRole, member)
                child.setToolTip(0, display(member.photo.path))
                if member.photo is group.keep:
                    child.setFont(0, font)
                elif not self._protected(member):
                    child.setCheckState(0, Qt.CheckState.Checked)
                top.addChild(child)
            top.setExpanded(True)
        total = sum(g.wasted_bytes for g in self.groups)
        self.summary.setText(f"{len(self.groups)} groups · {total / 1e6:.1f} MB in copies. Double-click a file to "
                             "keep it instead; checked files go to the trash.")

    def _columns(self, group: Group, m: Member) -> list[str]:
        relation = "keep" if m.photo is group.keep else m.relation
        if m.photo is not group.keep and self._protected(m):
            relation += " (reference folder)"
        p = m.photo
        return [display(p.path), relation, f"{m.score:.4f}", f"{p.size / 1e6:.2f} MB", f"{p.width}×{p.height}"]

    def _protected(self, m: Member) -> bool:
        return under(m.photo.path, self.settings.references)

    def _group_of(self, item: QTreeWidgetItem | None) -> tuple[Group, Member] | None:
        if item is None or item.parent() is None:
            return None
        group = self.groups[self.tree.indexOfTopLevelItem(item.parent())]
        return group, item.data(0, MemberRole)

    def keep_item(self, item: QTreeWidgetItem | None) -> None:
        found = self._group_of(item)
        if found is None:
            return
        group, member = found
        group.keep = member.photo
        group.members = [m for m in group.members if m is member] + [m for m in group.members if m is not member]
        for m in group.members:
            m.score = float(member.photo.vector @ m.photo.vector)
        self._fill()

    def not_a_duplicate(self, item: QTreeWidgetItem | None) -> None:
        """Remember the pair (keeper, this file) as different pictures and drop it from the group."""
        found = self._group_of(item)
        if found is None or found[1].photo is found[0].keep:
            return
        group, member = found
        self.not_duplicates.add(group.keep.sha256, member.photo.sha256)
        group.members.remove(member)
        if len(group.members) < 2:
            self.groups.remove(group)
        self.log.appendPlainText(f"not a duplicate: {display(member.photo.path)} (remembered)")
        self._fill()

    def checked(self) -> list[tuple[Group, list[str]]]:
        out = []
        for gi, group in enumerate(self.groups):
            top = self.tree.topLevelItem(gi)
            paths = [top.child(i).data(0, MemberRole).photo.path for i in range(top.childCount())
                     if top.child(i).checkState(0) == Qt.CheckState.Checked]
            if paths:
                out.append((group, paths))
        return out

    # ----- actions -----
    def confirm_trash(self) -> None:
        plan = self.checked()
        count = sum(len(p) for _, p in plan)
        if not count:
            return
        size = sum(m.photo.size for g, paths in plan for m in g.members if m.photo.path in paths)
        answer = QMessageBox.question(self, "Move to trash",
                                      f"Move {count} files ({size / 1e6:.1f} MB) to the trash?\n"
                                      "The file marked keep in each group stays where it is.")
        if answer == QMessageBox.StandardButton.Yes:
            self.trash(plan)

    def trash(self, plan: list[tuple[Group, list[str]]]) -> None:
        store, journal, refs, data = self.store, self.journal, self.settings.references, self.dirs.data

        def work():
            outcomes = []
            with index_lock(data, self.settings.index):  # one writer: the indexer waits while we update the index
                for group, paths in plan:
                    outcomes += [(group, o) for o in trash_group(group, paths, store, journal, refs)]
            return outcomes

        self.trash_button.setEnabled(False)
        run_task(work, self._on_trashed, self._on_trash_failed)

    def _on_trashed(self, outcomes) -> None:
        self.trash_button.setEnabled(True)
        moved = 0
        for group, o in outcomes:
            if o.trashed:
                moved += 1
                self.log.appendPlainText(f"trashed {display(o.path)} (kept {display(group.keep.path)})")
                group.members = [m for m in group.members if m.photo.path != o.path]
            else:
                self.log.appendPlainText(f"kept {display(o.path)}: {o.reason}")
        self.groups = [g for g in self.groups if len(g.members) > 1]
        self._fill()
        self.trashed.emit(moved)

    def _on_trash_failed(self, message: str) -> None:
        self.trash_button.setEnabled(True)
        self.log.appendPlainText(f"nothing trashed: {message}")

    # ----- export -----
    def export(self, path: Path) -> None:
        if path.suffix.lower() == ".json":
            path.write_text("\n".join(json.dumps(g.as_json(), ensure_ascii=False) for g in self.groups) + "\n")
            return
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["group", "level", "role", "path", "size", "width", "height", "score"])
            for i, g in enumerate(self.groups, 1):
                for m in g.members:
                    p = m.photo
                    writer.writerow([i, g.level, "keep" if p is g.keep else m.relation, display(p.path), p.size,
                                     p.width, p.height, f"{m.score:.6f}"])

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export groups", "duplicates.csv",
                                              "CSV (*.csv);;JSON Lines (*.json)")
        if path:
            self.export(Path(path))
