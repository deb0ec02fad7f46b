"""The status bar's indexing part: "Indexing 1,234 / 20,000 · 25 img/s · 12 min left", Pause/Cancel, and when idle
"12,345 photos · 3 skipped" (the link opens the list with reasons).

The arithmetic is pure (``eta_seconds``, ``format_left``, ``progress_text``, ``IndexClock`` with the time passed
in) and unit-tested; the widget only ticks once a second so that the time left keeps moving between batches.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QToolButton, QWidget


# ---------------------------------------------------------------- pure
def eta_seconds(done: int, total: int, counted: int, active: float, since_update: float = 0.0) -> float | None:
    """Seconds left: ``counted`` photos took ``active`` seconds of unpaused work up to the last update, which was
    ``since_update`` unpaused seconds ago (so the estimate counts down between batches). None: no rate yet."""
    if counted <= 0 or active <= 0 or total <= 0:
        return None
    return max(0.0, (total - done) * active / counted - since_update)


def format_left(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 5:
        return "almost done"
    if seconds < 90:
        return f"{seconds:.0f} s left"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min left"
    return f"{minutes // 60} h {minutes % 60:02d} min left"


def duration_text(seconds: float) -> str:
    """How long something took, as a person says it: "240 ms", "2.5 s", "31 s", "2 min 5 s" (never "31445 ms")."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def progress_text(done: int, total: int, rate: float, left: float | None, paused: bool,
                  label: str = "Indexing") -> str:
    text = f"{label} {done:,} / {total:,}"
    if paused:
        return text + " · paused"
    if rate > 0:
        text += f" · {rate:.0f} img/s" if rate >= 1 else f" · {rate:.1f} img/s"
    left_text = format_left(left)
    return f"{text} · {left_text}" if left_text else text


def summary_text(photos: int | None) -> str:
    if photos is None:
        return ""
    return f"{photos:,} photo{'' if photos == 1 else 's'}"


def finished_text(stats) -> str:
    """The status line after a job (IndexStats): what changed, in words — never "indexed 0"."""
    if stats.cancelled:
        return "Indexing cancelled — F5 scans again"
    parts = [f"{n:,} {word}" for n, word in ((stats.indexed, "added"), (stats.moved, "moved"),
                                             (stats.removed, "removed")) if n]
    return "Up to date" + (f" · {', '.join(parts)}" if parts else "")


def empty_library_text(folders: list[str]) -> str:
    """After a scan found nothing (say "Use Pictures" on an empty Pictures folder): what to do about it."""
    names = ", ".join(os.path.basename(f.rstrip(os.sep)) or f for f in folders[:3])
    return (f"No photos found in {names} yet. Put photos there (they are picked up as they arrive), "
            "or choose another folder in Settings (Ctrl+,).")


@dataclass
class IndexClock:
    """Turns progress events, pauses and resumes (with their times) into a rate and the time left.

    Only unpaused time counts: a pause neither freezes the estimate nor makes the rate look slower afterwards.
    """

    first_done: int | None = None
    done: int = 0
    total: int = 0
    paused: bool = False
    active: float = 0.0  # unpaused seconds before ``running_since``
    running_since: float | None = None
    active_at_update: float = 0.0
    label: str = "Indexing"  # the job's phase: "Finding faces" after the photos are searchable

    def _active(self, now: float) -> float:
        return self.active + (now - self.running_since if self.running_since is not None else 0.0)

    def progress(self, done: int, total: int, now: float) -> None:
        if self.first_done is None or done < self.done or total != self.total:  # a new job (or a new plan)
            self.first_done, self.active = done, 0.0
            self.running_since = None if self.paused else now
        self.done, self.total = done, total
        self.active_at_update = self._active(now)

    def pause(self, now: float) -> None:
        self.active, self.running_since, self.paused = self._active(now), None, True

    def resume(self, now: float) -> None:
        self.paused, self.running_since = False, now

    def reset(self) -> None:
        self.__init__()

    def rate(self) -> float:
        counted = self.done - (self.first_done or 0)
        return counted / self.active_at_update if counted > 0 and self.active_at_update > 0 else 0.0

    def text(self, now: float) -> str:
        left = eta_seconds(self.done, self.total, self.done - (self.first_done or 0), self.active_at_update,
                           self._active(now) - self.active_at_update)
        return progress_text(self.done, self.total, self.rate(), left, self.paused, self.label)


