"""What the library view shows, without Qt: the timeline's month groups (where each starts, how a page is reached)
and the folder tree (every folder that holds photos, at any depth, under its library folder)."""

from __future__ import annotations

import bisect
import calendar
import os
from dataclasses import dataclass, field

from imgsearch_desktop.core.store import MAX_WINDOW, UNDATED_MONTH


@dataclass(frozen=True)
class Group:
    """One month of the timeline (or the undated photos): its photos are rows ``start`` … ``start + count - 1``."""

    month: str  # "YYYY-MM", or UNDATED_MONTH
    count: int
    start: int

    @property
    def year(self) -> str:
        return self.month[:4] if self.month else ""

    @property
    def label(self) -> str:
        if self.month == UNDATED_MONTH:
            return "No date"
        year, month = self.month.split("-")
        return f"{calendar.month_name[int(month)]} {year}"


def groups(months: list[tuple[str, int]]) -> list[Group]:
    """Month counts (newest first) → groups with the row each starts at."""
    out, start = [], 0
    for month, count in months:
        out.append(Group(month, count, start))
        start += count
    return out


def group_at(groups_: list[Group], row: int) -> int:
    """Index of the group that holds ``row``."""
    return max(0, bisect.bisect_right([g.start for g in groups_], row) - 1)


@dataclass(frozen=True)
class PagePlan:
    """How to fetch the page starting at ``row``: after a known photo's sort values (``after``: one search), or
    from the start of ``month`` skipping ``skip`` photos — one search while that fits ES's result window, else a
    seek ``seek`` photos ahead first (a month of tens of thousands of photos)."""

    row: int
    after: list | None = None
    before: list | None = None  # the sort values of the photo just below the page: read it backwards
    month: str | None = None
    skip: int = 0
    seek: int = 0


def plan_page(row: int, size: int, groups_: list[Group], anchors: dict[int, list]) -> PagePlan:
    """The cheapest way to the page at ``row``, given ``anchors`` (row → the sort values of that photo, known from
    pages fetched before: each one's first and last)."""
    if row == 0:
        return PagePlan(row)
    if row - 1 in anchors:
        return PagePlan(row, after=anchors[row - 1])
    if row + size in anchors:
        return PagePlan(row, before=anchors[row + size])
    group = groups_[group_at(groups_, row)]
    skip = row - group.start
    if skip + size <= MAX_WINDOW:
        return PagePlan(row, month=group.month, skip=skip)
    known = [r for r in anchors if group.start <= r < row]  # the nearest photo known ahead of the page, if any
    if known:
        nearest = max(known)
        return PagePlan(row, after=anchors[nearest], seek=row - 1 - nearest)
    return PagePlan(row, month=group.month, seek=skip)


# ---------------------------------------------------------------- the folder tree
@dataclass
class FolderNode:
    path: str  # the folder (display form): what a Filters.folders entry takes
    name: str
    count: int = 0  # photos in it and below it
    children: list[FolderNode] = field(default_factory=list)


def folder_tree(counts: dict[tuple[str, str], int]) -> list[FolderNode]:
    """Photos per (library folder, folder) → one tree per library folder, with every folder between it and a
    folder that holds photos (a folder of folders shows too), children by name, counts summed upwards."""
    roots: dict[str, FolderNode] = {}
    nodes: dict[tuple[str, str], FolderNode] = {}  # (library folder, folder): nested library folders stay apart
    for (root, folder), count in sorted(counts.items()):
        top = roots.get(root)
        if top is None:
            top = roots[root] = FolderNode(root, os.path.basename(root.rstrip("/")) or root)
        top.count += count
        if folder == root or not folder.startswith(root.rstrip("/") + "/"):
            continue
        parent, path = top, root.rstrip("/")
        for part in folder[len(path) + 1:].split("/"):
            path = f"{path}/{part}"
            node = nodes.get((root, path))
            if node is None:
                node = nodes[root, path] = FolderNode(path, part)
                parent.children.append(node)
            node.count += count
            parent = node
    for node in [*roots.values(), *nodes.values()]:
        node.children.sort(key=lambda n: n.name.lower())
    return sorted(roots.values(), key=lambda n: n.name.lower())
