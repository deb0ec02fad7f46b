"""The Duplicates window's side-by-side view: the selected photo and its group's keeper, both large, with their facts
(pixels, file size, format, date taken, camera, folder) and every fact that differs highlighted on both sides.

Pictures come from a ThumbnailLoader (pool threads make QImages; the QPixmaps are made here, on the main thread).
Date taken and camera are read from the file's EXIF on the pool too (``read_exif``), never on the main thread.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QWidget

from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.core import exif, images
from imgsearch_desktop.core.dupes import Photo, is_lossless
from imgsearch_desktop.core.store import readable_path

FACTS = ("Pixels", "File size", "Format", "Date taken", "Camera", "Folder", "Name")
DIFFERENT = "background: #fff0c2; color: #5d4037; font-weight: bold; border-radius: 3px; padding: 1px 4px;"
SAME = "padding: 1px 4px;"
UNKNOWN = "—"


@dataclass(frozen=True)
class Exif:
    taken: str  # "2021-07-14 09:30", or "" when the file has no date
    camera: str  # "Canon EOS 80D", or ""
    lossless: bool


def read_exif(photo: Photo) -> Exif:
    """Pool thread: date taken and camera from EXIF (opened lazily: only the header is parsed)."""
    path = photo.real or photo.path
    taken = camera = ""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO put there since the scan would block the open
            raise OSError("not a regular file")
        with images.pillow_reasons(), Image.open(path) as im:
            found = exif.of_image(im)
        taken = found.taken[:16].replace("T", " ") if found.taken else ""
        camera = found.camera
    except (images.ImageSkipped, OSError):
        pass
    try:
        lossless = is_lossless(photo)  # a WebP's kind needs a look into the file: here, not on the main thread
    except OSError:
        lossless = False
    return Exif(taken, camera, lossless)


def facts(photo: Photo, exif: Exif | None) -> dict[str, str]:
    """The facts shown for one photo; ``exif`` None while it is being read."""
    folder, name = os.path.split(readable_path(photo.path))
    fmt = photo.format or UNKNOWN
    if exif is not None and exif.lossless:
        fmt += " (lossless)"
    pending = "…" if exif is None else UNKNOWN
    return {
        "Pixels": f"{photo.width} × {photo.height} ({photo.pixels / 1e6:.1f} MP)" if photo.pixels else UNKNOWN,
        "File size": human_size(photo.size),
        "Format": fmt,
        "Date taken": (exif.taken if exif else "") or pending,
        "Camera": (exif.camera if exif else "") or pending,
        "Folder": folder,
        "Name": name,
    }


def human_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.0f} KB" if n >= 1000 else f"{n} bytes"


class _Picture(QLabel):
    """A picture scaled to fit whatever room the pane has (never making the pane grow)."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(160, 120))
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setWordWrap(True)  # a message in its place ("Select a photo to compare…") wraps, never cut off
        self.setStyleSheet("background: #f5f7f8; color: #90a4ae; border: 1px solid #dde3e6; border-radius: 4px;")
        self.original: QPixmap | None = None

    def show_pixmap(self, pixmap: QPixmap | None, text: str = "") -> None:
        self.original = pixmap
        if pixmap is None:
            self.clear()
            self.setText(text)
        else:
            self._rescale()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self.original is not None and not self.original.isNull():
            self.setPixmap(self.original.scaled(self.size() - QSize(8, 8), Qt.AspectRatioMode.KeepAspectRatio,
                                                Qt.TransformationMode.SmoothTransformation))


