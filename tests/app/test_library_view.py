"""[W] The library, browsable: with no query the window shows every photo newest first in month groups (date taken,
else file time; undated last), the scrubber jumps to a year, the folder tree narrows to any subfolder (the filter
bar's folder filter follows it, so a query can be narrowed to a subfolder too), Esc / "Library" go back to it; and
at 100,000 indexed photos the timeline never holds more than a few pages."""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QPushButton

from imgsearch_desktop.app import timeline_model
from imgsearch_desktop.app.library_view import LibraryView
from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.core.store import UNDATED_MONTH, PhotoDoc, Store
from tests.app.gui import SCREENSHOTS, wait_indexed
from tests.conftest import TINY_DIMS
from tests.photos import picture

BACKGROUNDS = Path("/usr/share/backgrounds/mate")


def ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1e9)


def dated(path: Path, seed: int, taken: str | None = None, mtime: str | None = None) -> Path:
    """A small JPEG with an EXIF date taken ("YYYY:MM:DD HH:MM:SS") or none, and the given file time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    picture(seed, (96, 72)).save(path, "JPEG", exif=exif.tobytes())
    if mtime is not None:
        os.utime(path, ns=(ns(mtime), ns(mtime)) if mtime else (0, 0))
    return path


@pytest.fixture
def dated_library(tmp_path) -> Path:
    """Two months a year 2018–2024 (two photos each, EXIF dates), a trip with a nested day folder, one photo with
    no EXIF date (its file time, February 2025, makes it the newest) and one with neither (undated)."""
    root = tmp_path / "Pictures"
    seed = 1000
    for year in range(2018, 2025):
        for month in (3, 9):
            for n in range(2):
                seed += 1
                folder = root / str(year) / ("trip" if (year, month) == (2021, 9) else f"{month:02d}")
                if (year, month, n) == (2021, 9, 1):
                    folder = folder / "beach"
                dated(folder / f"IMG_{seed}.jpg", seed, f"{year}:{month:02d}:{10 + n} 12:00:00")
    dated(root / "scans" / "no-exif.jpg", 1900, mtime="2025-02-14T10:00:00")
    dated(root / "scans" / "undated.jpg", 1901, mtime="")
    return root


def screen_ready(view: LibraryView) -> bool:
    """Every tile on screen has its photo (and its thumbnail)."""
    first, last = view.grid.visible_rows()
    return last >= first and view.model.thumbnails_ready(first, last)


def test_timeline_is_newest_month_first_and_the_scrubber_jumps_to_a_year(qtbot, make_app, dated_library):
    app = make_app([dated_library])
    window = app.window
    window.resize(1000, 720)
    view = window.library
    assert window.stack.currentWidget() is view  # no query: the library is what the window shows
    assert wait_indexed(qtbot, app).indexed == 30
    qtbot.waitUntil(lambda: view.model.rowCount() == 30 and screen_ready(view), timeout=30_000)

    months = [g.month for g in view.model.groups]
    assert months[:3] == ["2025-02", "2024-09", "2024-03"]  # the photo without EXIF date by its file time
    assert months[-1] == UNDATED_MONTH and view.model.groups[-1].label == "No date"
    assert months[1:-1] == sorted(months[1:-1], reverse=True) and len(months) == 16
    assert [g.count for g in view.model.groups[1:-1]] == [2] * 14
    first = view.model.hit(0)
    assert Path(first.path).name == "no-exif.jpg" and first.photo_date == "2025-02-14T10:00:00"
    assert "September 2024" in [g.label for g in view.model.groups]
    assert view.caption.text().startswith("30 photos in the library")

    scrubber = view.scrubber
    y, index, _label = next(m for m in scrubber.year_marks() if m[2] == "2020")
    assert view.model.groups[index].month == "2020-09"  # a year's mark stands for its newest month
    qtbot.mouseClick(scrubber, Qt.MouseButton.LeftButton, pos=QPoint(20, y + 1))
    assert view.grid.verticalScrollBar().value() == view.grid.tops[index]
    qtbot.waitUntil(lambda: screen_ready(view), timeout=30_000)
    top_row = view.grid.visible_rows()[0]
    assert view.model.group_index(top_row) == index
    assert view.model.hit(top_row).photo_date.startswith("2020-09")

    # Enter on a tile opens its preview (tests/app/test_library_window.py has the rest).
    qtbot.mouseClick(view.grid.viewport(), Qt.MouseButton.LeftButton, pos=view.grid.tile_rect(top_row).center())
    qtbot.keyClick(view.grid, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert view.grid.selected_paths() == [view.model.hit(top_row).path, view.model.hit(top_row + 1).path]
    with qtbot.waitSignal(window.preview.shown, timeout=30_000) as shown:
        qtbot.keyClick(view.grid, Qt.Key.Key_Return)
    assert shown.args == [view.model.hit(top_row + 1).path] == [view.grid.current_path()]


def test_folder_tree_narrows_to_a_subfolder_for_the_timeline_and_queries(qtbot, make_app, dated_library):
    app = make_app([dated_library])
    window = app.window
    view, tree = window.library, window.folder_tree
    assert wait_indexed(qtbot, app).indexed == 30
    trip = dated_library / "2021" / "trip"
    qtbot.waitUntil(lambda: view.model.rowCount() == 30 and tree.item_for(str(trip / "beach")) is not None,
                    timeout=30_000)
    item = tree.item_for(str(trip))
    assert item.text(0) == "trip (2)" and tree.item_for(str(dated_library)).text(0) == "Pictures (30)"
    item.parent().setExpanded(True)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(item).center())
    qtbot.waitUntil(lambda: view.model.rowCount() == 2 and screen_ready(view), timeout=30_000)
    assert {Path(view.model.hit(r).path).parent for r in range(2)} == {trip, trip / "beach"}  # subfolders too
    assert window.filter_bar.folder_combo.currentData() == str(trip)  # the subfolder is the folder filter now

    with qtbot.waitSignal(window.results_shown, timeout=60_000):  # a query narrowed to the subfolder
        window.search.setText("a photo")
        window.search_text()
    assert window.stack.currentWidget() is window.results_page
    assert {Path(h.path).is_relative_to(trip) for h in window.model.hits} == {True}

    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Escape)  # back to the library, still in the subfolder
    assert window.stack.currentWidget() is view and window.runner.last is None
    assert window.search.text() == "" and view.model.rowCount() == 2
    tree.setCurrentItem(tree.all_item)
    qtbot.waitUntil(lambda: view.model.rowCount() == 30, timeout=30_000)
    assert window.filter_bar.folder_combo.currentData() == ""
    with qtbot.waitSignal(window.results_shown, timeout=60_000):
        window.search_path(str(trip / "beach" / os.listdir(trip / "beach")[0]))
    library_button = next(b for b in window.findChildren(QPushButton) if b.text() == "Library")
    qtbot.mouseClick(library_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is view and not window.composer.parts


class CountingStore(Store):
    """The real store, counting the timeline's calls."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: Counter[str] = Counter()

    def timeline(self, *args, **kwargs):
        self.calls["timeline"] += 1
        return super().timeline(*args, **kwargs)

    def timeline_page(self, *args, **kwargs):
        self.calls["page"] += 1
        page = super().timeline_page(*args, **kwargs)
        assert len(page.hits) <= timeline_model.PAGE
        return page

    def timeline_seek(self, *args, **kwargs):
        self.calls["seek"] += 1
        return super().timeline_seek(*args, **kwargs)


