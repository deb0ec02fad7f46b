"""The faces of the query photo, outlined on its preview: click one to search by that face (`search --face`).

The faces come from core/people_search.photo_faces on the thread pool — the stored boxes when the photo is indexed as it
is now, else found now (about half a second) — and are drawn by a transparent overlay over the preview label, mapped
from the photo's pixels onto the centred, scaled pixmap (the preview is the upright thumbnail and the boxes are in
the upright photo's pixels, as for the region drag). A click is a press and release within a few pixels on a face;
a drag still selects a region (the RegionSelector sees every event: this filter never consumes one).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QLabel, QWidget

from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.core.store import readable_path

log = logging.getLogger(__name__)
CLICK_PX = 6  # a press and release closer than this is a click (RegionSelector.MIN_PX: smaller is no region)


@dataclass
class FacePick:
    """A face chosen on the query photo: what the query searches by."""

    descriptor: tuple[float, ...]
    box: tuple[int, int, int, int]
    source: str  # the photo's name, in words
    path: str | None = None  # the photo it is in (or image data, pasted)
    image_bytes: bytes | None = None


class _Overlay(QWidget):
    def __init__(self, owner: FaceOutlines, label: QLabel) -> None:
        super().__init__(label)
        self.owner = owner
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)

    def paintEvent(self, _event) -> None:
        rects = self.owner.face_rects()
        if not rects:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for i, rect in enumerate(rects):
            chosen = i == self.owner.chosen
            painter.setPen(QPen(QColor("#ffd600" if chosen else "#ffffff"), 3 if chosen else 2))
            painter.drawRoundedRect(QRectF(rect), 4, 4)
            painter.setPen(QPen(QColor(0, 0, 0, 90), 1))
            painter.drawRoundedRect(QRectF(rect.adjusted(-2, -2, 2, 2)), 5, 5)
        painter.end()


class FaceOutlines(QObject):
    face_clicked = Signal(object)  # FacePick
    found = Signal(int)  # the faces now outlined (tests wait on it)

    def __init__(self, label: QLabel, store_of) -> None:
        super().__init__(label)
        self.label = label
        self.store_of = store_of  # () -> the current Store, or None
        self.faces = None  # core.people_search.PhotoFaces of the photo shown
        self.path: str | None = None
        self.image_bytes: bytes | None = None
        self.chosen: int | None = None
        self._wanted = False  # a photo's faces to look up at start()
        self._chosen_box = None
        self._seq = 0
        self._press: QPoint | None = None
        self.overlay = _Overlay(self, label)
        self.overlay.setGeometry(label.rect())
        self.overlay.show()
        label.installEventFilter(self)

    # ----- which photo -----
    def show_for(self, path: str | None = None, image_bytes: bytes | None = None, chosen_box=None) -> None:
        """Outline the faces of this photo (file or image data); ``chosen_box``: the face the query searches by.
        The faces are looked up at ``start`` (the window calls it once the query's results are shown: finding
        faces in a photo that is not indexed takes a core for half a second, which the query must not wait for)."""
        if (path, image_bytes) == (self.path, self.image_bytes) and (self.faces is not None or self._wanted):
            self._chosen_box = chosen_box
            if self.faces is not None:
                self._choose(chosen_box)
            return
        self.clear()
        if path is None and image_bytes is None:
            return
        self.path, self.image_bytes, self._chosen_box = path, image_bytes, chosen_box
        self._wanted = True

    def start(self) -> None:
        if not self._wanted:
            return
        self._wanted = False
        self._seq += 1
        seq, store, path, image_bytes = self._seq, self.store_of(), self.path, self.image_bytes
        from imgsearch_desktop.core.people_search import photo_faces

        run_call(lambda: photo_faces(store, path, image_bytes), lambda faces: self._on_faces(seq, faces),
                 lambda exc: log.info("faces of the query photo: %s", exc), owner=self)

    def clear(self) -> None:
        self._seq += 1
        self.faces, self.path, self.image_bytes, self.chosen = None, None, None, None
        self._wanted, self._chosen_box = False, None
        self.overlay.update()

    def _on_faces(self, seq: int, faces) -> None:
        if seq != self._seq:
            return  # another photo is shown now
        self.faces = faces
        self._choose(self._chosen_box)
        self.found.emit(len(faces.faces))

    def _choose(self, box) -> None:
        boxes = [tuple(f["box"]) for f in self.faces.faces] if self.faces else []
        self.chosen = boxes.index(tuple(box)) if box is not None and tuple(box) in boxes else None
        self.overlay.update()

    # ----- geometry -----
    def picture_rect(self) -> QRect:
        pixmap = self.label.pixmap()
        if pixmap is None or pixmap.isNull():
            return QRect()
        rect = QRect(QPoint(0, 0), pixmap.deviceIndependentSize().toSize())
        rect.moveCenter(self.label.contentsRect().center())
        return rect

    def face_rects(self) -> list[QRect]:
        pic = self.picture_rect()
        if self.faces is None or pic.isEmpty() or not self.faces.width or not self.faces.height:
            return []
        fx, fy = pic.width() / self.faces.width, pic.height() / self.faces.height
        return [QRect(pic.x() + round(x * fx), pic.y() + round(y * fy), max(4, round(w * fx)), max(4, round(h * fy)))
                for x, y, w, h in (f["box"] for f in self.faces.faces)]

    def pick(self, index: int) -> FacePick:
        face = self.faces.faces[index]
        name = os.path.basename(readable_path(self.path)) if self.path else "the pasted image"
        return FacePick(tuple(float(v) for v in face["descriptor"]), tuple(int(v) for v in face["box"]), name,
                        self.path, self.image_bytes)

    def click(self, index: int) -> None:
        self.chosen = index
        self.overlay.update()
        self.face_clicked.emit(self.pick(index))

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.Resize, QEvent.Type.Show):
            self.overlay.setGeometry(self.label.rect())
            self.overlay.raise_()
        elif kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
        elif kind == QEvent.Type.MouseButtonRelease and self._press is not None:
            start, pos = self._press, event.position().toPoint()
            self._press = None
            if (pos - start).manhattanLength() < CLICK_PX:
                hit = next((i for i, r in enumerate(self.face_rects()) if r.contains(pos)), None)
                if hit is not None:
                    self.click(hit)
        return False