class ComparePane(QFrame):
    """``show_pair(photo, keeper, photo_title, keeper_title)``; ``shown`` once both sides' facts are complete."""

    shown = Signal()

    def __init__(self, previews: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.previews = previews
        self.pair: tuple[Photo, Photo] | None = None
        self.exif: dict[tuple[str, int, int], Exif] = {}  # (path, size, mtime): read once per file version
        self.pixmaps: dict[str, QPixmap] = {}
        self.values: dict[str, tuple[str, str]] = {}  # fact → (photo's, keeper's), as shown
        self.differences: list[str] = []
        previews.loaded.connect(self._on_preview)

        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)
        self.titles = (QLabel(), QLabel())
        self.pictures = (_Picture(), _Picture())
        for col, (title, picture) in enumerate(zip(self.titles, self.pictures, strict=True), 1):
            title.setWordWrap(True)
            title.setTextFormat(Qt.TextFormat.RichText)
            grid.addWidget(title, 0, col)
            grid.addWidget(picture, 1, col)
        grid.setRowStretch(1, 1)
        self.labels: dict[str, tuple[QLabel, QLabel]] = {}
        for row, fact in enumerate(FACTS, 2):
            name = QLabel(fact)
            name.setStyleSheet("color: #607d8b;")
            grid.addWidget(name, row, 0)
            pair = (QLabel(), QLabel())
            for col, label in enumerate(pair, 1):
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                label.setWordWrap(True)
                grid.addWidget(label, row, col)
            self.labels[fact] = pair
        self.clear()

    def clear(self, text: str = "Select a photo to compare it with the copy that is kept.") -> None:
        self.pair = None
        self.titles[0].setText("")
        self.titles[1].setText("")
        for picture in self.pictures:
            picture.show_pixmap(None)
        self.pictures[0].setText(text)
        for a, b in self.labels.values():
            a.clear()
            b.clear()
        self.values, self.differences = {}, []

    def show_pair(self, photo: Photo, keeper: Photo, photo_title: str, keeper_title: str) -> None:
        self.pair = (photo, keeper)
        self.titles[0].setText(photo_title)
        self.titles[1].setText(keeper_title)
        for picture, p in zip(self.pictures, self.pair, strict=True):
            if p.path in self.pixmaps:
                picture.show_pixmap(self.pixmaps[p.path])
            else:
                picture.show_pixmap(None, "loading…")
                self.previews.request(p.path, urgent=True)  # urgent: never dropped as stale
        for p in self.pair:
            if _version(p) not in self.exif:
                run_call(lambda p=p: read_exif(p), lambda exif, p=p: self._on_exif(p, exif),
                         lambda _exc, p=p: self._on_exif(p, Exif("", "", False)), owner=self)
        self._fill_facts()

    def _on_exif(self, photo: Photo, exif: Exif) -> None:
        self.exif[_version(photo)] = exif
        if self.pair and any(_version(p) == _version(photo) for p in self.pair):
            self._fill_facts()

    def complete(self) -> bool:
        return self.pair is not None and all(_version(p) in self.exif for p in self.pair)

    def _fill_facts(self) -> None:
        assert self.pair is not None
        left, right = (facts(p, self.exif.get(_version(p))) for p in self.pair)
        self.values = {fact: (left[fact], right[fact]) for fact in FACTS}
        self.differences = []
        for fact, (a, b) in self.values.items():
            differ = a != b and self.complete()
            if differ:
                self.differences.append(fact)
            for label, text in zip(self.labels[fact], (a, b), strict=True):
                label.setText(text)
                label.setStyleSheet(DIFFERENT if differ else SAME)
                label.setToolTip("differs from the other photo" if differ else "")
        if self.complete():
            self.shown.emit()

    @Slot(object, QImage)
    def _on_preview(self, path: str, image: QImage) -> None:
        # Main thread: the only place a QPixmap is made.
        self.pixmaps[path] = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
        if len(self.pixmaps) > 64:  # a long review must not keep every large preview in memory
            self.pixmaps.pop(next(iter(self.pixmaps)))
        if self.pair:
            for picture, p in zip(self.pictures, self.pair, strict=True):
                if p.path == path:
                    if image.isNull():
                        picture.show_pixmap(None, "cannot show this file")
                    else:
                        picture.show_pixmap(self.pixmaps[path])

    def pictures_ready(self) -> bool:
        return self.pair is not None and all(p.path in self.pixmaps for p in self.pair)


def _version(p: Photo) -> tuple[str, int, int]:
    return p.path, p.size, p.mtime_ns
