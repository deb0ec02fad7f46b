"""The Duplicates window with real widgets (pytest-qt, offscreen), the session's Elasticsearch node, tiny models and
real files: ticks and keepers that survive trashing and rescans, "not a duplicate" that sticks and can be undone,
keyboard review, group headers and plurals, the side-by-side compare pane, keep rules from Settings."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from imgsearch_desktop.app.compare_pane import DIFFERENT, SAME
from imgsearch_desktop.app.dupes_view import DupesView
from imgsearch_desktop.app.dupes_widgets import MemberRole
from imgsearch_desktop.app.keep_rules import KeepRulesBox
from imgsearch_desktop.config import AppDirs, Settings
from imgsearch_desktop.core.dupes import KeepRule, Tier, saved_keep_rules
from imgsearch_desktop.core.dupes.review import header_text
from imgsearch_desktop.core.pipeline import Indexer
from tests.app.gui import SCREENSHOTS, wait_indexed
from tests.photos import picture, write_photo

SCAN_MS = 60_000


# ---------------------------------------------------------------- a library and a window on it
def make_library(root: Path) -> Path:
    """Family A: orig.jpg, an identical copy, the older lossless PNG it was made from (the keeper), a resized JPEG
    and a 90% crop. Family B: b.jpg and its identical copy in backup/. Three unrelated photos."""
    orig = write_photo(root / "orig.jpg", 51, size=(640, 480), quality=90)
    shutil.copyfile(orig, root / "copy.jpg")
    Image.open(orig).save(root / "lossless.png")
    os.utime(root / "lossless.png", ns=(2 * 10**17, 2 * 10**17))  # older than the JPEGs: their source
    Image.open(orig).resize((320, 240)).save(root / "small.jpg", quality=70)
    Image.open(orig).crop((32, 24, 608, 456)).save(root / "crop.jpg", quality=90)
    b = write_photo(root / "b.jpg", 52, size=(480, 360), quality=92)
    (root / "backup").mkdir()
    shutil.copyfile(b, root / "backup" / "b.jpg")
    os.utime(b, ns=(10**18, 10**18))  # the older copy of B
    for i in range(3):
        write_photo(root / "other" / f"other{i}.jpg", 60 + i, size=(400, 300))
    return root


@pytest.fixture
def open_view(qtbot, store, embedder, isolated_home):
    def make(root: Path, **settings) -> DupesView:
        Indexer(store, embedder).run([root])
        dirs = AppDirs.resolve(isolated_home)
        view = DupesView(store, Settings(folders=[str(root)], index=store.alias, **settings), dirs)
        qtbot.addWidget(view)
        view.show()
        return view

    return make


def scan(qtbot, view: DupesView, level: Tier | None = None, threshold: float | None = None) -> int:
    if level is not None:
        view.level.setCurrentIndex(view.level.findData(level.value))
    if threshold is not None:
        view.threshold.setValue(threshold)
    with qtbot.waitSignal(view.scanned, timeout=SCAN_MS) as scanned:
        view.scan()
    return scanned.args[0]


def rows(view: DupesView) -> dict[str, object]:
    """File rows by name (``b.jpg``), or ``backup/b.jpg`` for the copy in backup/."""
    out = {}
    for item in view.tree.file_items():
        path = Path(item.data(0, MemberRole).photo.path)
        out[f"{path.parent.name}/{path.name}" if path.parent.name == "backup" else path.name] = item
    return out


def checked(item) -> bool:
    return item.checkState(0) == Qt.CheckState.Checked


def group_names(view: DupesView) -> list[list[str]]:
    return [[Path(m.photo.path).name for m in g.members] for g in view.groups]


def select(qtbot, view: DupesView, name: str) -> None:
    view.tree.setCurrentItem(rows(view)[name])
    view.tree.setFocus()


# ---------------------------------------------------------------- ticks and keepers survive trash and rescan
def test_ticks_survive_trashing_and_rescans_and_the_log_says_what_happened(qtbot, make_app, tmp_path, monkeypatch):
    """Issue [B]: after "Move checked to trash…" the groups left were redrawn with the user's unticked files
    ticked again. Through the real window (its indexer and watcher running)."""
    root = make_library(tmp_path / "lib")
    app = make_app([root])
    wait_indexed(qtbot, app)
    view = app.window.open_duplicates()
    assert scan(qtbot, view) == 2 and view.summary.text().startswith("2 groups · ")
    r = rows(view)
    assert not r["lossless.png"].flags() & Qt.ItemFlag.ItemIsUserCheckable  # the keeper: never a checkbox
    assert all(checked(r[n]) for n in ("orig.jpg", "copy.jpg", "small.jpg", "backup/b.jpg"))  # pre-ticked copies
    assert "crop.jpg" not in r  # a crop is not the same picture
    for name in ("orig.jpg", "small.jpg"):  # the user keeps these two after all
        select(qtbot, view, name)
        qtbot.keyClick(view.tree, Qt.Key.Key_Space)
    assert not checked(rows(view)["orig.jpg"]) and not checked(rows(view)["small.jpg"])

    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(view.trashed, timeout=30_000) as trashed:
        view.trash_button.click()
    assert trashed.args == [2]
    assert "This keeps 4, moves 2 files (" in asked[0] and "MB) to the trash." in asked[0]
    assert not (root / "copy.jpg").exists() and (root / "b.jpg").exists() != (root / "backup" / "b.jpg").exists()
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    assert "copy.jpg" in os.listdir(trash)
    log = view.log.toPlainText()
    assert f"trashed {root / 'copy.jpg'} (kept {root / 'lossless.png'})" in log
    assert "moved 2 files (" in log and "nothing trashed" not in log

    # Redrawn: what the user unticked stays unticked (a second click must not trash it).
    assert view.summary.text().startswith("1 group · ") and "0 files checked" in view.summary.text()
    r = rows(view)
    assert set(r) == {"lossless.png", "orig.jpg", "small.jpg"}
    assert not checked(r["orig.jpg"]) and not checked(r["small.jpg"])
    assert view.plan() == [] and not view.trash_button.isEnabled()

    assert scan(qtbot, view) == 1  # a rescan: the same choices again
    r = rows(view)
    assert set(r) == {"lossless.png", "orig.jpg", "small.jpg"}
    assert not checked(r["orig.jpg"]) and not checked(r["small.jpg"])

    # Keep this one (K) is a choice too: the next scan keeps orig.jpg again, and the ticks stay.
    select(qtbot, view, "orig.jpg")
    with qtbot.waitSignal(view.regrouped, timeout=30_000):
        qtbot.keyClick(view.tree, Qt.Key.Key_K)
    assert view.groups[0].keep.path == str(root / "orig.jpg") and view.groups[0].keep_why == "chosen by you"
    assert scan(qtbot, view) == 1
    (group,) = view.groups
    assert group.keep.path == str(root / "orig.jpg") and group.keep_why == "chosen by you"
    assert not checked(rows(view)["small.jpg"]) and checked(rows(view)["lossless.png"])  # pre-ticked: untouched
    assert rows(view)["orig.jpg"].text(2) == "keeper\nchosen by you" and rows(view)["orig.jpg"].text(0) == "★"


# ---------------------------------------------------------------- not a duplicate: sticks, listed, undone
def test_not_a_duplicate_sticks_after_a_rescan_and_can_be_undone(qtbot, open_view, tmp_path):
    """Issue [B]: "'Not a duplicate' on Silk.png was logged as remembered, yet a rescan showed it in the same
    group again"."""
    root = make_library(tmp_path / "lib")
    view = open_view(root)
    assert scan(qtbot, view) == 2
    select(qtbot, view, "small.jpg")
    qtbot.keyClick(view.tree, Qt.Key.Key_Space)  # unticked first: that choice must survive the round trip
    qtbot.keyClick(view.tree, Qt.Key.Key_N)
    assert "small.jpg" not in rows(view) and view.aside_button.text() == "Set aside (1)…"
    assert f"not a duplicate: {root / 'small.jpg'}" in view.log.toPlainText()
    assert view.tree.currentItem() is not None  # the review goes on from the next row

    assert scan(qtbot, view) == 2
    assert "small.jpg" not in rows(view)  # remembered, by content

    dialog = view.show_set_aside()
    assert dialog.list.count() == 1 and "small.jpg" in dialog.list.item(0).text()
    assert "lossless.png" in dialog.list.item(0).text()  # and what it was set aside from
    dialog.list.item(0).setSelected(True)
    with qtbot.waitSignal(view.scanned, timeout=SCAN_MS):  # Undo rescans at once
        dialog.undo_button.click()
    assert "small.jpg" in rows(view) and not checked(rows(view)["small.jpg"])  # back, still unticked
    assert view.aside_button.text() == "Set aside (0)…" and len(view.not_duplicates) == 0
    assert f"undone: {root / 'small.jpg'} may be grouped again" in view.log.toPlainText()
    assert dialog.list.item(0).text() == "Nothing set aside."


