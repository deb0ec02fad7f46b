"""[W] The library's timeline on a real node: newest first by date taken (else file time), month counts, pages by
search_after or from a month's start, a seek deep into a month bigger than ES's result window, the folder counts."""

from __future__ import annotations

from datetime import datetime

import pytest

from imgsearch_desktop.core import library as library_module
from imgsearch_desktop.core import store as store_module
from imgsearch_desktop.core.library import folder_tree, groups, plan_page
from imgsearch_desktop.core.store import UNDATED_MONTH, Filters, PhotoDoc, Store
from imgsearch_desktop.core.store import timeline as timeline_module
from tests.conftest import TINY_DIMS

UNIT = [1.0] + [0.0] * (TINY_DIMS - 1)


def ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1e9)


def put(store: Store, rows: list[tuple[str, str | None, int]]) -> None:
    """(path, EXIF date or None, mtime_ns) → documents with a fixed unit vector (test data)."""
    docs = [PhotoDoc(path=path, root="/lib", library=store.library, sha256=path, vector=UNIT, size=1,
                     mtime_ns=mtime, taken_at=taken) for path, taken, mtime in rows]
    assert store.write(docs) == []
    store.refresh()


def all_pages(store: Store, timeline, size: int) -> list[str]:
    out, after = [], None
    while True:
        page = store.timeline_page(timeline, after=after, size=size)
        if not page.hits:
            return out
        out += [h.path for h in page.hits]
        after = page.after


def test_newest_first_by_date_taken_else_file_time_undated_last(store):
    put(store, [("/lib/a/exif-2024-05.jpg", "2024-05-03T10:00:00", ns("2019-01-01T00:00:00")),
                ("/lib/a/file-2024-06.jpg", None, ns("2024-06-20T12:00:00")),  # no EXIF date: the file's time
                ("/lib/b/exif-2023-12.jpg", "2023-12-31T23:00:00", ns("2024-07-01T00:00:00")),
                ("/lib/b/exif-2024-05b.jpg", "2024-05-01T08:00:00", ns("2024-05-01T08:00:00")),
                ("/lib/b/undated.jpg", None, 0)])  # no EXIF date and no file time
    timeline = store.timeline()
    assert timeline.months == [("2024-06", 1), ("2024-05", 2), ("2023-12", 1), (UNDATED_MONTH, 1)]
    assert timeline.total == 5
    order = ["/lib/a/file-2024-06.jpg", "/lib/a/exif-2024-05.jpg", "/lib/b/exif-2024-05b.jpg",
             "/lib/b/exif-2023-12.jpg", "/lib/b/undated.jpg"]
    assert all_pages(store, timeline, size=2) == order  # page by page through search_after
    jumped = store.timeline_page(timeline, month="2023-12", size=10)  # a jump to a month: from its start on
    assert [h.path for h in jumped.hits] == order[3:]
    assert [h.path for h in store.timeline_page(timeline, month="2024-05", skip=1, size=1).hits] == [order[2]]
    assert [h.path for h in store.timeline_page(timeline, month=UNDATED_MONTH, size=5).hits] == order[4:]
    upwards = store.timeline_page(timeline, before=jumped.before, size=2)  # the page above a known one
    assert [h.path for h in upwards.hits] == order[1:3]
    narrowed = store.timeline(Filters(folders=["/lib/a"]))
    assert narrowed.months == [("2024-06", 1), ("2024-05", 1)] and narrowed.total == 2
    assert store.folder_counts() == {("/lib", "/lib/a"): 2, ("/lib", "/lib/b"): 3}
    # Every path of a snapshot (what Ctrl+A in the timeline acts on), page by page, in timeline order.
    assert store.timeline_paths(timeline, page=2) == order
    assert store.timeline_paths(narrowed) == order[:2]
    for t in (timeline, narrowed):
        store.close_timeline(t)


def test_a_page_deep_inside_a_month_bigger_than_the_result_window_is_reached_by_seeking(store, monkeypatch):
    window = 7  # ES's window is 10,000; a small one lets 40 photos stand for a 60,000-photo month
    monkeypatch.setattr(timeline_module, "MAX_WINDOW", window)
    monkeypatch.setattr(library_module, "MAX_WINDOW", window)
    put(store, [(f"/lib/dump/p{i:03d}.jpg", "2022-03-05T10:00:00", 1) for i in range(40)]
        + [(f"/lib/new/q{i}.jpg", f"2023-01-0{i + 1}T10:00:00", 1) for i in range(3)])
    timeline = store.timeline()
    everything = all_pages(store, timeline, size=5)
    assert len(everything) == 43 and everything[:3] == [f"/lib/new/q{i}.jpg" for i in (2, 1, 0)]
    grouped = groups(timeline.months)
    for row in (5, 10, 25, 38):  # no anchors known: from the month's start, seeking where skip + size > window
        plan = plan_page(row, 5, grouped, {})
        assert (plan.seek > 0) == (row - 3 + 5 > window)
        after = store.timeline_seek(timeline, plan.seek, month=plan.month) if plan.seek else None
        page = (store.timeline_page(timeline, after=after, size=5) if after else
                store.timeline_page(timeline, month=plan.month, skip=plan.skip, size=5))
        assert [h.path for h in page.hits] == everything[row:row + 5]


def test_photo_date_and_folder_tree():
    assert store_module.photo_date("2020-01-02T03:04:05", 5) == "2020-01-02T03:04:05"
    assert store_module.photo_date(None, 0) is None
    assert store_module.photo_date(None, 10**30) is None  # past year 9999: undated, not a crash
    assert store_module.photo_date(None, ns("2021-07-14T09:30:00")) == "2021-07-14T09:30:00"
    tree = folder_tree({("/p", "/p"): 1, ("/p", "/p/2023/trip/day1"): 2, ("/p", "/p/2023"): 3, ("/q", "/q/x"): 4})
    assert [(n.path, n.count) for n in tree] == [("/p", 6), ("/q", 4)]
    year = tree[0].children[0]
    assert (year.name, year.count, [c.name for c in year.children]) == ("2023", 5, ["trip"])
    assert (year.children[0].count, year.children[0].children[0].path) == (2, "/p/2023/trip/day1")


@pytest.mark.parametrize(("row", "anchors", "want"), [
    (0, {}, {}),
    (10, {9: ["x"]}, {"after": ["x"]}),
    (10, {}, {"month": "2024-01", "skip": 8}),
])
def test_plan_page(row, anchors, want):
    plan = plan_page(row, 5, groups([("2024-02", 2), ("2024-01", 50)]), anchors)
    assert {k: getattr(plan, k) for k in want} == want and plan.row == row
