"""The row under the search bar: results per query, minimum similarity, folder, format, date taken.

It returns ``Filters`` (plus k and the threshold) and says ``changed`` whenever any of them moves, so the window
re-runs the current query at once instead of leaving old results on screen. Sliders and spin boxes settle for a
moment first (one query per gesture, not one per pixel).
"""

from __future__ import annotations

import os

from PySide6.QtCore import QDate, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from imgsearch_desktop.app.flow_layout import FlowLayout
from imgsearch_desktop.core import images
from imgsearch_desktop.core.store import Filters

# From the one format table: what the index's `format` field can hold (RAW files are indexed through their JPEG
# preview, and MPO is what Pillow calls some cameras' JPEGs: neither is a choice of its own).
FORMATS = [(f.label, f.name) for f in images.FORMATS if f.available and f.extensions and not f.raw]
SETTLE_MS = 250
SHOWN_HALF_UNIT = 0.0005  # a tile shows a score to 3 decimals: what shows as the threshold passes it


class DateField(QDateEdit):
    """A date edit where a click picks the part under the pointer (year, month or day), so what is typed next
    replaces it: Qt's own puts a bare cursor there, and "2019" typed into "2025" makes "2201925" — refused, the
    date silently unchanged."""

    def __init__(self, date: QDate, parent=None) -> None:
        super().__init__(date, parent)
        self.setCalendarPopup(True)
        self.setDisplayFormat("yyyy-MM-dd")
        self.lineEdit().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.lineEdit() and event.type() == QEvent.Type.MouseButtonRelease
                and not self.lineEdit().hasSelectedText()):
            QTimer.singleShot(0, self, lambda: self.setSelectedSection(self.currentSection()))
        return super().eventFilter(watched, event)


def month_span(months: list[str]) -> tuple[QDate, QDate] | None:
    """The first day of the oldest and the last day of the newest of these "YYYY-MM" months (others ignored)."""
    dated = sorted(m for m in months if len(m) == 7 and m[4] == "-" and m[:4].isdigit() and m[5:].isdigit())
    if not dated:
        return None
    first = QDate(int(dated[0][:4]), int(dated[0][5:]), 1)
    last = QDate(int(dated[-1][:4]), int(dated[-1][5:]), 1)
    return first, last.addDays(last.daysInMonth() - 1)