N = 100_000
HUGE = 30_000  # one month bigger than ES's 10,000-hit window: its deep pages are reached by seeking
UNDATED_N = 100


def synthetic(i: int) -> tuple[str | None, int]:
    """(EXIF date, mtime) of synthetic photo i: a huge June 2015, 120 months 2016–2025, then undated ones."""
    if i < HUGE:
        return f"2015-06-{1 + i % 30:02d}T{i % 24:02d}:00:00", 1
    if i < N - UNDATED_N:
        month = i % 120
        return f"{2016 + month // 12}-{1 + month % 12:02d}-{1 + i % 28:02d}T12:00:00", 1
    return None, 0


@pytest.fixture
def big_store(es_client, store) -> CountingStore:
    unit = [1.0] + [0.0] * (TINY_DIMS - 1)  # test data: one fixed unit vector for all
    started = time.perf_counter()
    for start in range(0, N, 5000):
        docs = [PhotoDoc(path=f"/lib/f{i // 1000:03d}/p{i:06d}.jpg", root="/lib", library=store.library,
                         sha256=f"{i:064x}", vector=unit, size=1000, mtime_ns=synthetic(i)[1],
                         taken_at=synthetic(i)[0]) for i in range(start, min(N, start + 5000))]
        assert store.write(docs) == []
    store.refresh()
    print(f"indexed {N:,} documents in {time.perf_counter() - started:.1f} s")
    counted = CountingStore(es_client, store.alias, library=store.library)
    counted.index = store.index
    return counted