# ---------------------------------------------------------------- widgets
class ElidedLabel(QLabel):
    """A one-line label that never widens the window: long text is elided, the whole of it in the tooltip."""

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = " ".join(text.split())  # one line, whatever the message held
        self.setToolTip(self._full if len(self._full) > 60 else "")
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(self.width() - 4, 40)
        super().setText(QFontMetrics(self.font()).elidedText(self._full, Qt.TextElideMode.ElideMiddle, width))


class IndexStatus(QWidget):
    """Message + photo count + skipped link + progress bar + Pause/Resume + Cancel, for the status bar."""

    pause_clicked = Signal(bool)  # True = pause
    cancel_clicked = Signal()
    skipped_clicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.clock = IndexClock()
        self.photos: int | None = None
        self.skipped = 0
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.message = ElidedLabel("Starting…")
        self.count = QLabel()
        self.skipped_link = QLabel()
        self.skipped_link.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse |
                                                  Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.skipped_link.linkActivated.connect(lambda _link: self.skipped_clicked.emit())
        self.skipped_link.hide()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(180)
        self.bar.setMinimumWidth(60)
        self.bar.setTextVisible(False)
        self.pause_button = QToolButton()
        self.pause_button.setText("Pause")
        self.pause_button.clicked.connect(lambda: self.pause_clicked.emit(not self.clock.paused))
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel_clicked.emit)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.count)
        layout.addWidget(self.skipped_link)
        for w in (self.bar, self.pause_button, self.cancel_button):
            layout.addWidget(w)
            w.hide()
        self.ticker = QTimer(self)
        self.ticker.setInterval(1000)
        self.ticker.timeout.connect(self._tick)  # the time left moves between batches, and a pause shows

    # ----- indexing -----
    @property
    def indexing(self) -> bool:
        return self.bar.isVisibleTo(self)

    @property
    def adding(self) -> bool:
        """Photos are still being made searchable (not the faces phase after it, when every photo already is)."""
        return self.indexing and self.clock.label == IndexClock.label

    @property
    def phase(self) -> str:
        """The running phase's name: "Indexing", "Finding faces"... (until ``finished``)."""
        return self.clock.label

    def tab_chain(self) -> list[QWidget]:
        return [self.pause_button, self.cancel_button]

    def on_progress(self, done: int, total: int, _note: str = "") -> None:
        self.clock.progress(done, total, time.monotonic())
        if total == 0:
            return
        for w in (self.bar, self.pause_button, self.cancel_button):
            w.show()
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        self.ticker.start()
        self._tick()

    def set_phase(self, label: str) -> None:
        """A new phase of the job (the faces after the CLIP pass): its own count and rate."""
        paused = self.clock.paused
        self.clock.reset()
        self.clock.label = label
        if paused:
            self.clock.pause(time.monotonic())
        self.message.setText(label + "…")

    def set_paused(self, paused: bool) -> None:
        (self.clock.pause if paused else self.clock.resume)(time.monotonic())
        self.pause_button.setText("Resume" if paused else "Pause")
        if self.indexing:
            self._tick()

    def finished(self, message: str) -> None:
        self.ticker.stop()
        self.clock.reset()
        self.pause_button.setText("Pause")
        for w in (self.bar, self.pause_button, self.cancel_button):
            w.hide()
        self.message.setText(message)

    def _tick(self) -> None:
        if self.indexing:
            self.message.setText(self.clock.text(time.monotonic()))

    # ----- idle -----
    def set_summary(self, photos: int | None, skipped: int) -> None:
        self.photos, self.skipped = photos, skipped
        self.count.setText(summary_text(photos))
        self.skipped_link.setText(f"· <a href='skipped'>{skipped:,} skipped</a>")
        self.skipped_link.setVisible(skipped > 0)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
