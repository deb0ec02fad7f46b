"""A query made of parts, shown as chips under the query photo, and the composer that keeps them.

Each chip is one part: its thumbnail (from the window's ThumbnailLoader) or its sentence, green for "more like",
red for "less like", a weight slider (right of the middle: more like; left: less like) and a remove button. The
composer turns all chips into one ``Query(parts=...)`` for the window's query runner, keeps the back/forward
history (Alt+Left / Alt+Right) and listens to the region drag on the query photo and to the results' "More like
this" / "Less like this".

How parts arrive: a dropped, pasted or opened photo replaces the query, or with Shift held adds a part; a sentence
typed while a photo is in the query adds a text part (otherwise it replaces the query, as before).
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from imgsearch_desktop.app.history import History, copy_parts
from imgsearch_desktop.app.index_status import ElidedLabel
from imgsearch_desktop.app.region_select import RegionSelector
from imgsearch_desktop.core.query import Part
from imgsearch_desktop.core.store import readable_path

THUMB_PX = 52
SETTLE_MS = 300
WEIGHT_STEPS = 10  # slider units per 1.0 of weight; the slider runs from -2 to +2

MORE = ("#2e7d32", "#e8f5e9")  # border, background
LESS = ("#c62828", "#ffebee")
NONE = ("#90a4ae", "#eceff1")


def is_photo(part: Part) -> bool:
    return part.text is None


def part_title(part: Part) -> str:
    if part.text is not None:
        return f"“{part.text}”"
    name = os.path.basename(readable_path(part.path or part.stored or "")) or "pasted image"
    return name + (" (region)" if part.region else "")


def cropped(image: QImage, region) -> QImage:
    if region is None or image.isNull():
        return image
    left, top, right, bottom = region
    w, h = image.width(), image.height()
    return image.copy(QRect(round(left * w), round(top * h), max(1, round((right - left) * w)),
                            max(1, round((bottom - top) * h))))


class Chip(QFrame):
    """One part of the query."""

    weight_changed = Signal(object, float)  # self, new weight
    remove_clicked = Signal(object)  # self

    def __init__(self, part: Part, parent=None) -> None:
        super().__init__(parent)
        self.part = part
        self.setObjectName("chip")
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 4, 4)
        row.setSpacing(6)
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB_PX, THUMB_PX)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setObjectName("chipThumb")
        if part.text is not None:
            self.thumb.setText("Aa")
            self.thumb.setToolTip("A sentence")
        column = QVBoxLayout()
        column.setSpacing(2)
        # A sentence wraps; a file name is one line, cut in the middle to the chip's width (it was clipped at
        # the chip's edge, its end — the extension, the number that tells copies apart — gone).
        self.title = QLabel(part_title(part)) if part.text is not None else ElidedLabel(part_title(part))
        self.title.setObjectName("chipTitle")
        self.title.setToolTip(readable_path(part.path or part.stored or "") or part.text or "pasted image")
        self.title.setMinimumWidth(40)
        self.title.setWordWrap(part.text is not None)
        sliders = QHBoxLayout()
        sliders.setSpacing(4)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-2 * WEIGHT_STEPS, 2 * WEIGHT_STEPS)
        self.slider.setValue(round(part.weight * WEIGHT_STEPS))
        self.slider.setToolTip("Right of the middle: more like this part; left: less like it")
        self.slider.setMinimumWidth(60)
        self.value = QLabel()
        self.value.setObjectName("chipWeight")
        self.value.setMinimumWidth(56)
        sliders.addWidget(self.slider, 1)
        sliders.addWidget(self.value)
        column.addWidget(self.title)
        column.addLayout(sliders)
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this part from the query")
        self.remove.setAutoRaise(True)
        self.remove.setAccessibleName(f"Remove {part_title(part)}")
        row.addWidget(self.thumb)
        row.addLayout(column, 1)
        row.addWidget(self.remove, 0, Qt.AlignmentFlag.AlignTop)
        self.slider.valueChanged.connect(self._on_slider)
        self.remove.clicked.connect(lambda: self.remove_clicked.emit(self))
        self._paint_weight()

    @property
    def more(self) -> bool:
        return self.part.weight > 0

    def set_image(self, image: QImage) -> None:
        image = cropped(image, self.part.region)
        if image.isNull():
            return
        self.thumb.setPixmap(QPixmap.fromImage(image).scaled(
            THUMB_PX, THUMB_PX, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))

    def _on_slider(self, value: int) -> None:
        self.part.weight = value / WEIGHT_STEPS
        self._paint_weight()
        self.weight_changed.emit(self, self.part.weight)

    def _paint_weight(self) -> None:
        w = self.part.weight
        border, background = MORE if w > 0 else LESS if w < 0 else NONE
        self.value.setText(f"more ×{w:.1f}" if w > 0 else f"less ×{-w:.1f}" if w < 0 else "ignored")
        self.value.setStyleSheet(f"color: {border}; font-weight: bold;")
        self.setStyleSheet(f"QFrame#chip {{ border: 2px solid {border}; border-radius: 8px; "
                           f"background: {background}; }}"
                           "QLabel#chipThumb { background: white; border-radius: 4px; color: #546e7a; "
                           "font-weight: bold; }")


class QueryPanel(QWidget):
    """The chips, one per part, with a line on how to add more."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        self.title = QLabel("Parts")
        self.title.setObjectName("sectionTitle")
        holder = QWidget()
        self.list = QVBoxLayout(holder)
        self.list.setContentsMargins(0, 0, 0, 0)
        self.list.setSpacing(4)
        self.list.addStretch(1)
        self.scroll = QScrollArea()  # many parts scroll instead of pushing the window taller
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes to the parts' own controls: it showed nothing
        self.scroll.setWidget(holder)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setStyleSheet("QScrollArea, QScrollArea > QWidget > QWidget { background: transparent; }")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.help = QLabel("Shift+drop a photo or type a sentence to add a part · right-click a result: "
                           "More / Less like this · drag on the photo to search by a region")
        self.help.setObjectName("queryCaption")
        self.help.setWordWrap(True)
        self.help.setStyleSheet("color: #78909c; font-size: 11px;")
        # The face the query searches by (clicked on the query photo): one chip above the parts; ✕ removes it.
        self.face_chip = QToolButton()
        self.face_chip.setObjectName("faceChip")
        self.face_chip.setToolTip("Photos with this face, nearest first: click to remove it from the query")
        self.face_chip.setStyleSheet("QToolButton#faceChip { border: 2px solid #2e7d32; border-radius: 8px; "
                                     "background: #e8f5e9; padding: 4px 8px; }")
        self.face_chip.hide()
        layout.addWidget(self.title)
        layout.addWidget(self.face_chip)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.help)
        self.chips: list[Chip] = []
        self.title.hide()

    def set_parts(self, parts: list[Part]) -> list[Chip]:
        for chip in self.chips:
            self.list.removeWidget(chip)
            chip.deleteLater()
        self.chips = [Chip(p) for p in parts]
        for i, chip in enumerate(self.chips):
            self.list.insertWidget(i, chip)  # above the stretch
        self.title.setVisible(bool(self.chips))
        return self.chips

    def tab_chain(self) -> list[QWidget]:
        return [w for chip in self.chips for w in (chip.slider, chip.remove)]