@pytest.mark.slow  # about 2 minutes here, most of it writing the 100,000 documents (a 2-core machine, shared)
@pytest.mark.timeout(900)
def test_paging_at_100000_photos_holds_a_few_pages(qtbot, big_store, tmp_path):
    view = LibraryView(ThumbnailLoader(tmp_path / "thumbs", px=256))
    qtbot.addWidget(view)
    view.resize(1000, 720)
    view.show()
    model, grid = view.model, view.grid
    view.attach(big_store)
    qtbot.waitUntil(lambda: model.rowCount() == N, timeout=60_000)
    assert big_store.calls["timeline"] == 1 and len(model.groups) == 1 + 120 + 1
    assert model.groups[0].month == "2025-12" and model.groups[-2].month == "2015-06"

    def settled() -> bool:
        first, last = grid.visible_rows()
        return not model.inflight and all(model.hit(r) is not None for r in range(first, last + 1))

    huge = len(model.groups) - 2
    bar = grid.verticalScrollBar()
    stops = [lambda i=i: grid.scroll_to_group(i) for i in range(0, 121, 7)]  # scrubber jumps across the years
    stops += [lambda f=f: bar.setValue(grid.tops[huge] + int(f * (grid.tops[huge + 1] - grid.tops[huge])))
              for f in (0.5, 0.9, 0.2)]  # deep inside the huge month: seeks
    stops += [lambda: grid.scroll_to_group(huge + 1)]  # the undated at the very end
    stops += [lambda: bar.setValue(bar.value() - bar.pageStep())] * 15  # paging up through it, screen by screen
    for step, stop in enumerate(stops):
        before = big_store.calls["page"]
        stop()
        qtbot.waitUntil(settled, timeout=30_000)
        assert len(model.pages) <= timeline_model.MAX_PAGES and model.loaded_rows() <= timeline_model.MAX_PAGES * \
            timeline_model.PAGE, f"stop {step}: {len(model.pages)} pages held"
        assert big_store.calls["page"] - before <= 4  # the screen's pages and the next one, no more
        first, last = grid.visible_rows()
        for row in range(first, last + 1):  # each photo is where its month's header says
            month = model.groups[model.group_index(row)].month
            assert (model.hit(row).photo_date or "")[:7] == month, (step, row)
    assert big_store.calls["seek"] <= 4
    assert big_store.calls["page"] <= 4 * len(stops)
    assert max(r for r in model.anchors) < N  # what is remembered between pages: two per page fetched
    assert len(model.anchors) <= 2 * big_store.calls["page"]  # its first and last photo


@pytest.mark.skipif(not BACKGROUNDS.exists(), reason="mate-backgrounds not installed")
def test_screenshot_of_the_timeline_and_the_folder_tree_on_real_photographs(qtbot, make_app, tmp_path):
    library = tmp_path / "Pictures"
    photos = sorted(BACKGROUNDS.rglob("*.jpg"))  # the photographs (the PNGs are mostly transparent overlays)
    for i, photo in enumerate(photos):  # no EXIF dates in these: their file times spread them over the months
        target = library / photo.parent.name / photo.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photo, target)
        when = ns(f"2025-{12 - i // 4:02d}-{1 + i % 27:02d}T10:00:00")  # four photos a month
        os.utime(target, ns=(when, when))
    app = make_app([library])
    window = app.window
    window.resize(1280, 820)
    assert wait_indexed(qtbot, app, timeout=300_000).indexed == len(photos)
    view = window.library
    qtbot.waitUntil(lambda: view.model.rowCount() == len(photos) and screen_ready(view), timeout=60_000)
    qtbot.waitUntil(lambda: window.folder_tree.item_for(str(library / "abstract")) is not None, timeout=30_000)
    qtbot.wait(200)
    SCREENSHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SCREENSHOTS / "library-timeline.png"))