def _group(*widgets: QWidget) -> QWidget:
    """Widgets that belong together wrap as one piece."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 8, 0)
    row.setSpacing(4)
    for w in widgets:
        row.addWidget(w)
    return box


class FilterBar(QWidget):
    changed = Signal()  # any filter moved: re-run the current query
    undated_wanted = Signal()  # the date filter was switched on: count the photos without a date

    def __init__(self, results: int, parent=None) -> None:
        super().__init__(parent)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.changed.emit)

        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 500)
        self.k_spin.setValue(results)
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setFixedWidth(120)
        self.threshold_label = QLabel("off")
        self.threshold_label.setMinimumWidth(30)
        self.folder_combo = QComboBox()
        self.folder_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.folder_combo.setMinimumContentsLength(12)
        self.format_combo = QComboBox()
        self.format_combo.addItem("All formats", None)
        for label, name in FORMATS:
            self.format_combo.addItem(label, name)
        self.date_filter = QCheckBox("Taken from")
        # Until the library's dates are known (set_date_span): the last 12 months. Then the library's whole span,
        # so that switching the filter on hides no dated photo until the user narrows it.
        self.date_from = DateField(QDate.currentDate().addYears(-1))
        self.date_to = DateField(QDate.currentDate())
        self.dates_edited = False  # the user moved a date: the library's span no longer replaces it
        for edit in (self.date_from, self.date_to):
            edit.setEnabled(False)
            edit.dateChanged.connect(self._date_edited)
        self.include_undated = QCheckBox("include photos without a date")
        self.include_undated.setVisible(False)  # shown with the date filter: the row stays one line otherwise

        # A person as a filter (People view → "Show photos"): "Anna" + the sentence "at the beach". A chip first in
        # the row; ✕ removes it. Resolved to the person's photos when the query runs (inside kNN's filter).
        self._person: tuple[str, str] | None = None  # (id, name)
        self.person_chip = QToolButton()
        self.person_chip.setObjectName("personChip")
        self.person_chip.setToolTip("Only this person's photos: click to remove the filter")
        self.person_chip.setStyleSheet("QToolButton#personChip { border: 2px solid #6a1b9a; border-radius: 8px; "
                                       "background: #f3e5f5; color: #4a148c; padding: 2px 8px; font-weight: bold; }")
        self.person_chip.clicked.connect(lambda: self.set_person(None))
        self.person_chip.hide()

        flow = FlowLayout(self)
        flow.addWidget(self.person_chip)
        flow.addWidget(_group(QLabel("Results"), self.k_spin))
        flow.addWidget(_group(QLabel("Min. similarity"), self.threshold, self.threshold_label))
        flow.addWidget(_group(self.folder_combo, self.format_combo))
        flow.addWidget(_group(self.date_filter, self.date_from, QLabel("to"), self.date_to, self.include_undated))

        self.threshold.valueChanged.connect(self._show_threshold)
        for signal in (self.k_spin.valueChanged, self.threshold.valueChanged, self.date_from.dateChanged,
                       self.date_to.dateChanged):
            signal.connect(lambda *_: self._settle.start())
        for signal in (self.folder_combo.currentIndexChanged, self.format_combo.currentIndexChanged,
                       self.include_undated.toggled):
            signal.connect(lambda *_: self.changed.emit())
        self.date_filter.toggled.connect(self._date_toggled)

    def _date_edited(self) -> None:
        self.dates_edited = True

    def set_date_span(self, months: list[str]) -> None:
        """The library's months ("YYYY-MM", the timeline's): the date range starts as their whole span, while
        the filter is off and the user has not chosen dates."""
        span = month_span(months)
        if span is None or self.dates_edited or self.date_filter.isChecked():
            return
        for edit, date in zip((self.date_from, self.date_to), span, strict=True):
            edit.blockSignals(True)
            edit.setDate(date)
            edit.blockSignals(False)

    def _show_threshold(self, value: int) -> None:
        self.threshold_label.setText(f"{value / 100:.2f}" if value else "off")

    def _show_dated(self, on: bool) -> None:
        """The date edits work and "include photos without a date" shows only while the date filter is on."""
        for w in (self.date_from, self.date_to):
            w.setEnabled(on)
        self.include_undated.setVisible(on)

    def _date_toggled(self, on: bool) -> None:
        self._show_dated(on)
        if on:
            self.undated_wanted.emit()
        self.changed.emit()

    # ----- the whole bar as a plain dict (the query history keeps one per entry) -----
    def state(self) -> dict:
        return {"k": self.k_spin.value(), "threshold": self.threshold.value(),
                "folder": self.folder_combo.currentData(), "format": self.format_combo.currentIndex(),
                "dated": self.date_filter.isChecked(), "from": self.date_from.date().toString("yyyy-MM-dd"),
                "to": self.date_to.date().toString("yyyy-MM-dd"), "undated": self.include_undated.isChecked(),
                "person": list(self._person) if self._person else None}

    def set_state(self, state: dict) -> None:
        """Put a ``state()`` back with the signals blocked: the caller runs its query once, not once per widget."""
        if not state:
            return
        widgets = (self.k_spin, self.threshold, self.folder_combo, self.format_combo, self.date_filter,
                   self.date_from, self.date_to, self.include_undated)
        for w in widgets:
            w.blockSignals(True)
        try:
            self.k_spin.setValue(state["k"])
            self.threshold.setValue(state["threshold"])
            self.folder_combo.setCurrentIndex(max(0, self.folder_combo.findData(state["folder"])))
            self.format_combo.setCurrentIndex(state["format"])
            self.date_filter.setChecked(state["dated"])
            self.date_from.setDate(QDate.fromString(state["from"], "yyyy-MM-dd"))
            self.date_to.setDate(QDate.fromString(state["to"], "yyyy-MM-dd"))
            self.include_undated.setChecked(state["undated"])
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._show_threshold(state["threshold"])
        self._show_dated(state["dated"])
        self._show_person(tuple(state["person"]) if state.get("person") else None)

    # ----- the person filter -----
    @property
    def person(self) -> tuple[str, str] | None:
        """(person id, name shown) of the person filter, or None."""
        return self._person

    def set_person(self, person: tuple[str, str] | None, emit: bool = True) -> None:
        if person == self._person:
            return
        self._show_person(person)
        if emit:
            self.changed.emit()

    def _show_person(self, person: tuple[str, str] | None) -> None:
        self._person = (str(person[0]), str(person[1])) if person else None
        if self._person:
            self.person_chip.setText(f"👤 {self._person[1]}  ✕")
            self.person_chip.setAccessibleName(f"Person filter: {self._person[1]} (remove)")
        self.person_chip.setVisible(self._person is not None)

    def tab_chain(self) -> list[QWidget]:
        return [self.k_spin, self.threshold, self.folder_combo, self.format_combo, self.date_filter, self.date_from,
                self.date_to, self.include_undated]

    # ----- what the query uses -----
    @property
    def folder(self) -> str:
        """The chosen folder ("" = all)."""
        return self.folder_combo.currentData() or ""

    @property
    def dated(self) -> bool:
        """The date filter is on (the EXIF date taken)."""
        return self.date_filter.isChecked()

    def filters(self) -> Filters:
        folder = self.folder
        fmt = self.format_combo.currentData()
        filters = Filters(folders=[folder] if folder else [], formats=[fmt] if fmt else [])
        if self.dated:
            filters.date_from = self.date_from.date().toString("yyyy-MM-dd")
            filters.date_to = self.date_to.date().toString("yyyy-MM-dd") + "T23:59:59"
            filters.include_undated = self.include_undated.isChecked()
        return filters

    @property
    def k(self) -> int:
        return self.k_spin.value()

    @property
    def min_score(self) -> float | None:
        """The slider's value, as the tiles show a score (3 decimals): at 1.00 a copy shown "1.000" (an exact
        cosine of 0.99996, float rounding) stays."""
        value = self.threshold.value() / 100
        return value - SHOWN_HALF_UNIT if value else None

    # ----- set from outside -----
    def set_folders(self, folders: list[str]) -> None:
        current = self.folder_combo.currentData()
        self.folder_combo.blockSignals(True)
        self.folder_combo.clear()
        self.folder_combo.addItem("All folders", "")
        for folder in folders:
            self._add_folder(folder)
        if current and current not in folders and any(current.startswith(f.rstrip(os.sep) + os.sep) for f in folders):
            self._add_folder(current)  # a subfolder chosen in the folder tree stays chosen
        self.folder_combo.setCurrentIndex(max(0, self.folder_combo.findData(current)))
        self.folder_combo.blockSignals(False)
        if self.folder_combo.currentData() != current:
            self.changed.emit()  # the chosen folder was removed in Settings

    def _add_folder(self, folder: str) -> None:
        self.folder_combo.addItem(os.path.basename(folder.rstrip(os.sep)) or folder, folder)
        self.folder_combo.setItemData(self.folder_combo.count() - 1, folder, Qt.ItemDataRole.ToolTipRole)

    def choose_folder(self, folder: str) -> None:
        """The folder tree chose ``folder`` (any depth; "" = all): it joins the list if it is a subfolder."""
        if folder and self.folder_combo.findData(folder) < 0:
            self._add_folder(folder)
        self.folder_combo.setCurrentIndex(max(0, self.folder_combo.findData(folder)))  # changed, when it moved

    def set_k(self, k: int) -> None:
        self.k_spin.setValue(k)

    def set_undated(self, count: int) -> None:
        """How many indexed photos have no date taken (they are left out while the date filter is on)."""
        self.include_undated.setText(f"include {count:,} photo{'' if count == 1 else 's'} without a date"
                                     if count else "include photos without a date")