class QueryComposer(QObject):
    """The query's parts, their chips, history and the ways parts arrive. Needs from the window: ``query_pane``,
    ``thumbnails``, ``grid``, ``filter_bar``, ``search``, ``run``, ``current_query``, ``query_image``.

    Besides the parts: a face clicked on the query photo (``face``, a positive part that takes the photo's place)
    and the filter bar's person filter; a query may be only one of them (a person's photos, best face first)."""

    changed = Signal()  # the parts changed (tests wait on it)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self.parts: list[Part] = []
        self.pasted: dict[bytes, QImage] = {}  # image data → the pasted QImage (its preview and chip)
        self.history = History()
        self.panel = QueryPanel()
        pane_layout = window.query_pane.layout()
        pane_layout.insertWidget(pane_layout.count() - 1, self.panel, 1)  # takes the room below the caption
        pane_layout.setStretch(pane_layout.count() - 1, 0)
        self.region = RegionSelector(window.query_image)
        self.region.selected.connect(self.set_region)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._weights_settled)
        window.thumbnails.loaded.connect(self._on_thumbnail)
        window.grid.more_like_requested.connect(lambda path: self.ask(Part(stored=path, weight=1.0), add=True))
        window.grid.less_like_requested.connect(lambda path: self.ask(Part(stored=path, weight=-1.0), add=True))
        window.filter_bar.changed.connect(self._filters_changed)
        window.runner.unreadable.connect(self.drop_unreadable)
        self.back_action = self._shortcut("Back to the previous query", "Alt+Left", self.back)
        self.forward_action = self._shortcut("Forward to the next query", "Alt+Right", self.forward)
        from imgsearch_desktop.app.face_outlines import FaceOutlines

        self.face = None  # FacePick: the face the query searches by
        self.outlines = FaceOutlines(window.query_image, lambda: window.runner.store)
        self.outlines.face_clicked.connect(self.ask_face)
        self.panel.face_chip.clicked.connect(self.remove_face)

    def _shortcut(self, text: str, keys: str, slot) -> QAction:
        action = QAction(text, self.w)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.w.addAction(action)
        return action

    # ----- parts arrive -----
    def ask(self, part: Part, add: bool = False, image: QImage | None = None) -> None:
        """A new part: replaces the query, or with ``add`` joins it. ``image``: pasted data's QImage."""
        if image is not None and part.image_bytes is not None:
            self.pasted[part.image_bytes] = image
        self.ask_parts([part], add)

    def ask_parts(self, parts: list[Part], add: bool = False) -> None:
        """New parts (several dropped files, a grid's "Search with these photos"): they replace the query unless
        ``add``, which joins them to it."""
        if not parts:
            return
        if not add and any(is_photo(p) for p in parts):
            self.face = None  # a new photo: its own faces are outlined, none chosen
        self.parts = [*self.parts, *parts] if add and self.parts else list(parts)
        self._apply(push=True)

    def ask_text(self, text: str) -> None:
        """A typed sentence: joins a query that has a photo or a face, else it is the query (the person filter
        stays: "Anna" + "at the beach")."""
        self.ask(Part(text=text), add=any(is_photo(p) for p in self.parts) or self.face is not None)

    def ask_face(self, pick) -> None:
        """A face clicked on the query photo: the query searches by it in the photo's place (sentences stay)."""
        self.face = pick
        self.parts = [p for p in self.parts if not is_photo(p)]
        self._apply(push=True)

    def remove_face(self) -> None:
        self.face = None
        self._apply(push=True)

    def show_person(self) -> None:
        """The filter bar's person alone: their photos, best face first."""
        self.face = None
        self.parts = []
        self._apply(push=False)

    def resubmit(self) -> None:
        """The query again as the window builds it now (the person filter came or went)."""
        self._apply(push=False, preview=False)

    def _has_query(self) -> bool:
        return bool(self.parts) or self.face is not None or self.w.filter_bar.person is not None

    def clear(self) -> None:
        """No parts: the window shows the library (the history keeps the query for Alt+Left)."""
        if self.parts and self.history.current is not None:
            self.history.update(self.parts, self.w.filter_bar.state())
        self.parts = []
        self.face = None
        self._apply(push=False)

    def set_region(self, region) -> None:
        """A rectangle dragged on the query photo: the photo's part searches by that region."""
        main = self._main_photo()
        if main is None or main.stored is not None:
            self.region.clear()
            return
        index = next(i for i, p in enumerate(self.parts) if p is main)
        self.parts = list(self.parts)
        self.parts[index] = Part(path=main.path, image_bytes=main.image_bytes, weight=main.weight,
                                 region=tuple(region))
        self._apply(push=True, preview=False)

    def remove(self, chip: Chip) -> None:
        self.parts = [p for p in self.parts if p is not chip.part]
        self._apply(push=bool(self.parts))

    def drop_unreadable(self, part: Part, problem) -> None:
        """A part that cannot be read leaves the query (the rest runs again; with nothing left, there is no query
        and no stale grid), and the message says which file and why."""
        if part in self.parts:
            index = self.parts.index(part)
            self.parts = self.parts[:index] + self.parts[index + 1:]
            self.history.discard()  # what is left is the query now (the same as the one before: one entry)
            self._apply(push=bool(self.parts))
        self.w.show_problem(problem.with_sentence(f"{problem.sentence} It was taken out of the query."), "part")

    # ----- history -----
    def back(self) -> None:
        self._go(self.history.back)

    def forward(self) -> None:
        self._go(self.history.forward)

    def _go(self, step) -> None:
        self._settle.stop()
        if self.history.current is not None and self.parts:
            self.history.update(self.parts, self.w.filter_bar.state())
        entry = step()
        if entry is None:
            return
        self.w.filter_bar.set_state(entry.filters)
        self.parts = copy_parts(entry.parts)
        self._apply(push=False)

    # ----- keeping chips, preview and query in step -----
    def _apply(self, push: bool, preview: bool = True) -> None:
        self._settle.stop()
        chips = self.panel.set_parts(self.parts)
        for chip in chips:
            chip.weight_changed.connect(lambda *_: self._settle.start())
            chip.remove_clicked.connect(self.remove)
            self._fill_thumbnail(chip)
        if preview:
            self._show_preview()
        if any(is_photo(p) for p in self.parts):
            self.w.search.clear()  # its sentence, if any, is a chip now: typed after, it must not run on
        self.region.show_region(self._main_photo().region if self._main_photo() else None)
        self.panel.face_chip.setVisible(self.face is not None)
        if self.face is not None:
            self.panel.face_chip.setText(f"☺ Face in {self.face.source}  ✕")
        self.changed.emit()
        if not self._has_query():
            self.w.clear_results()
            return
        if push and self.parts:
            self.history.push(self.parts, self.w.filter_bar.state())
        self.w.submit_query(self.w.current_query(parts=copy_parts(self.parts)))

    def _weights_settled(self) -> None:
        self.history.update(self.parts, self.w.filter_bar.state())
        self.w.submit_query(self.w.current_query(parts=copy_parts(self.parts)))

    def _filters_changed(self) -> None:
        if self.parts:
            self.history.update(self.parts, self.w.filter_bar.state())

    def _main_photo(self) -> Part | None:
        """The photo shown big above the chips: the first photo part, else None."""
        return next((p for p in self.parts if is_photo(p)), None)

    def _show_preview(self) -> None:
        w, pane = self.w, self.w.query_pane
        main = self._main_photo()
        w._query_preview = None
        face = self.face
        if main is None and face is not None:  # the face's photo stays shown, the face outlined as chosen
            main = Part(path=face.path, image_bytes=face.image_bytes)
        if main is None:
            self.outlines.clear()
            person = self.w.filter_bar.person
            if self.parts:
                pane.show_text(" + ".join(p.text for p in self.parts if p.text is not None))
            elif person is not None:
                pane.image.clear()
                pane.image.setText(f"👤 {person[1]}")
                pane.caption.setText("Their photos, best face first")
            else:
                pane.image.clear()
                pane.image.setText("No query yet")
                pane.caption.setText("")
            return
        if main.stored is None and self.w.settings.faces:  # a photo file or pasted data: its faces, outlined
            # (click one to search by it); with faces off in Settings no photo is looked at for faces
            self.outlines.show_for(main.path, None if main.path else main.image_bytes,
                                   face.box if face is not None else None)
        else:
            self.outlines.clear()
        path = main.path or main.stored
        if path is not None:
            # The photo itself may be 50 MP: its preview is decoded off the main thread, like the thumbnails.
            w._query_preview = path
            pane.show_image(QPixmap(), os.path.basename(readable_path(path)), readable_path(path))
            w.thumbnails.request(path, urgent=True)
        else:
            image = self.pasted.get(main.image_bytes or b"", QImage())
            pane.show_image(QPixmap.fromImage(image), "pasted image", "")

    def _fill_thumbnail(self, chip: Chip) -> None:
        part = chip.part
        if part.path is not None or part.stored is not None:
            self.w.thumbnails.request(part.path or part.stored, urgent=True)
        elif part.image_bytes is not None:
            chip.set_image(self.pasted.get(part.image_bytes, QImage()))

    def _on_thumbnail(self, path: str, image: QImage) -> None:
        for chip in self.panel.chips:
            if path in (chip.part.path, chip.part.stored):
                chip.set_image(image)
        main = self._main_photo()
        if main is not None and path in (main.path, main.stored):
            QTimer.singleShot(0, lambda: self.region.show_region(main.region))  # after the preview is painted
