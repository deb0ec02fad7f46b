"""Back and forward through the last queries (Alt+Left / Alt+Right): each entry is its parts and the filters.

Each entry keeps the filter bar's ``state()`` (a plain dict); going back puts it back with ``set_state()``, which
owns what the bar shows (the date edits, "include photos without a date") and runs no query itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

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