# ---------------------------------------------------------------- a failure: one plain sentence, details behind
def assert_plain_sentence_shown(view: DupesView, technical: str) -> None:
    """The banner says one plain sentence (the action log repeats it); the technical text only behind Details."""
    assert view.banner.isVisibleTo(view)
    sentence = view.banner.text()
    assert sentence.endswith(".") and "\n" not in sentence and technical not in sentence
    assert "Error(" not in sentence and "Exception" not in sentence
    assert technical in view.banner.details.toPlainText()
    assert technical not in view.log.toPlainText() and sentence in view.log.toPlainText()


def test_a_failed_trash_or_scan_shows_a_plain_sentence_with_the_details_behind(qtbot, open_view, tmp_path,
                                                                               es_client):
    root = make_library(tmp_path / "lib")
    view = open_view(root)
    assert scan(qtbot, view) == 2 and not view.banner.isVisibleTo(view)
    plan = view.plan()
    for name in es_client.indices.get(index=f"{view.store.alias}-*"):  # the index goes away under the window
        es_client.indices.delete(index=name)
    with qtbot.waitSignal(view.trashed, timeout=30_000):
        view.trash(plan)  # the files go; the index's refresh afterwards fails
    assert "then stopped" in view.log.toPlainText()
    assert_plain_sentence_shown(view, "index_not_found_exception")

    view.log.clear()
    view.banner.clear()
    view.scan()
    qtbot.waitUntil(lambda: not view._busy, timeout=SCAN_MS)
    assert_plain_sentence_shown(view, "index_not_found_exception")


