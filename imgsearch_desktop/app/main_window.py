"""The main window: a drop zone, a search bar, the query image beside a grid of the nearest photos, a status bar.

It only presents and delegates: queries run on the thread pool, indexing on the IndexWorker's thread.
"""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QBuffer, QByteArray, QDate, QIODevice, QSettings, QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from imgsearch_desktop import __version__
from imgsearch_desktop.app.results_model import HitRole, ResultsModel
from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.app.workers import IndexWorker, run_task
from imgsearch_desktop.core import images
from imgsearch_desktop.core.pipeline import IndexStats
from imgsearch_desktop.core.query import Query, QueryResult, run_query
from imgsearch_desktop.core.store import Filters, Hit, display

README_URL = "https://github.com/imgsearch-desktop/imgsearch-desktop#readme"
ICON_PX = 180
FORMATS = ["All formats", "JPEG", "PNG", "WEBP", "HEIF", "GIF", "TIFF", "BMP", "AVIF"]

STYLE = """
QMainWindow { background: #fafafa; }
QLineEdit#search { padding: 7px 10px; font-size: 15px; border: 1px solid #cfd8dc; border-radius: 6px;
                   background: white; }
QLabel#hint { color: #78909c; font-size: 17px; border: 2px dashed #b0bec5; border-radius: 12px; padding: 40px; }
QLabel#queryCaption { color: #455a64; }
QLabel#sectionTitle { font-weight: bold; color: #37474f; }
QLabel#copies { background: #fff8e1; border: 1px solid #ffe082; border-radius: 6px; padding: 8px; color: #5d4037; }
QListView { background: white; border: 1px solid #e0e0e0; border-radius: 6px; }
QListView::item { color: #263238; }
QListView::item:selected { background: #e3f2fd; color: #0d47a1; border-radius: 4px; }
"""


def qimage_bytes(image: QImage) -> bytes:
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    return bytes(buf.data().data())


