"""Drag a rectangle on the query photo to search by that part of it.

An event filter on the label that shows the photo's preview: the rectangle is clipped to the picture (the label
centres a scaled pixmap) and reported as (left, top, right, bottom) fractions of the picture, the ``region`` a
query part takes. The preview is the upright (EXIF-oriented) thumbnail, and the core crops the upright photo, so
the fractions mean the same thing on both sides.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QRubberBand

MIN_PX = 6  # a smaller drag is a click, not a region


class RegionSelector(QObject):
    selected = Signal(object)  # (left, top, right, bottom) fractions of the picture

    def __init__(self, label: QLabel) -> None:
        super().__init__(label)
        self.label = label
        self.band = QRubberBand(QRubberBand.Shape.Rectangle, label)
        self.origin: QPoint | None = None
        self.enabled = True
        label.installEventFilter(self)
        label.setCursor(Qt.CursorShape.CrossCursor)
        label.setToolTip("Drag a rectangle on the photo to search by that part of it")

    def picture_rect(self) -> QRect:
        """Where the pixmap is drawn inside the label (centred), or an empty rect when there is none."""
        pixmap = self.label.pixmap()
        if pixmap is None or pixmap.isNull():
            return QRect()
        size = pixmap.deviceIndependentSize().toSize()
        area = self.label.contentsRect()
        rect = QRect(QPoint(0, 0), size)
        rect.moveCenter(area.center())
        return rect

    def clear(self) -> None:
        self.origin = None
        self.band.hide()

    def show_region(self, region) -> None:
        """Outline a region (fractions) on the picture, e.g. when going back to a query that had one."""
        pic = self.picture_rect()
        if region is None or pic.isEmpty():
            self.band.hide()
            return
        left, top, right, bottom = region
        self.band.setGeometry(QRect(QPoint(pic.x() + round(left * pic.width()), pic.y() + round(top * pic.height())),
                                    QPoint(pic.x() + round(right * pic.width()) - 1,
                                           pic.y() + round(bottom * pic.height()) - 1)))
        self.band.show()

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton and self.enabled:
            pos = event.position().toPoint()
            if self.picture_rect().contains(pos):
                self.origin = pos
                self.band.setGeometry(QRect(pos, QSize()))
                self.band.show()
                return True
        elif kind == QEvent.Type.MouseMove and self.origin is not None:
            self.band.setGeometry(QRect(self.origin, event.position().toPoint()).normalized() & self.picture_rect())
            return True
        elif kind == QEvent.Type.MouseButtonRelease and self.origin is not None:
            pic = self.picture_rect()
            rect = QRect(self.origin, event.position().toPoint()).normalized() & pic
            self.origin = None
            if rect.width() < MIN_PX or rect.height() < MIN_PX:
                self.band.hide()
                return True
            self.band.setGeometry(rect)
            w, h = pic.width(), pic.height()
            self.selected.emit(((rect.left() - pic.left()) / w, (rect.top() - pic.top()) / h,
                                (rect.right() + 1 - pic.left()) / w, (rect.bottom() + 1 - pic.top()) / h))
            return True
        return False
