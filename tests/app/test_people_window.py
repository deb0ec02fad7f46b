"""People in the window, on real face photographs with the real dlib models, on a real node: the window's indexing
finds the faces after the CLIP pass (its own phase, pausable), the People view names / merges / says "not this
person", opening a person shows their photos, the person is a filter chip composed with a sentence, and the query
photo's faces are outlined and clickable. Screenshots of the People view and the outlined query go to screenshots/."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from imgsearch_desktop.core.people import People, people_path
from imgsearch_desktop.core.people_search import PeopleQuery
from tests.app.gui import SCREENSHOTS, drop_file, wait_indexed
from tests.faces import ASTRONAUT, BIDEN, OBAMA, face_library


def faces_by_path(store) -> dict[str, list | None]:
    return {src["path"]: src.get("faces") for _id, src in store.documents(None, ["path", "faces"])}


def wait_clip_pass(qtbot, app, timeout=120_000):
    """The job's IndexStats as soon as its photos are searchable, before its faces phase (wait_faces_phase)."""
    with qtbot.waitSignal(app.worker.finished, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def wait_faces_phase(qtbot, app, timeout=300_000):
    with qtbot.waitSignal(app.worker.analysed, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def test_the_window_finds_faces_and_shows_people(qtbot, make_app, tmp_path):
    lib = face_library(tmp_path / "Pictures")
    app = make_app([tmp_path / "Pictures"])
    window = app.window
    phases, progress = [], []
    app.worker.analysing.connect(phases.append)
    app.worker.progress.connect(lambda d, t, n: progress.append((d, t, window.index_status.message.text())))
    stats = wait_clip_pass(qtbot, app)  # the CLIP pass: the photos are searchable before any face is looked for
    assert stats.indexed == 5
    outcome = wait_faces_phase(qtbot, app)
    assert phases == ["Finding faces"] and outcome.stats.analysed == 5 and outcome.placed == 5
    assert (0, 5) in [(d, t) for d, t, _ in progress] and (5, 5) in [(d, t) for d, t, _ in progress]
    assert any(text.startswith("Finding faces") for _d, _t, text in progress)
    faces = faces_by_path(app.worker.store)
    assert all(len(faces[str(path)]) == 1 for path in lib.values())
    people = People(people_path(app.ctx.dirs.data, app.ctx.settings.index))  # the file the CLI reads too
    assert [len(p.faces) for p in people.people()] == [3]

    # The People view: one person (Biden and the astronaut have one face each: not shown), their face, named
    view = window.open_people()
    with qtbot.waitSignal(view.reloaded, timeout=30_000) as shown:
        pass
    assert shown.args == [1] and view.list.count() == 1
    item = view.list.item(0)
    assert item.text() == f"Unnamed #{view.rows[0].id}\n3 faces"
    with qtbot.waitSignal(view.faces_shown, timeout=30_000) as faces_shown:
        item.setSelected(True)
    assert faces_shown.args == [3]
    assert {Path(f.path).name for f in view.faces} == set(OBAMA)
    qtbot.waitUntil(lambda: len(view.crops.cache) >= 4, timeout=60_000)  # the person's face and their three
    crop = next(iter(view.crops.cache.values()))
    assert crop.width() == crop.height() == 112
    view.name_edit.setText("Barack")
    with qtbot.waitSignal(view.reloaded, timeout=30_000), qtbot.waitSignal(view.faces_shown, timeout=30_000):
        view.name_edit.returnPressed.emit()  # the list is drawn again, the selection and its faces kept
    assert view.list.item(0).text() == "Barack\n3 faces" and view.list.item(0).isSelected()
    # (a reload the faces phase asked for may still deliver its faces first: the title follows the last one)
    qtbot.waitUntil(lambda: view.faces_title.text().startswith("Faces of Barack"), timeout=30_000)
    assert People(people.path).resolve("barack").id == view.rows[0].id  # in the people file: the CLI sees it
    qtbot.waitUntil(lambda: len(view.crops.cache) >= 4, timeout=60_000)
    qtbot.wait(200)
    SCREENSHOTS.mkdir(exist_ok=True)
    assert view.grab().save(str(SCREENSHOTS / "people.png"))

    # Open the person: their photos in the grid, the most typical face first; the person stays as a filter chip
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        view.open_selected()
    assert {Path(h.path).name for h in window.model.hits} == set(OBAMA)
    assert window.filter_bar.person_chip.isVisibleTo(window) and "Barack" in window.filter_bar.person_chip.text()
    assert window.last_result.query.describe() == "Barack"
    # "Barack" + a sentence: the sentence ranks only his photos (the filter inside kNN)
    window.search.setText("a man at a podium")
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.search_text()
    query = window.last_result.query
    assert isinstance(query, PeopleQuery) and query.person == view.rows[0].id and query.all_parts()[0].text
    assert {Path(h.path).name for h in window.model.hits} == set(OBAMA)
    # the chip removed: the same sentence over every photo
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.filter_bar.person_chip.click()
    assert {Path(h.path).name for h in window.model.hits} == set(lib)
    assert not isinstance(window.last_result.query, PeopleQuery)

    # The query photo's faces are outlined (the stored boxes: it is indexed); a click searches by that face
    outlines = window.composer.outlines
    with qtbot.waitSignal(outlines.found, timeout=60_000) as found, \
            qtbot.waitSignal(window.results_shown, timeout=30_000):
        drop_file(window, lib["obama2.jpg"])
    assert found.args == [1] and outlines.faces.indexed
    qtbot.waitUntil(lambda: bool(outlines.face_rects()), timeout=30_000)
    (rect,) = outlines.face_rects()
    assert outlines.picture_rect().contains(rect)
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        QTest.mouseClick(window.query_image, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         rect.center())
    query = window.last_result.query
    assert isinstance(query, PeopleQuery) and query.face is not None and not query.all_parts()
    hits = [Path(h.path).name for h in window.model.hits]
    assert hits[0] == "obama2.jpg" and set(hits) == set(OBAMA)  # the same person's photos only, itself first
    assert window.composer.panel.face_chip.isVisibleTo(window) and outlines.chosen == 0
    qtbot.wait(300)
    assert window.grab().save(str(SCREENSHOTS / "query-faces.png"))
    # a click beside the face is no face: the query stays
    QTest.mouseClick(window.query_image, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(outlines.picture_rect().left() + 2, outlines.picture_rect().bottom() - 2))
    assert window.last_result.query is query

    # "Not this person" on one of Barack's faces: it leaves him for good
    view.list.item(0).setSelected(True)
    qtbot.waitUntil(lambda: view.face_list.count() == 3, timeout=30_000)
    gone = view.face_list.item(2).data(Qt.ItemDataRole.UserRole)
    view.face_list.item(2).setSelected(True)
    with qtbot.waitSignal(view.reloaded, timeout=30_000):
        view.not_this_person()
    assert view.list.item(0).text() == "Barack\n2 faces"
    assert gone not in People(people.path).resolve("barack").faces
    for name in ("people.png", "query-faces.png"):
        assert QImage(str(SCREENSHOTS / name)).width() >= 600


def test_merge_in_the_view_and_faces_off_deletes_the_face_data(qtbot, make_app, tmp_path, monkeypatch):
    """A library indexed with faces off has none; switched on, the window's pass finds them without re-embedding a
    photo; the view merges two people; switched off again, the next scan deletes every face and the people file."""
    face_library(tmp_path / "Pictures", [BIDEN, ASTRONAUT, "obama.jpg", "obama2.jpg"])
    face_library(tmp_path / "Pictures" / "again", [BIDEN, ASTRONAUT])  # copies: two faces each, two people
    app = make_app([tmp_path / "Pictures"])
    app.ctx.settings.faces = False
    assert wait_indexed(qtbot, app).indexed == 6
    qtbot.wait(500)
    assert all(f is None for f in faces_by_path(app.worker.store).values())
    index = app.ctx.settings.index
    app.shutdown()
    app.window.close()

    app = make_app([tmp_path / "Pictures"], index=index)
    stats = wait_clip_pass(qtbot, app)
    assert stats.unchanged == 6 and stats.embedded == 0
    outcome = wait_faces_phase(qtbot, app)
    assert outcome.stats.analysed == 6  # every photo, by the pass: none re-embedded
    view = app.window.open_people()
    with qtbot.waitSignal(view.reloaded, timeout=30_000) as shown:
        pass
    assert shown.args == [3]  # Obama, Biden, the astronaut: two faces each
    for i in range(view.list.count()):
        view.list.item(i).setSelected(True)
    view.list.item(0).setSelected(False)
    with qtbot.waitSignal(view.changed, timeout=30_000):
        view.merge_selected()
    qtbot.waitUntil(lambda: len(view.rows) == 2, timeout=30_000)  # the list drawn again after the merge
    assert sorted(r.faces for r in view.rows) == [2, 4] and "Merged 2 people" in view.message.text()
    people_file = people_path(app.ctx.dirs.data, index)
    assert people_file.exists()

    dialog = app.window.open_settings()  # Settings → Faces off: asked first (the names cannot come back)
    assert dialog.faces.isChecked()
    dialog.faces.setChecked(False)
    asked = []
    answer = QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or answer)
    dialog.accept()
    assert "the names you gave" in asked[0] and app.ctx.settings.faces and dialog.isVisible() and people_file.exists()
    answer = QMessageBox.StandardButton.Yes  # then yes: the save re-scans, the pass deletes
    with qtbot.waitSignal(app.worker.analysed, timeout=120_000) as cleared:
        dialog.accept()
    assert cleared.args[0].cleared == 6 and app.ctx.settings.faces is False
    assert "faces = false" in app.ctx.dirs.settings_file.read_text()
    assert all(not f for f in faces_by_path(app.worker.store).values())
    assert not people_file.exists()
    assert app.window.open_people() is None and "Faces are off" in app.window.index_status.message.text()