class MainWindow(QMainWindow):
    results_shown = Signal(int)  # number of hits now in the grid (tests and benchmarks wait on it)
    query_failed = Signal(str)

    def __init__(self, worker: IndexWorker, embedder, settings, dirs, parent=None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.embedder = embedder
        self.settings = settings
        self.dirs = dirs
        self.ready = False
        self._pending: list[Query] = []
        self._last_query: Query | None = None
        self.last_result: QueryResult | None = None
        self._query_seq = 0
        self._index_started: tuple[float, int] | None = None
        self.setWindowTitle("imgsearch-desktop")
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE)
        self.thumbnails = ThumbnailLoader(dirs.cache / "thumbnails", px=256)
        self.model = ResultsModel(self.thumbnails, ICON_PX, self)
        self._query_preview: str | None = None
        self.thumbnails.loaded.connect(self._on_preview)
        self._build()
        self._menus()
        self._connect_worker()
        # Window geometry only (everything else is in Settings); kept under the app's own config dir.
        self.qsettings = QSettings(str(dirs.config / "window.ini"), QSettings.Format.IniFormat)
        geometry = self.qsettings.value("geometry")
        if geometry:
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 780)

    # ----- layout -----
    def _build(self) -> None:
        root = QWidget()
        outer = QVBoxLayout(root)
        outer.setContentsMargins(12, 12, 12, 6)
        outer.setSpacing(8)

        bar = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Describe a photo in any language — or drop, paste (Ctrl+V) or open (Ctrl+O)"
                                       " a photo")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self.search_text)
        open_button = QPushButton("Open photo…")
        open_button.clicked.connect(self.open_photo)
        bar.addWidget(self.search, 1)
        bar.addWidget(open_button)
        outer.addLayout(bar)

        filters = QHBoxLayout()
        filters.addWidget(QLabel("Results"))
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 500)
        self.k_spin.setValue(self.settings.results)
        filters.addWidget(self.k_spin)
        filters.addSpacing(12)
        filters.addWidget(QLabel("Min. similarity"))
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setValue(0)
        self.threshold.setFixedWidth(140)
        self.threshold_label = QLabel("off")
        self.threshold.valueChanged.connect(
            lambda v: self.threshold_label.setText(f"{v / 100:.2f}" if v else "off"))
        filters.addWidget(self.threshold)
        filters.addWidget(self.threshold_label)
        filters.addSpacing(12)
        self.folder_combo = QComboBox()
        self.format_combo = QComboBox()
        self.format_combo.addItems(FORMATS)
        self.refresh_folders()
        filters.addWidget(self.folder_combo)
        filters.addWidget(self.format_combo)
        filters.addSpacing(12)
        self.date_filter = QCheckBox("Taken from")
        self.date_from = QDateEdit(QDate.currentDate().addYears(-1))
        self.date_to = QDateEdit(QDate.currentDate())
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
        self.date_filter.toggled.connect(self.date_from.setEnabled)
        self.date_filter.toggled.connect(self.date_to.setEnabled)
        filters.addWidget(self.date_filter)
        filters.addWidget(self.date_from)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.date_to)
        filters.addStretch(1)
        outer.addLayout(filters)

        splitter = QSplitter()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 6, 0)
        title = QLabel("Query")
        title.setObjectName("sectionTitle")
        self.query_image = QLabel()
        self.query_image.setFixedSize(260, 260)
        self.query_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.query_image.setStyleSheet("background: #eceff1; border-radius: 8px; color: #90a4ae;")
        self.query_image.setText("No query yet")
        self.query_caption = QLabel("")
        self.query_caption.setObjectName("queryCaption")
        self.query_caption.setWordWrap(True)
        side_layout.addWidget(title)
        side_layout.addWidget(self.query_image)
        side_layout.addWidget(self.query_caption)
        side_layout.addStretch(1)

        self.stack = QStackedWidget()
        self.hint = QLabel("Drop a photo here to find similar shots and duplicates\n\n"
                           "or type a description above — “a dog on the beach”, “ein Hund am Strand”")
        self.hint.setObjectName("hint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.grid = QListView()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setIconSize(QSize(ICON_PX, ICON_PX))
        self.grid.setGridSize(QSize(ICON_PX + 24, ICON_PX + 48))
        self.grid.setSpacing(6)
        self.grid.setWordWrap(True)
        self.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.grid.setModel(self.model)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.grid.doubleClicked.connect(lambda idx: self.open_external(idx.data(HitRole).path))
        self.copies_banner = QLabel()
        self.copies_banner.setObjectName("copies")
        self.copies_banner.hide()
        results_page = QWidget()
        results_layout = QVBoxLayout(results_page)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.copies_banner)
        results_layout.addWidget(self.grid, 1)
        self.results_page = results_page
        self.stack.addWidget(self.hint)
        self.stack.addWidget(results_page)
        splitter.addWidget(side)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)
        outer.addWidget(splitter, 1)
        self.setCentralWidget(root)

        status = self.statusBar()
        self.status_label = QLabel("Starting…")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.pause_button = QToolButton()
        self.pause_button.setText("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.pause_button.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel_indexing)
        self.cancel_button.hide()
        status.addWidget(self.status_label, 1)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.pause_button)
        status.addPermanentWidget(self.cancel_button)

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open photo…", self.open_photo, QKeySequence.StandardKey.Open)
        self._action(file_menu, "&Paste photo", self.paste, QKeySequence.StandardKey.Paste)
        file_menu.addSeparator()
        self._action(file_menu, "&Settings…", self.open_settings, QKeySequence("Ctrl+,"))
        self._action(file_menu, "&Re-scan folders", self.reindex, QKeySequence("F5"))
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        tools_menu = self.menuBar().addMenu("&Tools")
        self._action(tools_menu, "Find &duplicates…", self.open_duplicates, QKeySequence("Ctrl+D"))
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Documentation (README)", self.open_help, QKeySequence.StandardKey.HelpContents)
        self._action(help_menu, "&About", self.about)
        focus = QAction(self)
        focus.setShortcut(QKeySequence("Ctrl+L"))
        focus.triggered.connect(self.search.setFocus)
        self.addAction(focus)

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(shortcut)
        return action

    def refresh_folders(self) -> None:
        self.folder_combo.clear()
        self.folder_combo.addItem("All folders", "")
        for folder in self.settings.folders:
            self.folder_combo.addItem(os.path.basename(folder.rstrip(os.sep)) or folder, folder)

    # ----- worker wiring -----
    def _connect_worker(self) -> None:
        w = self.worker
        w.ready.connect(self._on_ready)
        w.progress.connect(self._on_progress)
        w.finished.connect(self._on_index_finished)
        w.failed.connect(self.show_error)
        w.status.connect(self.status_label.setText)

    def _on_ready(self, info: dict) -> None:
        self.ready = True
        self.status_label.setText(f"Ready · {info['count']:,} photos indexed · Elasticsearch {info['es']}")
        for query in self._pending:
            self.run(query)
        self._pending.clear()
        if self.settings.folders:
            self.reindex()

    def reindex(self) -> None:
        if self.ready:
            self._index_started = None
            self.worker.request_reindex.emit(list(self.settings.folders))

    def _on_progress(self, done: int, total: int, note: str) -> None:
        now = time.monotonic()
        if self._index_started is None or done < self._index_started[1]:
            self._index_started = (now, done)
        if total == 0:
            return
        self.progress.show()
        self.pause_button.show()
        self.cancel_button.show()
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        t0, d0 = self._index_started
        rate = (done - d0) / (now - t0) if now > t0 and done > d0 else 0.0
        text = f"Indexing {done:,} / {total:,}"
        if rate > 0:
            left = (total - done) / rate
            eta = f"{left / 60:.0f} min left" if left >= 90 else f"{left:.0f} s left"
            text += f" · {rate:.0f} img/s · {eta}"
        if not self.worker.running.is_set():
            text += " · paused"
        self.status_label.setText(text)

    def _on_index_finished(self, stats: IndexStats) -> None:
        self.progress.hide()
        self.pause_button.hide()
        self.cancel_button.hide()
        self.pause_button.setText("Pause")
        self.status_label.setText(("Indexing cancelled · " if stats.cancelled else "Up to date · ")
                                  + stats.summary().split(" · ")[0])
        changed = stats.indexed + stats.moved + stats.removed
        if changed and self._last_query is not None and len(self.model.hits) < self._last_query.k:
            self.run(self._last_query)  # the answer was incomplete while the index was still filling up
        if stats.skipped_files:
            self.status_label.setToolTip("\n".join(f"{display(p)}: {r}" for p, r in stats.skipped_files[:50]))

    def toggle_pause(self) -> None:
        if self.worker.running.is_set():
            self.worker.pause()
            self.pause_button.setText("Resume")
            self.status_label.setText(self.status_label.text() + " · paused")
        else:
            self.worker.resume()
            self.pause_button.setText("Pause")

    def cancel_indexing(self) -> None:
        self.worker.cancel()

    # ----- queries -----
    def current_query(self, **kwargs) -> Query:
        folder = self.folder_combo.currentData()
        fmt = self.format_combo.currentText()
        filters = Filters(folders=[folder] if folder else [], formats=[] if fmt == FORMATS[0] else [fmt])
        if self.date_filter.isChecked():  # EXIF date taken; photos without one are left out while this is on
            filters.date_from = self.date_from.date().toString("yyyy-MM-dd")
            filters.date_to = self.date_to.date().toString("yyyy-MM-dd") + "T23:59:59"
        threshold = self.threshold.value() / 100 or None
        return Query(k=self.k_spin.value(), min_score=threshold, filters=filters, **kwargs)

    def search_path(self, path: str) -> None:
        # The photo itself may be 50 MP: its preview is decoded off the main thread, like the results' thumbnails.
        self._query_preview = path
        self._show_query_image(QPixmap(), os.path.basename(path), display(path))
        self.thumbnails.request(path, urgent=True)
        self.run(self.current_query(path=path))

    @Slot(str, QImage)
    def _on_preview(self, path: str, image: QImage) -> None:
        if path == self._query_preview and not image.isNull():
            self._show_query_image(QPixmap.fromImage(image), os.path.basename(path), display(path))

    def search_image_data(self, image: QImage) -> None:
        self._query_preview = None
        self._show_query_image(QPixmap.fromImage(image), "pasted image", "")
        self.run(self.current_query(image_bytes=qimage_bytes(image)))

    def search_text(self) -> None:
        text = self.search.text().strip()
        if not text:
            return
        self._query_preview = None
        self.query_image.clear()
        self.query_image.setText(f"“{text}”")
        self.query_image.setWordWrap(True)
        self.query_caption.setText("Text search")
        self.run(self.current_query(text=text))

    def _show_query_image(self, pixmap: QPixmap, title: str, tooltip: str) -> None:
        if pixmap.isNull():
            self.query_image.setText(title)
        else:
            self.query_image.setPixmap(pixmap.scaled(self.query_image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                     Qt.TransformationMode.SmoothTransformation))
        self.query_caption.setText(title)
        self.query_caption.setToolTip(tooltip)

    def run(self, query: Query) -> None:
        if not self.ready or self.worker.store is None:
            self._pending.append(query)
            self.status_label.setText("Will search as soon as the index is ready…")
            return
        self._query_seq += 1
        seq = self._query_seq
        self._last_query = query
        self.thumbnails.cancel_pending()  # the last results' thumbnails must not slow this query down
        store = self.worker.store
        run_task(lambda: (seq, run_query(self.embedder, store, query)), self._on_results, self.show_error)

    def _on_results(self, outcome: tuple[int, QueryResult]) -> None:
        seq, result = outcome
        if seq != self._query_seq:
            return  # a newer query was asked meanwhile
        query, hits, seconds = result.query, result.hits, result.seconds
        self.last_result = result
        self.model.set_hits(hits, result.relations, result.best)
        self._show_copies(result)
        if hits:
            self.stack.setCurrentWidget(self.results_page)
        else:
            indexing = self.progress.isVisible()
            self.hint.setText("No similar photos yet: indexing is still running, results will appear when it is "
                              "done." if indexing else "No photos match. Add photo folders in Settings (Ctrl+,), "
                              "or lower the minimum similarity.")
            self.stack.setCurrentWidget(self.hint)
        self.query_caption.setText(f"{query.describe()}\n{len(hits)} similar photos · {seconds * 1000:.0f} ms")
        self.results_shown.emit(len(hits))

    def _show_copies(self, result: QueryResult) -> None:
        """Above the grid: the dropped photo's duplicates, and which copy is the best version."""
        copies = result.copies
        if len(copies) < 2:
            self.copies_banner.hide()
            return
        best = result.hits[result.best]
        kinds = sorted({result.relations[i] for i in copies})
        self.copies_banner.setText(
            f"<b>{len(copies)} copies of this picture</b> ({', '.join(kinds)}) · best version: "
            f"{best.image_name} — {best.width}×{best.height}, {(best.size or 0) / 1e6:.1f} MB")
        self.copies_banner.show()

    @Slot(str)
    def show_error(self, message: str) -> None:
        self.status_label.setText(message.splitlines()[0])
        self.query_failed.emit(message)
        if not self.isVisible() or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
            return
        first, _, details = message.partition("\n")
        box = QMessageBox(QMessageBox.Icon.Warning, "imgsearch-desktop", first, parent=self)
        if details:
            box.setDetailedText(details)
        box.open()  # not modal-blocking: the app keeps running

    # ----- input: drop, paste, open -----
    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if self.accept_mime(event.mimeData()):
            event.acceptProposedAction()

    def accept_mime(self, mime) -> bool:
        """A file URL (the first local image) or raw image data; True if a search started."""
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile():
                self.search_path(url.toLocalFile())
                return True
        if mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self.search_image_data(image)
                return True
        return False

    def paste(self) -> None:
        if not self.accept_mime(QGuiApplication.clipboard().mimeData()):
            self.status_label.setText("The clipboard holds no image or photo file")

    def open_photo(self) -> None:
        exts = " ".join(f"*{e}" for e in sorted(images.EXTENSIONS))
        start = self.settings.folders[0] if self.settings.folders else os.path.expanduser("~")
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", start, f"Images ({exts});;All files (*)")
        if path:
            self.search_path(path)

    # ----- results actions -----
    def _context_menu(self, pos) -> None:
        index = self.grid.indexAt(pos)
        if not index.isValid():
            return
        hit: Hit = index.data(HitRole)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_external(hit.path))
        menu.addAction("Reveal in folder", lambda: self.open_external(os.path.dirname(hit.path)))
        menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setText(display(hit.path)))
        menu.addSeparator()
        menu.addAction("Search similar to this", lambda: self.search_path(hit.path))
        menu.exec(self.grid.viewport().mapToGlobal(pos))

    def open_external(self, path: str) -> None:
        # A URL to the desktop's opener, never a shell command line built from an indexed path.
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def open_help(self) -> None:
        QDesktopServices.openUrl(QUrl(README_URL))

    def about(self) -> None:
        QMessageBox.about(self, "About imgsearch-desktop",
                          f"<b>imgsearch-desktop {__version__}</b><br>"
                          f"Image model: {self.settings.image_model}<br>Text model: {self.settings.text_model}<br>"
                          f"{self.status_label.text()}")

    def open_duplicates(self):
        from imgsearch_desktop.app.dupes_view import DupesView

        if not self.ready or self.worker.store is None:
            self.status_label.setText("Duplicates can be searched once the index is ready")
            return None
        view = DupesView(self.worker.store, self.settings, self.dirs, self)
        view.show()
        return view

    def open_settings(self) -> None:
        from imgsearch_desktop.app.settings_dialog import SettingsDialog

        before = list(self.settings.folders)
        dialog = SettingsDialog(self.settings, self.dirs, self)
        if dialog.exec():
            removed = [f for f in before if f not in self.settings.folders]
            if removed:
                self.worker.request_forget.emit(removed)
            self.refresh_folders()
            self.reindex()

    # ----- lifecycle -----
    def closeEvent(self, event) -> None:
        self.qsettings.setValue("geometry", QByteArray(self.saveGeometry()))
        self.thumbnails.cancel_pending()
        self.worker.cancel()  # stops at the next batch boundary: what was written stays written
        super().closeEvent(event)