# ---------------------------------------------------------------- keyboard review, headers, plurals
def test_keyboard_review_headers_and_plurals(qtbot, open_view, tmp_path):
    root = make_library(tmp_path / "lib")
    view = open_view(root)
    assert scan(qtbot, view) == 2 and view.summary.text().startswith("2 groups · ")
    headers = [view.tree.topLevelItem(i).text(0) for i in range(view.tree.topLevelItemCount())]
    assert headers == [header_text(g) for g in view.groups]
    assert headers[0].startswith("Same picture · 4 files · ") and " MB to free — hashes " in headers[0]
    assert ", similarity 0." in headers[0] or ", similarity 1." in headers[0]
    assert headers[1] == f"Identical file · 2 files · {os.path.getsize(root / 'b.jpg') / 1e6:.1f} MB to free — " \
        "identical content"

    # Arrows move through files only (headers skipped), Space checks and unchecks.
    files = view.tree.file_items()
    assert [rows(view)[n] for n in ("lossless.png", "copy.jpg", "orig.jpg", "small.jpg", "b.jpg",
                                    "backup/b.jpg")] == files
    assert view.tree.currentItem() is files[0] and view.tree.hasFocus()  # ready to review after the scan
    qtbot.keyClick(view.tree, Qt.Key.Key_Down)
    assert view.tree.currentItem() is files[1]
    for _ in range(3):
        qtbot.keyClick(view.tree, Qt.Key.Key_Down)
    assert view.tree.currentItem() is files[4]  # into the second group, past its header
    qtbot.keyClick(view.tree, Qt.Key.Key_Up)
    assert view.tree.currentItem() is files[3] and checked(files[3])
    assert "4 files checked" in view.summary.text()
    qtbot.keyClick(view.tree, Qt.Key.Key_Space)
    assert not checked(files[3]) and "3 files checked" in view.summary.text()
    qtbot.keyClick(view.tree, Qt.Key.Key_Space)
    assert checked(files[3]) and "4 files checked" in view.summary.text()

    view.tree.setCurrentItem(view.tree.topLevelItem(1))  # Space on a group's header: all of its copies at once
    qtbot.keyClick(view.tree, Qt.Key.Key_Space)
    assert not checked(files[5]) and "3 files checked" in view.summary.text()
    qtbot.keyClick(view.tree, Qt.Key.Key_Space)
    assert checked(files[5]) and "4 files checked" in view.summary.text()
    view.tree.setCurrentItem(files[3])

    # K: small.jpg becomes the keeper; the others are judged again against it, the old keeper a checked copy.
    with qtbot.waitSignal(view.regrouped, timeout=30_000):
        qtbot.keyClick(view.tree, Qt.Key.Key_K)
    group = view.groups[0]
    assert group.keep.path == str(root / "small.jpg") and view.tree.currentItem().data(0, MemberRole).is_keeper
    assert checked(rows(view)["lossless.png"]) and "keep" in view.log.toPlainText()
    # N: copy.jpg is set aside, the review moves on to the next row.
    qtbot.keyClick(view.tree, Qt.Key.Key_Down)
    assert view.tree.currentItem() is rows(view)["copy.jpg"]
    qtbot.keyClick(view.tree, Qt.Key.Key_N)
    assert "copy.jpg" not in rows(view) and view.tree.currentItem() is rows(view)["lossless.png"]
    assert view.groups[0].tier is Tier.SAME_PICTURE and len(view.groups[0].members) == 3
    # N on an identical file: nothing to remember (same bytes); the log says to uncheck it instead.
    select(qtbot, view, "backup/b.jpg")
    qtbot.keyClick(view.tree, Qt.Key.Key_N)
    assert "backup/b.jpg" in rows(view) and "uncheck it (Space) to keep both" in view.log.toPlainText()
    assert view.aside_button.text() == "Set aside (1)…"

    # Export what is on screen: CSV (one row a file, with its check) and JSON Lines (one group a line).
    view.export(tmp_path / "groups.csv")
    lines = (tmp_path / "groups.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "group,level,role,path,size,width,height,score,checked,why" and len(lines) == 1 + 3 + 2
    assert lines[1].startswith(f"1,near,keeper,{root / 'small.jpg'},")
    view.export(tmp_path / "groups.jsonl")
    exported = [json.loads(line) for line in (tmp_path / "groups.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [g["keep"] for g in exported] == [str(root / "small.jpg"), str(root / "b.jpg")]

    # Similar shots: never pre-ticked; the header names the tier and the similarity.
    assert scan(qtbot, view, Tier.SIMILAR, threshold=0.5) >= 1
    similar = [(g, m) for g in view.groups for m in g.members if m.tier is Tier.SIMILAR and m.copy_of is None]
    assert similar and not any(m.ticked for _, m in similar)
    assert all(m.ticked for g in view.groups for m in g.members if m.copy_of is not None)  # a member's 2nd name
    assert not any(checked(i) for i in view.tree.file_items()
                   if i.data(0, MemberRole).tier is Tier.SIMILAR and i.data(0, MemberRole).copy_of is None)
    for g in {id(g): g for g, _ in similar}.values():
        if g.tier is Tier.SIMILAR:
            assert header_text(g).startswith(f"Similar shot · {len(g.members)} files · ")
            assert " — similarity " in header_text(g)
    same = [m for g in view.groups for m in g.members if m.tier is Tier.SAME_PICTURE]
    assert same and all(m.ticked for m in same if not m.protected)


# ---------------------------------------------------------------- the compare pane, with screenshots
def real_photos(root: Path) -> dict[str, Path]:
    """Real photos when the machine has some (scikit-learn ships two), else generated ones; with EXIF."""
    spec = importlib.util.find_spec("sklearn")  # scikit-learn comes with sentence-transformers
    sample = Path(spec.origin).parent / "datasets" / "images" if spec and spec.origin else Path("/nonexistent")
    originals = {name: Image.open(sample / f"{name}.jpg") if (sample / f"{name}.jpg").exists()
                 else picture(7 if name == "china" else 8, (640, 427)) for name in ("china", "flower")}
    cameras = {"china": ("Canon", "Canon EOS 80D", "2019:06:02 14:31:07"),
               "flower": ("FUJIFILM", "X-T3", "2021:04:18 10:05:44")}
    out = {}
    for name, image in originals.items():
        make, model, date = cameras[name]
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = make, model
        exif.get_ifd(0x8769)[0x9003] = date
        out[name] = root / "Camera" / f"{name}.jpg"
        out[name].parent.mkdir(parents=True, exist_ok=True)
        image.convert("RGB").save(out[name], "JPEG", quality=93, exif=exif.tobytes())
        os.utime(out[name], ns=(10**18, 10**18))
        shutil.copyfile(out[name], root / "Camera" / f"{name} (copy).jpg")
        (root / "Edited").mkdir(exist_ok=True)
        Image.open(out[name]).save(root / "Edited" / f"{name}.png")  # exported later, no EXIF: a copy of the JPEG
        (root / "Phone").mkdir(exist_ok=True)
        small = image.convert("RGB").resize((image.width // 2, image.height // 2))
        small.save(root / "Phone" / f"{name}-small.jpg", "JPEG", quality=70, exif=exif.tobytes())
    for i in range(3):
        write_photo(root / "Other" / f"IMG_{i:04d}.jpg", 80 + i, size=(640, 427))
    return out


def test_compare_pane_shows_both_photos_facts_with_differences_marked(qtbot, open_view, tmp_path):
    root = tmp_path / "Pictures"
    real_photos(root)
    view = open_view(root)
    view.resize(1400, 860)
    assert scan(qtbot, view) == 2 and view.summary.text().startswith("2 groups · ")
    china = next(g for g in view.groups if Path(g.keep.path).stem == "china")
    # Issue [W]: the PNG exported from the camera's JPEG (larger, "lossless") was kept and the original ticked.
    assert china.keep.path == str(root / "Camera" / "china.jpg")  # before its identical copy: the oldest file
    png = next(m.photo for m in china.members if m.photo.path == str(root / "Edited" / "china.png"))
    assert view.finder().policy.explain(china.keep, png) == "the original before a lossless copy made from it"

    pane = view.compare
    with qtbot.waitSignal(pane.shown, timeout=30_000):
        view.tree.setCurrentItem(next(i for i in view.tree.file_items()
                                      if i.data(0, MemberRole).photo.path == str(root / "Edited" / "china.png")))
    values, differences = pane.values, set(pane.differences)
    w, h = china.keep.width, china.keep.height
    assert values["Pixels"] == (f"{w} × {h} ({w * h / 1e6:.1f} MP)",) * 2
    assert values["Format"] == ("PNG (lossless)", "JPEG")
    assert values["Date taken"] == ("—", "2019-06-02 14:31") and values["Camera"] == ("—", "Canon EOS 80D")
    assert values["Folder"] == (str(root / "Edited"), str(root / "Camera"))
    assert values["Name"] == ("china.png", "china.jpg")
    assert values["File size"][0].endswith(("KB", "MB")) and values["File size"][0] != values["File size"][1]
    assert differences == {"Format", "Date taken", "Camera", "Folder", "File size", "Name"}
    for fact, (left, right) in pane.labels.items():
        style = DIFFERENT if fact in differences else SAME
        assert left.styleSheet() == right.styleSheet() == style
    assert "checked: goes to the trash" in pane.titles[0].text() and "stays" in pane.titles[1].text()

    # The resized copy from the phone: fewer pixels, same camera and date as the original.
    with qtbot.waitSignal(pane.shown, timeout=30_000):
        view.tree.setCurrentItem(next(i for i in view.tree.file_items() if i.data(0, MemberRole).photo.path ==
                                      str(root / "Phone" / "china-small.jpg")))
    assert "Pixels" in pane.differences and pane.values["Camera"][0] == "Canon EOS 80D"
    qtbot.keyClick(view.tree, Qt.Key.Key_Space)  # unchecked: the pane says it stays
    assert "not checked: stays" in pane.titles[0].text()

    with qtbot.waitSignal(pane.shown, timeout=30_000):
        view.tree.setCurrentItem(next(i for i in view.tree.file_items()
                                      if i.data(0, MemberRole).photo.path == str(root / "Edited" / "china.png")))
    qtbot.waitUntil(lambda: view.thumbnails_ready() and pane.pictures_ready(), timeout=30_000)
    qtbot.wait(200)
    assert all(p.pixmap() is not None and not p.pixmap().isNull() for p in pane.pictures)
    SCREENSHOTS.mkdir(exist_ok=True)
    assert view.grab().save(str(SCREENSHOTS / "duplicates.png"))
    assert pane.grab().save(str(SCREENSHOTS / "duplicates-compare.png"))
    assert QImage(str(SCREENSHOTS / "duplicates.png")).width() >= 1200
    assert QImage(str(SCREENSHOTS / "duplicates-compare.png")).width() >= 400


# ---------------------------------------------------------------- keep rules from Settings
def test_keep_rules_ordered_in_settings_choose_the_keeper(qtbot, open_view, tmp_path, isolated_home):
    from imgsearch_desktop.app.settings_dialog import SettingsDialog

    root = make_library(tmp_path / "lib")
    os.utime(root / "small.jpg", ns=(10**17, 10**17))  # the oldest file of family A
    dirs = AppDirs.resolve(isolated_home)
    settings = Settings(folders=[str(root)])
    dialog = SettingsDialog(settings, dirs)
    qtbot.addWidget(dialog)
    box = dialog.findChild(KeepRulesBox)
    assert box.rules.values() == [r.value for r in KeepRule]  # the default order to start with
    box.rules.setCurrentRow(box.rules.values().index(KeepRule.OLDEST.value))
    for _ in range(len(KeepRule)):
        box.rules.move_current(-1)
    assert box.rules.values()[0] == KeepRule.OLDEST.value
    dialog.accept()
    saved = Settings.load(dirs)
    assert saved.keep_rules[0] == "oldest" and saved_keep_rules(saved.keep_rules)[0] is KeepRule.OLDEST
    assert saved.folder_priority == [str(root)]

    view = open_view(root, keep_rules=saved.keep_rules)
    assert scan(qtbot, view) == 2
    family_a = next(g for g in view.groups if "lossless.png" in {Path(m.photo.path).name for m in g.members})
    assert family_a.keep.path == str(root / "small.jpg") and family_a.keep_why == "oldest file"


def test_changing_the_tier_clears_the_old_tiers_groups(qtbot, open_view, tmp_path):
    """Issue [W]: after a scan for the same picture, choosing "Similar shots too" kept the same-picture groups on
    screen, under the new tier's name, until Scan."""
    view = open_view(make_library(tmp_path / "lib"))
    assert scan(qtbot, view, Tier.SAME_PICTURE) == 2 and view.tree.topLevelItemCount() == 2
    view.level.setCurrentIndex(view.level.findData(Tier.SIMILAR.value))
    assert view.groups == [] and view.tree.topLevelItemCount() == 0 and view.threshold.isEnabled()
    assert view.summary.text() == "Scan to find: similar shots too."
    assert not view.trash_button.isEnabled() and view.plan() == []
    assert scan(qtbot, view) >= 1 and all(g.level is Tier.SIMILAR for g in view.groups)


def test_the_highlighted_keeper_row_is_the_file_the_compare_pane_describes(qtbot, open_view, tmp_path):
    """Issue [W]: with the keeper's row highlighted, the pane's "This file" side showed the group's first copy."""
    view = open_view(make_library(tmp_path / "lib"))
    assert scan(qtbot, view) == 2
    select(qtbot, view, "lossless.png")  # the keeper of family A
    group = view.groups[0] if view.groups[0].keep.path.endswith("lossless.png") else view.groups[1]
    photo, other = view.compare.pair
    assert photo is group.keep and other is not group.keep
    assert "This file · keeper" in view.compare.titles[0].text()
    assert "First copy" in view.compare.titles[1].text()
    qtbot.keyClick(view.tree, Qt.Key.Key_Down)  # a copy: "This file" is that copy, the keeper beside it
    assert view.compare.pair == (view.tree.currentItem().data(0, MemberRole).photo, group.keep)
    assert view.compare.titles[0].text().startswith("<b>This file</b>")
