"""Back and forward through the last queries (Alt+Left / Alt+Right): each entry is its parts and the filters.

The filter bar's state is captured as a plain dict and put back with its signals blocked, so restoring an entry
runs its query once (the caller runs it) instead of once per widget that moved.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from PySide6.QtCore import QDate

from imgsearch_desktop.core.query import Part

LIMIT = 50


def copy_parts(parts: list[Part]) -> list[Part]:
    return [dataclasses.replace(p) for p in parts]


@dataclass
class Entry:
    parts: list[Part]
    filters: dict = field(default_factory=dict)


class History:
    def __init__(self, limit: int = LIMIT) -> None:
        self.entries: list[Entry] = []
        self.index = -1
        self.limit = limit

    @property
    def current(self) -> Entry | None:
        return self.entries[self.index] if 0 <= self.index < len(self.entries) else None

    def push(self, parts: list[Part], filters: dict) -> None:
        """A new query: what was ahead of the current one (after going back) is dropped, as in a browser. The same
        query again (the same photo dropped twice) stays one entry."""
        current = self.current
        if current is not None and current.parts == parts and current.filters == filters:
            return
        del self.entries[self.index + 1:]
        self.entries.append(Entry(copy_parts(parts), dict(filters)))
        del self.entries[:-self.limit]
        self.index = len(self.entries) - 1

    def update(self, parts: list[Part], filters: dict) -> None:
        """The current query changed in place (a weight, a filter): remember it as it is now."""
        if self.current is not None:
            self.entries[self.index] = Entry(copy_parts(parts), dict(filters))

    def discard(self) -> None:
        """The current query could not run at all (its only part unreadable): as if it had never been asked."""
        if self.current is not None:
            del self.entries[self.index]
            self.index -= 1

    def can_back(self) -> bool:
        return self.index > 0

    def can_forward(self) -> bool:
        return self.index < len(self.entries) - 1

    def back(self) -> Entry | None:
        if not self.can_back():
            return None
        self.index -= 1
        return self.current

    def forward(self) -> Entry | None:
        if not self.can_forward():
            return None
        self.index += 1
        return self.current


def capture_filters(bar) -> dict:
    return {"k": bar.k_spin.value(), "threshold": bar.threshold.value(), "folder": bar.folder_combo.currentData(),
            "format": bar.format_combo.currentIndex(), "dated": bar.date_filter.isChecked(),
            "from": bar.date_from.date().toString("yyyy-MM-dd"), "to": bar.date_to.date().toString("yyyy-MM-dd"),
            "undated": bar.include_undated.isChecked()}


def restore_filters(bar, state: dict) -> None:
    if not state:
        return
    widgets = (bar.k_spin, bar.threshold, bar.folder_combo, bar.format_combo, bar.date_filter, bar.date_from,
               bar.date_to, bar.include_undated)
    for w in widgets:
        w.blockSignals(True)
    try:
        bar.k_spin.setValue(state["k"])
        bar.threshold.setValue(state["threshold"])
        bar.threshold_label.setText(f"{state['threshold'] / 100:.2f}" if state["threshold"] else "off")
        bar.folder_combo.setCurrentIndex(max(0, bar.folder_combo.findData(state["folder"])))
        bar.format_combo.setCurrentIndex(state["format"])
        bar.date_filter.setChecked(state["dated"])
        bar.date_from.setDate(QDate.fromString(state["from"], "yyyy-MM-dd"))
        bar.date_to.setDate(QDate.fromString(state["to"], "yyyy-MM-dd"))
        bar.include_undated.setChecked(state["undated"])
        for w in (bar.date_from, bar.date_to, bar.include_undated):
            w.setEnabled(state["dated"])
    finally:
        for w in widgets:
            w.blockSignals(False)
