"""The Duplicates window: scan the library in the background, review groups the way people coming from dupeGuru,
digiKam or Czkawka expect (a thumbnail on every row, the selected photo side by side with its keeper, the keyboard),
choose the copy to keep, set aside what is not a duplicate, move the checked files to the trash.

The user's choices are remembered by file — its real path and its content (``Choices``, in core/dupes/review.py
with the rest of the review's Qt-free logic) — and every redraw reads them: after trashing, a rescan or "not a
duplicate", a file the user unticked is never shown ticked again, and a keeper the user chose is chosen again by
the next scan. Pre-ticks follow the tier: identical files and the same
picture are checked (all but the keeper), similar shots never.

Threading (the rules in app/__init__.py): the scan, "keep this one" (its re-check may read files), EXIF and the
pictures run on the thread pool, one job at a time per window (``_busy``), and report back to the main thread
through run_call; the main thread only builds widgets and QPixmaps.

The single-writer rule and trashing from the pool: trashing deletes the trashed files' documents from the index on a
pool thread, not on the IndexWorker. That is safe because the whole action holds the per-index write lock
(core.locks.index_lock) — the same lock the IndexWorker holds around every indexing job and a CLI ``index`` holds —
so the writers take turns, never interleave: a running indexing job finishes first (the log says the trash is
waiting), and the indexer waits for the trash. The files' deletions then reach the watcher, whose job finds the
documents already gone. Routing it through the IndexWorker would add nothing the lock does not give, and tie the
trash's report to the indexer's job protocol.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
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
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from imgsearch_desktop.app.banner import Banner
from imgsearch_desktop.app.compare_pane import ComparePane
from imgsearch_desktop.app.dupes_widgets import GroupTree, MemberRole, SetAsideDialog
from imgsearch_desktop.app.problems import Problem, address, explain
from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.app.workers import JobControl, run_call
from imgsearch_desktop.core.bursts import BurstPicks
from imgsearch_desktop.core.dupes import (
    SIMILAR_COSINE,
    DupeFinder,
    Group,
    Member,
    NotDuplicates,
    Tier,
    keep_policy,
    megabytes,
    plural,
)
from imgsearch_desktop.core.dupes.review import Choices, apply_keepers, export_groups
from imgsearch_desktop.core.locks import index_lock
from imgsearch_desktop.core.store import readable_path
from imgsearch_desktop.core.trash import JOURNAL, TrashReport, default_plan, dry_run, trash_plan

log = logging.getLogger(__name__)
PREVIEW_PX = 1024  # the compare pane's pictures: large enough for a full-screen pane


class _Signals(QObject):
    waiting = Signal()  # the trash waits for the indexer's write lock


class DupesView(QDialog):
    scanned = Signal(int)  # number of groups shown
    trashed = Signal(int)  # number of files moved to the trash
    regrouped = Signal()  # a group was redrawn around the keeper the user chose

    def __init__(self, store, settings, dirs, parent: QWidget | None = None, level: Tier = Tier.SAME_PICTURE) -> None:
        super().__init__(parent)
        self.store, self.settings, self.dirs = store, settings, dirs
        self._start_level = Tier.parse(level)
        self.burst_picks = BurstPicks(dirs.data / "burst-picks.json")  # a burst's pick the user chose, remembered
        self.groups: list[Group] = []
        self.choices = Choices()
        self.not_duplicates = NotDuplicates(dirs.data / "not-duplicates.json")
        self.journal = dirs.data / JOURNAL
        self._finder: DupeFinder | None = None
        self._finder_key: tuple = ()
        self._scanned_once = False
        self._busy = ""  # what runs on the pool now ("" = nothing): one job at a time
        self.job = JobControl()  # the scan's progress, and its cancel when the window closes
        self.job.progress.connect(self._on_progress)
        self._signals = _Signals()
        self._signals.waiting.connect(
            lambda: self.log.appendPlainText("Waiting for the indexer to finish its current job before trashing…"))
        self.thumbnails = ThumbnailLoader(dirs.cache / "thumbnails", px=256)  # filled at index time
        self.previews = ThumbnailLoader(dirs.cache / "previews", px=PREVIEW_PX)
        self.setWindowTitle("Bursts: the best frame of each" if self._start_level is Tier.BURST
                            else "Duplicates and similar shots")
        self.resize(1280, 800)
        self._build()
        for memory in (self.not_duplicates, self.burst_picks):  # a file that could not be read was set aside
            if memory.warning:
                self.log.appendPlainText(memory.warning)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.level = QComboBox()
        for tier in Tier:
            self.level.addItem(tier.choice, tier.value)
        self.level.setCurrentIndex(self.level.findData(self._start_level.value))
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.5, 1.0)
        self.threshold.setSingleStep(0.01)
        self.threshold.setDecimals(3)
        self.threshold.setValue(SIMILAR_COSINE)
        self.threshold.setToolTip("Similar shots: cosine similarity to the keeper at least this")
        self.level.currentIndexChanged.connect(self._on_level_changed)
        self.threshold.setEnabled(False)
        self.folder = QComboBox()
        self.folder.addItem("Whole library", "")
        for f in self.settings.folders:
            self.folder.addItem(f, f)
        self.scan_button = QPushButton("Scan")
        self.scan_button.setDefault(True)
        self.scan_button.clicked.connect(self.scan)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(160)
        self.progress.hide()
        self.aside_button = QPushButton()
        self.aside_button.setToolTip("Files you marked “not a duplicate”: see them, undo")
        self.aside_button.clicked.connect(self.show_set_aside)
        self._count_aside()
        for w in (QLabel("Find"), self.level, QLabel("Similarity ≥"), self.threshold, self.folder, self.scan_button,
                  self.progress):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.aside_button)
        layout.addLayout(bar)
        self.banner = Banner()  # a failed job: one plain sentence, the technical text behind "Details"
        self.banner.action_requested.connect(self._on_banner_action)
        layout.addWidget(self.banner)

        self.tree = GroupTree()
        self.thumbnails.loaded.connect(self.tree.set_thumbnail)
        self.tree.currentItemChanged.connect(lambda *_: self._show_current())
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.keep.connect(self.keep_current)
        self.tree.not_duplicate.connect(self.not_duplicate_current)
        self.compare = ComparePane(self.previews)
        across = QSplitter(Qt.Orientation.Horizontal)
        across.addWidget(self.tree)
        across.addWidget(self.compare)
        across.setStretchFactor(0, 5)
        across.setStretchFactor(1, 4)
        across.setSizes([700, 560])
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setPlaceholderText("Actions appear here: what went to the trash, what was kept and why.")
        down = QSplitter(Qt.Orientation.Vertical)
        down.addWidget(across)
        down.addWidget(self.log)
        down.setStretchFactor(0, 5)
        down.setSizes([640, 110])
        layout.addWidget(down, 1)

        self.summary = QLabel("Scan to find duplicates.")
        hint = QLabel("↑↓ review · Space check/uncheck · K keep this one · N not a duplicate")
        hint.setStyleSheet("color: #607d8b;")
        status = QHBoxLayout()
        status.addWidget(self.summary, 1)
        status.addWidget(hint)
        buttons = QHBoxLayout()
        self.keep_button = QPushButton("Keep this one (K)")
        self.keep_button.clicked.connect(self.keep_current)
        self.not_dupe_button = QPushButton("Not a duplicate (N)")
        self.not_dupe_button.clicked.connect(self.not_duplicate_current)
        export = QPushButton("Export…")
        export.clicked.connect(self._export_dialog)
        self.trash_button = QPushButton("Move checked to trash…")
        self.trash_button.clicked.connect(self.confirm_trash)
        for w in (self.keep_button, self.not_dupe_button, export):
            buttons.addWidget(w)
        buttons.addStretch(1)
        buttons.addWidget(self.trash_button)
        layout.addLayout(status)
        layout.addLayout(buttons)

    # ----- jobs on the pool, one at a time -----
    def _set_busy(self, what: str) -> None:
        self._busy = what
        for w in (self.scan_button, self.trash_button, self.keep_button, self.not_dupe_button):
            w.setEnabled(not what)
        self.progress.setVisible(bool(what))
        if what:
            self.progress.setRange(0, 0)  # busy until the first progress report
            self.progress.setFormat(what)

    def finder(self) -> DupeFinder:
        """One finder while the settings stay the same: it remembers the files it read for the same-picture check,
        so a rescan and "keep this one" do not read them again."""
        policy = keep_policy(self.settings)
        key = (tuple(policy.references), tuple(policy.rules), tuple(policy.folders))
        if self._finder is None or key != self._finder_key:
            self._finder = DupeFinder(self.store, not_duplicates=self.not_duplicates, policy=policy,
                                      burst_picks=self.burst_picks)
            self._finder_key = key
        return self._finder

    # ----- scanning -----
    def scan(self) -> None:
        if self._busy:
            return
        level, threshold = self.level.currentData(), self.threshold.value()
        folders = [self.folder.currentData()] if self.folder.currentData() else []
        finder, keepers, job = self.finder(), dict(self.choices.keepers_for(level)), self.job
        job.start()

        def work() -> list[Group]:
            return apply_keepers(finder, finder.scan(level, threshold, folders, job.report), keepers)

        self._set_busy("Scanning…")
        run_call(work, lambda groups: self._on_scanned(groups, level),
                 lambda exc: self._on_failed(exc, "looking for duplicates"), owner=self)

    def _on_level_changed(self) -> None:
        """Another tier: the groups on screen are the old tier's, so they go (a scan under way is not shown either)
        and the list never shows one tier's groups under another's name."""
        self.threshold.setEnabled(self.level.currentData() == Tier.SIMILAR.value)
        self._scanned_once = False
        if self.groups:
            self.groups = []
            self._fill()
        self.summary.setText(f"Scan to find: {self.level.currentText().lower()}.")

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, note: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{note} %p%")

    def _on_scanned(self, groups: list[Group], level: str | None = None) -> None:
        self._set_busy("")
        if level is not None and level != self.level.currentData():  # the tier changed while it ran: not these
            self.log.appendPlainText("The tier changed during the scan; its groups are not shown. Scan again.")
            return
        self._scanned_once = True
        self.banner.clear()
        self.groups = groups
        self._fill()
        self.tree.setFocus()
        self.scanned.emit(len(groups))

    def _on_failed(self, exc: BaseException, doing: str) -> None:
        self._set_busy("")
        self.show_problem(explain(exc, self._address(), doing))

    def _on_banner_action(self, action: str) -> None:
        if action == "retry":
            self.scan()

    def _address(self) -> str:
        """The remote cluster's URL without credentials, "" for the managed node (what ``explain`` names)."""
        return address(self.settings.es_url)

    def show_problem(self, problem: Problem) -> None:
        """The banner and the action log say one plain sentence; the technical text goes behind "Details" and to
        the app's log. The banner's "Try again" rescans (Settings is the main window's)."""
        log.warning("%s%s", problem.sentence, f"\n{problem.details}" if problem.details else "")
        self.banner.show_problem(dataclasses.replace(problem, action="retry" if problem.action == "retry" else ""))
        self.log.appendPlainText(problem.sentence)

    def done(self, result: int) -> None:
        self.job.cancel()  # a running scan stops at its next progress report
        self.thumbnails.cancel_pending()
        self.previews.cancel_pending()
        super().done(result)

    # ----- the tree -----
    def _fill(self) -> None:
        """Redraw the groups, ticks from the user's choices, and ask for the thumbnails not loaded yet."""
        selected = self.tree.fill(self.groups, self.choices.ticked)
        self._count_summary()
        if not selected:
            self.compare.clear("No duplicates left." if self._scanned_once else
                               "Select a photo to compare it with the copy that is kept.")
        for path in self.tree.missing_icons():
            self.thumbnails.request(path)

    def thumbnails_ready(self) -> bool:
        return not self.tree.missing_icons()

    def _count_summary(self) -> None:
        total = sum(g.wasted_bytes for g in self.groups)
        ticked = [m for g in self.groups for m in g.ticked]
        text = f"{plural(len(self.groups), 'group')} · {megabytes(total)} in copies"
        if self.groups:
            text += f" · {plural(len(ticked), 'file')} checked ({megabytes(sum(m.photo.size for m in ticked))})"
        self.summary.setText(text)
        self.trash_button.setEnabled(not self._busy and bool(ticked))

    def _count_aside(self) -> None:
        self.aside_button.setText(f"Set aside ({len(self.not_duplicates)})…")

    def _member_at(self, item: QTreeWidgetItem | None) -> tuple[Group, Member] | None:
        if item is None or item.parent() is None:
            return None
        group = self.groups[self.tree.indexOfTopLevelItem(item.parent())]
        return group, item.data(0, MemberRole)

    def _group_at(self, item: QTreeWidgetItem | None) -> Group | None:
        if item is None:
            return None
        top = item if item.parent() is None else item.parent()
        i = self.tree.indexOfTopLevelItem(top)
        return self.groups[i] if 0 <= i < len(self.groups) else None

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        found = self._member_at(item)
        if self.tree.filling or column != 0 or found is None or found[1].is_keeper or found[1].protected:
            return
        (group, member), on = found, item.checkState(0) == Qt.CheckState.Checked
        if on != member.ticked:
            self.choices.set_ticked(group, member, on)  # the user's choice: kept through redraws and rescans
            member.ticked = on
            self._count_summary()
            if item is self.tree.currentItem():
                self._show_current()

    def _show_current(self) -> None:
        item = self.tree.currentItem()
        group = self._group_at(item)
        found = self._member_at(item)
        if group is None:
            self.compare.clear()
            return
        member = found[1] if found else None
        on_keeper = member is not None and member.is_keeper
        if member is None or member.is_keeper:  # the keeper or the header: compare with the group's first copy
            member = next((m for m in group.members if not m.is_keeper), None)
        if member is None:
            self.compare.clear()
            return
        if member.protected:
            fate = f"{member.protected}: never trashed"
        elif member.ticked:
            fate = "<span style='color:#c62828'>checked: goes to the trash</span>"
        else:
            fate = "not checked: stays"
        keeper_title = f"<b>{'This file · keeper' if on_keeper else 'Keeper'}</b> · {group.keep_why}<br>" \
                       "<span style='color:#2e7d32'>stays</span>"
        copy_title = (f"<b>{'First copy' if on_keeper else 'This file'}</b> · {member.relation} · "
                      f"similarity {member.score:.3f}<br>{fate}")
        if on_keeper:  # the highlighted row is the keeper: the pane's "This file" side is the keeper too
            self.compare.show_pair(group.keep, member.photo, keeper_title, copy_title)
        else:
            self.compare.show_pair(member.photo, group.keep, copy_title, keeper_title)

    # ----- review actions -----
    def keep_current(self) -> None:
        """K: keep the selected file instead; the group's members are judged again against it (on the pool)."""
        found = self._member_at(self.tree.currentItem())
        if found is None or self._busy:
            return
        group, member = found
        self.choices.chose_keeper(group, member.photo)
        if member.is_keeper:
            return
        finder, photo = self.finder(), member.photo
        self._set_busy("Re-checking…")
        run_call(lambda: finder.rekeep(group, photo), lambda new: self._on_rekept(group, new),
                 lambda exc: self._on_failed(exc, "re-checking the group"), owner=self)

    def _on_rekept(self, old: Group, new: Group) -> None:
        self._set_busy("")
        if old not in self.groups:
            return
        kept = {id(m.photo) for m in new.members}
        for m in old.members:
            if id(m.photo) not in kept:
                self.log.appendPlainText(f"left out: {readable_path(m.photo.path)} is not a copy of "
                                         f"{Path(new.keep.path).name}; a rescan shows it where it belongs")
        i = self.groups.index(old)
        if len(new.members) > 1:
            self.groups[i] = new
        else:
            del self.groups[i]
        self.log.appendPlainText(f"keep {readable_path(new.keep.path)} (chosen by you)")
        self._fill()
        self.regrouped.emit()

    def not_duplicate_current(self) -> None:
        """N: the selected file is not a duplicate of its group: remembered (by content) and taken out."""
        found = self._member_at(self.tree.currentItem())
        if found is None or self._busy:
            return
        group, member = found
        if member.is_keeper:
            self.log.appendPlainText(f"{Path(member.photo.path).name} is the copy kept: keep another one first (K), "
                                     "then mark this one")
            return
        if member.photo.sha256 == group.keep.sha256:  # core remembers nothing for a file's own bytes: say so
            self.log.appendPlainText(f"{Path(member.photo.path).name} holds the very same bytes as the keeper, so it "
                                     "is a duplicate; uncheck it (Space) to keep both")
            return
        mark = self.not_duplicates.mark(group, member)
        group.members.remove(member)
        if len(group.members) < 2:
            self.groups.remove(group)
        others = [Path(n).name for n in mark.others.values() if n]
        self.log.appendPlainText(f"not a duplicate: {readable_path(member.photo.path)} (of {', '.join(others)}); "
                                 "remembered — Set aside… to undo")
        self._count_aside()
        self._fill()

    def show_set_aside(self) -> SetAsideDialog:
        dialog = SetAsideDialog(self.not_duplicates, self)
        dialog.undone.connect(self._on_undone)
        dialog.open()
        return dialog

    def _on_undone(self, names: list[str]) -> None:
        self._count_aside()
        for name in names:
            self.log.appendPlainText(f"undone: {name} may be grouped again")
        if self._scanned_once:
            self.scan()

    # ----- trashing -----
    def plan(self) -> list[tuple[Group, list[str]]]:
        return default_plan(self.groups)  # members' ``ticked`` mirror the user's choices (set on every redraw)

    def confirm_trash(self) -> None:
        plan = self.plan()
        if self._busy or not plan:
            return
        answer = QMessageBox.question(
            self, "Move to the trash",
            f"Move the checked files to the trash?\n\nThis {dry_run(plan)}.\n\n"
            "Each file is checked again right before it goes; the keeper of each group stays where it is.")
        if answer == QMessageBox.StandardButton.Yes:
            self.trash(plan)

    def trash(self, plan: Sequence[tuple[Group, Sequence[str]]]) -> None:
        store, journal, refs = self.store, self.journal, list(self.settings.references)
        data, index, waiting, address = self.dirs.data, self.settings.index, self._signals.waiting, self._address()

        def work() -> tuple[TrashReport, Problem | None]:
            report, exc = trash_plan(plan, store, journal, refs,
                                     index_lock(data, index, on_wait=lambda _m: waiting.emit()))
            return report, explain(exc, address, "moving files to the trash") if exc else None  # pure: fine here

        self._set_busy("Moving to the trash…")
        run_call(work, self._on_trashed, lambda exc: self._on_failed(exc, "moving files to the trash"), owner=self)

    def _on_trashed(self, outcome: tuple[TrashReport, Problem | None]) -> None:
        self._set_busy("")
        report, error = outcome
        for o in report.outcomes:
            if o.trashed:
                note = f"; {o.reason}" if o.reason else ""
                self.log.appendPlainText(f"trashed {readable_path(o.path)} (kept {o.keeper}){note}")
            else:
                self.log.appendPlainText(f"not moved {readable_path(o.path)}: {o.reason.removeprefix('kept: ')}")
        self.log.appendPlainText(report.summary() + ("; then stopped" if error else ""))
        if error is not None:
            self.show_problem(error)
        gone = {o.path for o in report.outcomes if o.trashed or o.reason == "already gone"}
        for group in self.groups:
            group.members = [m for m in group.members if m.is_keeper or m.photo.path not in gone]
        self.groups = [g for g in self.groups if len(g.members) > 1]
        self._fill()
        self.trashed.emit(len(report.trashed))

    # ----- export -----
    def export(self, path: Path) -> None:
        export_groups(self.groups, path)

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export groups", "duplicates.csv",
                                              "CSV (*.csv);;JSON Lines (*.jsonl)")
        if path:
            self.export(Path(path))
