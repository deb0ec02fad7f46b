"""The People window: one face per person with their name and face count; name them, merge several, open one (their
photos in the main window's grid, best face first), and on a person's faces say "not this person" or split off a
face's look-alikes.

It only presents and delegates: every decision is a call into core/people.People (which keeps them in the people
file and makes them win over every re-cluster), run on the thread pool like every other store or file access; the
face thumbnails are cut from the photos on a pool of its own (core/people_search.face_crop) and arrive as QImages;
the main thread only makes the QPixmaps. The People object is the window's indexer's own (one object, locked
inside), so a name given here and the faces the indexer places meanwhile never overwrite each other.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from imgsearch_desktop.app import pools
from imgsearch_desktop.app.problems import explain
from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.core import images
from imgsearch_desktop.core.people import doc_of
from imgsearch_desktop.core.people_search import PersonFace, box_of, face_crop, person_faces
from imgsearch_desktop.core.store import readable_path
from imgsearch_desktop.errors import UserError

log = logging.getLogger(__name__)
FACE_PX = 112
FACES_SHOWN = 300  # a person's faces listed at most (the most typical first)
ID_ROLE = Qt.ItemDataRole.UserRole


@dataclass
class PersonRow:
    id: str
    name: str | None
    faces: int
    path: str | None  # the photo of the face that stands for them (their largest face)
    box: tuple[int, int, int, int]

    @property
    def title(self) -> str:
        return self.name or f"Unnamed #{self.id}"


def person_rows(store, people, extra: list[str] = ()) -> list[PersonRow]:
    """The persons shown (named, or two faces and more), each with their largest face: on the pool. ``extra``:
    persons to show anyway (one just split off, with one face: the user names it next)."""
    shown = people.people()
    ids = {p.id for p in shown}
    for pid in extra:
        try:
            person = people.resolve(pid)
        except UserError:
            continue  # merged or emptied since
        if person.id not in ids:
            shown.append(person)
            ids.add(person.id)
    reps = {p.id: max(p.faces, key=lambda k: box_of(k)[2] * box_of(k)[3]) for p in shown}
    paths = store.paths_of(list(dict.fromkeys(doc_of(k) for k in reps.values())))
    return [PersonRow(p.id, p.name, len(p.faces), paths.get(doc_of(reps[p.id])), box_of(reps[p.id]))
            for p in shown]


def crop_image(path: str, box, px: int = FACE_PX) -> QImage:
    """The face thumbnail as a QImage (made on a pool thread; a null image when the photo cannot be read)."""
    try:
        rgb = face_crop(path, box, px).convert("RGB")
    except (images.ImageSkipped, OSError, ValueError) as exc:
        log.info("face thumbnail of %s: %s", path, exc)
        return QImage()
    data = rgb.tobytes()
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()


class _Crops(QObject):
    """Face thumbnails on a pool of its own; ``loaded(key, QImage)`` on the main thread."""

    loaded = Signal(str, QImage)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.pool = pools.new_pool(2, self)  # waited for at shutdown with every other pool
        self.cache: dict[str, QImage] = {}
        self.generation = 0

    def request(self, key: str, path: str | None, box) -> None:
        if key in self.cache:
            self.loaded.emit(key, self.cache[key])
            return
        if path is None:
            return
        self.pool.start(functools.partial(self._job, key, path, tuple(box), self.generation))

    def _job(self, key: str, path: str, box, generation: int) -> None:
        if generation != self.generation:
            return  # the list was redrawn meanwhile
        self.loaded.emit(key, crop_image(path, box))

    def cancel_pending(self) -> None:
        self.generation += 1


def placeholder(px: int = FACE_PX) -> QPixmap:
    pixmap = QPixmap(px, px)
    pixmap.fill(QColor("#eceff1"))
    return pixmap


class PeopleView(QDialog):
    reloaded = Signal(int)  # persons shown
    faces_shown = Signal(int)  # faces of the selected person shown
    changed = Signal()  # a decision was made (name, merge, not this person, split)
    failed = Signal(str)  # a plain sentence, also shown in the window
    open_person = Signal(str, str)  # id, name shown: their photos in the main window

    def __init__(self, store, people, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.people = store, people
        self.rows: list[PersonRow] = []
        self.faces: list[PersonFace] = []
        self._face_person: str | None = None
        self._busy = False
        self.split_off: list[str] = []  # persons split off here: shown even with one face, to be named
        self.crops = _Crops(self)
        self.crops.loaded.connect(self._on_crop)
        self.setWindowTitle("People")
        self.resize(1100, 720)
        self._build()

    # ----- layout -----
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.summary = QLabel("Looking for people…")
        self.summary.setObjectName("sectionTitle")
        layout.addWidget(self.summary)
        splitter = QSplitter()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.list = self._icon_list()
        self.list.itemSelectionChanged.connect(self._on_selection)
        self.list.itemActivated.connect(lambda item: self.open_selected())
        left_layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Name the selected person (Enter)")
        self.name_edit.returnPressed.connect(self.rename_selected)
        self.rename_button = QPushButton("Name")
        self.rename_button.clicked.connect(self.rename_selected)
        self.merge_button = QPushButton("Merge selected")
        self.merge_button.setToolTip("These are one person: their faces go together (the named one's name stays)")
        self.merge_button.clicked.connect(self.merge_selected)
        self.open_button = QPushButton("Show photos")
        self.open_button.setToolTip("Their photos in the main window, best face first (Enter, double-click)")
        self.open_button.clicked.connect(self.open_selected)
        for w in (self.name_edit, self.rename_button, self.merge_button, self.open_button):
            row.addWidget(w, 1 if w is self.name_edit else 0)
        left_layout.addLayout(row)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.faces_title = QLabel("Select a person to see their faces")
        self.faces_title.setObjectName("sectionTitle")
        self.face_list = self._icon_list()
        self.face_list.itemSelectionChanged.connect(self._enable)
        face_row = QHBoxLayout()
        self.not_button = QPushButton("Not this person")
        self.not_button.setToolTip("The selected faces are someone else: they leave this person for good")
        self.not_button.clicked.connect(self.not_this_person)
        self.split_button = QPushButton("Split off look-alikes")
        self.split_button.setToolTip("The selected face and the faces nearest to it are another person")
        self.split_button.clicked.connect(self.split_selected)
        face_row.addWidget(self.not_button)
        face_row.addWidget(self.split_button)
        face_row.addStretch(1)
        right_layout.addWidget(self.faces_title)
        right_layout.addWidget(self.face_list, 1)
        right_layout.addLayout(face_row)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([620, 480])
        layout.addWidget(splitter, 1)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self._enable()

    def _icon_list(self) -> QListWidget:
        view = QListWidget()
        view.setViewMode(QListWidget.ViewMode.IconMode)
        view.setIconSize(QSize(FACE_PX, FACE_PX))
        view.setGridSize(QSize(FACE_PX + 36, FACE_PX + 48))
        view.setResizeMode(QListWidget.ResizeMode.Adjust)
        view.setMovement(QListWidget.Movement.Static)
        view.setWordWrap(True)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        return view

    def _enable(self) -> None:
        people = self.selected_ids()
        faces = self.face_list.selectedItems()
        idle = not self._busy
        self.rename_button.setEnabled(idle and len(people) == 1)
        self.name_edit.setEnabled(len(people) == 1)
        self.merge_button.setEnabled(idle and len(people) >= 2)
        self.open_button.setEnabled(len(people) == 1)
        self.not_button.setEnabled(idle and bool(faces))
        self.split_button.setEnabled(idle and len(faces) == 1 and len(self.faces) >= 2)

    # ----- reading -----
    def reload(self) -> None:
        store, people, extra = self.store, self.people, list(self.split_off)
        run_call(lambda: person_rows(store, people, extra), self._on_rows, self._on_failed, owner=self)

    def _on_rows(self, rows: list[PersonRow]) -> None:
        chosen = set(self.selected_ids())
        self.rows = rows
        self.crops.cancel_pending()
        self.list.blockSignals(True)
        self.list.clear()
        for r in rows:
            item = QListWidgetItem(QIcon(placeholder()), f"{r.title}\n{r.faces} face{'s' if r.faces != 1 else ''}")
            item.setData(ID_ROLE, r.id)
            item.setToolTip(f"{r.title}: {r.faces} faces · double-click for their photos")
            self.list.addItem(item)
            item.setSelected(r.id in chosen)
            self.crops.request(f"person/{r.id}/{r.path}/{r.box}", r.path, r.box)
        self.list.blockSignals(False)
        named = sum(1 for r in rows if r.name)
        self.summary.setText(f"{len(rows)} people ({named} named)" if rows else
                             "No people yet: faces are grouped once two photos show the same person")
        self._on_selection()
        self.reloaded.emit(len(rows))

    def _on_crop(self, key: str, image: QImage) -> None:
        if image.isNull():
            return
        self.crops.cache[key] = image
        kind, ident = key.split("/", 2)[:2]
        target = self.list if kind == "person" else self.face_list
        for i in range(target.count()):
            item = target.item(i)
            if item.data(ID_ROLE + 1) == key or (kind == "person" and item.data(ID_ROLE) == ident):
                item.setIcon(QIcon(QPixmap.fromImage(image)))

    def selected_ids(self) -> list[str]:
        return [item.data(ID_ROLE) for item in self.list.selectedItems()]

    def _row(self, pid: str) -> PersonRow | None:
        return next((r for r in self.rows if r.id == pid), None)

    def _on_selection(self) -> None:
        ids = self.selected_ids()
        self._enable()
        if len(ids) != 1:
            self.face_list.clear()
            self.faces, self._face_person = [], None
            self.faces_title.setText("Select a person to see their faces" if not ids else
                                     f"{len(ids)} people selected: Merge puts their faces together")
            return
        row = self._row(ids[0])
        self.name_edit.setText((row.name or "") if row else "")
        self._show_faces(ids[0])

    def _show_faces(self, pid: str) -> None:
        store, people = self.store, self.people
        self._face_person = pid
        run_call(lambda: person_faces(store, people.resolve(pid))[:FACES_SHOWN],
                 lambda faces: self._on_faces(pid, faces), self._on_failed, owner=self)

    def _on_faces(self, pid: str, faces: list[PersonFace]) -> None:
        if pid != self._face_person:
            return
        self.faces = faces
        self.face_list.clear()
        row = self._row(pid)
        self.faces_title.setText(f"Faces of {row.title if row else pid} — the most typical first")
        for f in faces:
            key = f"face/{f.key}"
            item = QListWidgetItem(QIcon(placeholder()), images_name(f.path))
            item.setData(ID_ROLE, f.key)
            item.setData(ID_ROLE + 1, key)
            item.setToolTip(f.path)
            self.face_list.addItem(item)
            self.crops.request(key, f.path, f.box)
        self._enable()
        self.faces_shown.emit(len(faces))

    # ----- the user's decisions, all through core/people -----
    def rename_selected(self, name: str | None = None) -> None:
        ids = self.selected_ids()
        name = (name if isinstance(name, str) else self.name_edit.text()).strip()
        if len(ids) != 1:
            return
        if not name:
            self._say("A name cannot be empty.")
            return
        people = self.people
        self._decide(lambda: people.name(ids[0], name), f"Named {name}.")

    def merge_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) < 2:
            return
        # The named first (their id and name stay), then the one with most faces.
        rows = sorted((r for r in self.rows if r.id in ids), key=lambda r: (r.name is None, -r.faces))
        people = self.people
        self._decide(lambda: people.merge([r.id for r in rows]), f"Merged {len(rows)} people into one.")

    def not_this_person(self) -> None:
        pid = self._face_person
        keys = [item.data(ID_ROLE) for item in self.face_list.selectedItems()]
        if pid is None or not keys:
            return
        people = self.people

        def job():
            for key in keys:
                people.not_this_person(key, pid)

        self._decide(job, f"{len(keys)} face{'s' if len(keys) != 1 else ''} taken out of this person.")

    def split_selected(self) -> None:
        pid = self._face_person
        keys = [item.data(ID_ROLE) for item in self.face_list.selectedItems()]
        if pid is None or len(keys) != 1:
            return
        store, people = self.store, self.people

        def job():
            new = people.split(store, pid, keys[0])
            self.split_off.append(new.id)  # read on the main thread only after this job is done
            return new

        self._decide(job, "Split off as a new person: select it to name it.")

    def open_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1:
            row = self._row(ids[0])
            self.open_person.emit(ids[0], row.title if row else ids[0])

    def _decide(self, job, done_text: str) -> None:
        self._busy = True
        self._enable()

        def done(_result) -> None:
            self._busy = False
            self._say(done_text)
            self.changed.emit()
            self.reload()

        run_call(job, done, self._on_failed, owner=self)

    def _on_failed(self, exc: BaseException) -> None:
        self._busy = False
        problem = explain(exc, "", "showing people")
        self._say(problem.sentence)
        self.failed.emit(problem.sentence)
        self._enable()

    def _say(self, text: str) -> None:
        self.message.setText(text)

    def closeEvent(self, event) -> None:
        self.crops.cancel_pending()
        super().closeEvent(event)

    def shutdown(self, wait_ms: int = 5000) -> None:
        self.crops.cancel_pending()
        self.crops.pool.clear()
        self.crops.pool.waitForDone(wait_ms)


def images_name(path: str) -> str:
    return os.path.basename(readable_path(path))
