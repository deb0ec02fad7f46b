"""The main window: search bar, filter bar, a message banner, the query beside a grid of the nearest photos, status.

It only presents and delegates: queries go through the QueryRunner (thread pool), indexing through the IndexWorker
(its own thread), Elasticsearch's health through EngineHealth (probes on the pool). Problems from any of them are
shown one at a time in the banner, as one plain sentence with the technical text behind "Details". The menus and the
windows they open are in ``menus``, the window's side of indexing and of the engine's connection in ``indexing``.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable
from urllib.parse import quote

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSettings, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from imgsearch_desktop.app.banner import Banner
from imgsearch_desktop.app.filter_bar import FilterBar
from imgsearch_desktop.app.folder_tree import FolderTree
from imgsearch_desktop.app.health import EngineHealth
from imgsearch_desktop.app.index_status import IndexStatus, duration_text
from imgsearch_desktop.app.indexing import Indexing
from imgsearch_desktop.app.library_view import LibraryView
from imgsearch_desktop.app.menus import WindowMenus
from imgsearch_desktop.app.panes import HINT, QueryPane, ResultsPane
from imgsearch_desktop.app.photo_input import PhotoInput, SearchBar
from imgsearch_desktop.app.preview import PreviewPane, attach
from imgsearch_desktop.app.problems import Problem
from imgsearch_desktop.app.query_panel import QueryComposer
from imgsearch_desktop.app.query_runner import QueryRunner, empty_hint
from imgsearch_desktop.app.results_model import ResultsModel
from imgsearch_desktop.app.selection import SelectionActions
from imgsearch_desktop.app.settings_dialog import SettingsChange
from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.app.workers import IndexWorker
from imgsearch_desktop.core import private
from imgsearch_desktop.core.people_search import PeopleQuery
from imgsearch_desktop.core.query import Part, Query, QueryResult
from imgsearch_desktop.core.store import readable_path

log = logging.getLogger(__name__)
ICON_PX = 180
FIRST_SCREEN_MS = 400  # the longest a query's thumbnails hold indexing back (from the disk cache they take less)

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


def file_url(path: str) -> QUrl:
    """A file URL of the path's exact bytes (QUrl.fromLocalFile would mangle a non-UTF-8 name)."""
    return QUrl.fromEncoded(b"file://" + quote(os.fsencode(os.path.abspath(path))).encode("ascii"))


class MainWindow(WindowMenus, Indexing, PhotoInput, QMainWindow):
    results_shown = Signal(int)  # number of hits now in the grid (tests and benchmarks wait on it)
    query_failed = Signal(str)  # the plain sentence of any problem shown (tests wait on it)

    def __init__(self, worker: IndexWorker, embedder, settings, dirs, parent=None) -> None:
        super().__init__(parent)
        self.worker, self.embedder, self.settings, self.dirs = worker, embedder, settings, dirs
        self.ready = False
        self.connecting = True  # the worker is (re)connecting: F5 waits for it instead of queueing another
        self.photos: int | None = None
        self.undated: int | None = None
        self.skipped: list[tuple[str, str]] = []
        self.last_result: QueryResult | None = None
        self._index_interrupted = False
        self._query_preview: str | None = None
        self.setWindowTitle("imgsearch-desktop")
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE)
        self.thumbnails = ThumbnailLoader(dirs.cache / "thumbnails", px=256)
        self.model = ResultsModel(self.thumbnails, ICON_PX, self)
        self.thumbnails.loaded.connect(self._on_preview)
        self.thumbnails.cell_loaded.connect(self._on_result_thumbnail)  # after the model's slot: its pixmaps are in
        self._end_first_screen: Callable[[], None] = lambda: None
        self.runner = QueryRunner(settings, self)
        self.health = EngineHealth(worker.connect, worker.address, self)
        self._build()
        self._menus()
        self._connect_signals()
        self.composer = QueryComposer(self)  # the query's parts (chips), back/forward, region drag
        self.composer.changed.connect(self.order_tabs)  # new chips join the Tab order where the parts are
        self.order_tabs()
        # Window geometry only (everything else is in Settings); kept under the app's own config dir.
        self.qsettings = QSettings(str(private.touch(dirs.config / "window.ini")), QSettings.Format.IniFormat)
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
        self.search = SearchBar()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Describe a photo in any language — or drop, paste (Ctrl+V) or open (Ctrl+O)"
                                       " a photo")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self.search_text)
        self.search.photo_pasted.connect(self.paste)
        open_button = QPushButton("Open photo…")
        open_button.clicked.connect(self.open_photo)
        library_button = QPushButton("Library")
        library_button.setToolTip("Every photo, newest first (Esc from the results)")
        library_button.clicked.connect(self.show_library)
        bar.addWidget(self.search, 1)
        bar.addWidget(open_button)
        bar.addWidget(library_button)
        self.bar_buttons = (open_button, library_button)
        outer.addLayout(bar)
        self.filter_bar = FilterBar(self.settings.results)
        self.filter_bar.set_folders(self.settings.folders)
        outer.addWidget(self.filter_bar)
        self.banner = Banner()
        outer.addWidget(self.banner)

        self.query_pane = QueryPane()
        self.results = ResultsPane(ICON_PX)
        self.results.grid.setModel(self.model)
        # Old names kept: tests and benchmarks reach into these.
        self.query_image, self.query_caption = self.query_pane.image, self.query_pane.caption
        self.stack, self.hint, self.grid = self.results, self.results.hint, self.results.grid
        self.results_page, self.copies_banner = self.results.results_page, self.results.copies_banner
        # With no query: the library's timeline in the results' place, narrowed by the folder tree on the left.
        self.library = LibraryView(ThumbnailLoader(self.dirs.cache / "thumbnails", px=256))
        self.results.addWidget(self.library)
        self.results.setCurrentWidget(self.library)
        self.query_pane.hide()
        self.folder_tree = FolderTree()
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.query_pane)
        left.addWidget(self.folder_tree)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.results)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([270, 930])
        outer.addWidget(self._build_pages(splitter), 1)
        self.setCentralWidget(root)

        self.index_status = IndexStatus()
        self.status_label = self.index_status.message  # the status line (tests and About read it)
        self.statusBar().addWidget(self.index_status, 1)

    def order_tabs(self) -> None:
        """Tab goes as the eye reads the window: the search bar and its buttons, the filters, the banner's
        buttons, the grid (the results or the library), the query's parts, the folder tree, the status bar's
        buttons. Qt's default follows the order the widgets were made in (the folder tree before the grid, and
        new parts' controls after the status bar)."""
        chain = [self.search, *self.bar_buttons, *self.filter_bar.tab_chain(), *self.banner.tab_chain(), self.grid,
                 self.library.grid, *self.composer.panel.tab_chain(), self.folder_tree, *self.index_status.tab_chain()]
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)

    def refresh_folders(self) -> None:
        self.filter_bar.set_folders(self.settings.folders)

    # ----- wiring -----
    def _connect_signals(self) -> None:
        """The worker's, runner's, health check's and widgets' signals → this window's slots."""
        self._connect_indexing()  # the worker's, the health check's and the status bar's
        r = self.runner
        r.people = lambda: self.worker.people
        r.answered.connect(self._on_results)
        r.failed.connect(lambda problem: self.show_problem(problem, "query"))
        r.waiting.connect(self.index_status.show_message)
        r.engine_lost.connect(self.health.check_now)
        self.banner.action_requested.connect(self._on_banner_action)
        self.filter_bar.changed.connect(self._rerun)
        self.filter_bar.undated_wanted.connect(self._count_undated)
        self.grid.open_requested.connect(self.open_external)
        self.grid.reveal_requested.connect(self.open_external)
        self.grid.similar_requested.connect(self.search_path)
        self._connect_preview()
        self._connect_selection()
        self._wire_library()

    # ----- the preview, in place of the query and the grid; acting on many tiles -----
    def _build_pages(self, splitter: QSplitter) -> QStackedWidget:
        self.preview = PreviewPane()
        self.pages = QStackedWidget()
        self.pages.addWidget(splitter)
        self.pages.addWidget(self.preview)
        return self.pages

    def _connect_preview(self) -> None:
        """Both grids open the preview: the results (Space, Enter, double-click through ``attach``) and the
        library's timeline (the same keys, its own)."""
        self._preview_keys = attach(self.grid, self.show_preview)
        self.grid.preview_requested.connect(lambda: self.show_preview(self.grid))
        self.library.grid.preview_requested.connect(lambda: self.show_preview(self.library.grid))
        self.preview.closed.connect(lambda: self.pages.setCurrentIndex(0))
        self.preview.open_requested.connect(self.open_external)
        self.preview.similar_requested.connect(self._similar_from_preview)

    def show_preview(self, grid) -> None:
        self.pages.setCurrentWidget(self.preview)
        self.preview.open(grid)

    def _similar_from_preview(self, path: str) -> None:
        self.preview.close_preview()
        self.search_path(path)

    def _connect_selection(self) -> None:
        """The same actions on many photos in the results grid and in the library's timeline."""
        self.many = self._selection_actions(self.grid)
        self.library_many = self._selection_actions(self.library.grid)

    def _selection_actions(self, grid) -> SelectionActions:
        many = grid.many = SelectionActions(grid, lambda: self.runner.store, self.settings, self.dirs)
        many.search_requested.connect(lambda paths: self.composer.ask_parts([Part(stored=p) for p in paths]))
        many.reveal_requested.connect(self.open_external)
        many.trashed.connect(self._on_trashed)
        many.nothing_to_trash.connect(lambda text: self.show_problem(Problem(text, severity="info"), "trash"))
        return many

    def _on_trashed(self, report, error: Problem | None) -> None:
        """One sentence for the whole action; each file's fate behind Details; the grid without what went."""
        lines = [f"trashed {readable_path(o.path)} (a copy stays: {o.keeper})" if o.trashed
                 else f"not moved {readable_path(o.path)}: {o.reason.removeprefix('kept: ')}" for o in report]
        summary = report.summary()
        sentence = summary[:1].upper() + summary[1:] + (f"; then stopped: {error.sentence}" if error else ".")
        details = "\n".join([*lines, *([error.details] if error else [])])
        self.show_problem(Problem(sentence, details, severity="warning" if report.refused or error else "info"),
                          "trash")
        self.model.drop({o.path for o in report.trashed})  # not a re-run: a trashed photo may be one of its parts
        if report.trashed:
            self.library.refresh()
            self.folder_tree.reload()

    def _wire_library(self) -> None:
        lib, tree, fb = self.library, self.folder_tree, self.filter_bar
        lib.grid.open_requested.connect(self.open_external)
        lib.grid.reveal_requested.connect(self.open_external)
        lib.grid.similar_requested.connect(self.search_path)
        tree.folder_chosen.connect(fb.choose_folder)  # the filter bar's folder filter: subfolders too
        fb.changed.connect(lambda: (tree.select_folder(fb.folder),
                                    lib.set_filters(fb.filters())))
        # The date filter starts as the span of the photos' dates (the timeline's months: a date taken, else the
        # file's time, so the span holds every date taken), not as an arbitrary last 12 months.
        lib.model.loaded.connect(lambda: lib.model.timeline and not lib.model.filters.date_from
                                 and fb.set_date_span([m for m, _n in lib.model.timeline.months]))
        back = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.results_page)
        back.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        back.activated.connect(self.show_library)

    def show_library(self) -> None:
        """Back from a query to every photo: the query is dropped (Alt+Left still brings it back)."""
        self.filter_bar.set_person(None, emit=False)
        self.runner.clear()
        self.composer.clear()
        self.search.clear()
        self.query_pane.hide()
        self.results.setCurrentWidget(self.library)
        self.library.grid.setFocus()

    def _on_banner_action(self, action: str) -> None:
        if action == "settings":
            self.open_settings()
        elif action == "retry":
            self.health.retry()

    # ----- queries -----
    def current_query(self, **kwargs) -> Query:
        fb = self.filter_bar
        face = getattr(self, "composer", None) and self.composer.face
        if fb.person is None and not face:
            return Query(k=fb.k, min_score=fb.min_score, filters=fb.filters(), **kwargs)
        person_id, person_name = fb.person or (None, "")
        return PeopleQuery(k=fb.k, min_score=fb.min_score, filters=fb.filters(), person=person_id,
                           person_name=person_name, face=face.descriptor if face else None,
                           face_source=face.source if face else "", **kwargs)

    def submit_query(self, query: Query) -> None:
        """Hand the query to the runner (a pool thread); the results come back to ``_on_results``."""
        self.thumbnails.cancel_pending()  # the last results' thumbnails must not slow this query down
        if self.banner.key != "engine":
            self.banner.clear()  # a new query starts afresh: an earlier action's message goes, the engine's stays
        self.query_pane.show()
        self.runner.submit(query)

    def _rerun(self) -> None:
        """A filter moved: the current query again, at once — never old results under new filters."""
        fb = self.filter_bar
        self.thumbnails.cancel_pending()
        if fb.person is not None or self.composer.face is not None or isinstance(self.runner.last, PeopleQuery):
            self.composer.resubmit()  # the person filter may have come or gone: the query is built afresh
            return
        self.runner.rerun(fb.k, fb.min_score, fb.filters())

    def search_path(self, path: str, add: bool = False) -> None:
        """The photo replaces the query, or with ``add`` (Shift+drop) joins it as one more part."""
        self.composer.ask(Part(path=path), add)

    def clear_results(self) -> None:
        """No query any more (its last part removed, or unreadable): no old results under an empty caption, and
        nothing left for a filter or a finished scan to run again."""
        self.runner.forget()
        self.thumbnails.cancel_pending()
        self.model.set_hits([])
        self.last_result = None
        self.copies_banner.hide()
        self.hint.setText(HINT)
        self.stack.setCurrentWidget(self.hint)

    @Slot(object, QImage)
    def _on_result_thumbnail(self, _path: str, _image: QImage) -> None:
        if self.model.thumbnails_ready():
            self.end_first_screen()

    def end_first_screen(self) -> None:
        """Let indexing go on: the results' thumbnails are painted, or the window is going away."""
        self._end_first_screen()

    def _on_preview(self, path: str, image: QImage) -> None:
        if path == self._query_preview and not image.isNull():
            shown = readable_path(path)
            self.query_pane.show_image(QPixmap.fromImage(image), os.path.basename(shown), shown)

    def search_image_data(self, image: QImage, add: bool = False) -> None:
        self.composer.ask(Part(image_bytes=qimage_bytes(image)), add, image)

    def search_text(self) -> None:
        text = self.search.text().strip()
        if text:
            self.composer.ask_text(text)  # joins a query that has a photo, else replaces it

    def _on_results(self, result: QueryResult) -> None:
        query, hits, took = result.query, result.hits, duration_text(result.seconds)
        self.last_result = result
        self.banner.clear("query")
        # Indexing keeps waiting, as it did for the query, until the results' thumbnails are painted (at most
        # FIRST_SCREEN_MS): the person who dropped a photo is waiting for them.
        self.end_first_screen()
        self._end_first_screen = end = self.worker.embedder.foreground()
        QTimer.singleShot(FIRST_SCREEN_MS, end)
        self.model.set_hits(hits, result.relations, result.best)
        if self.model.thumbnails_ready():
            end()
        self.results.show_result(result, empty_hint(indexing=self.index_status.adding, photos=self.photos,
                                                    min_score=query.min_score, filters=query.filters,
                                                    undated=self.undated))
        self.query_caption.setText(f"{query.describe()}\n{len(hits)} similar photos · {took}")
        if not self.index_status.indexing:
            self.index_status.show_message(f"{len(hits)} results in {took}")
        self.composer.outlines.start()  # the query photo's faces, now that its answer is on screen
        self.results_shown.emit(len(hits))

    def show_problem(self, problem: Problem, key: str = "") -> None:
        """One message at a time in the banner (the newest wins); the technical text goes to the log."""
        (log.info if problem.severity == "info" else log.warning)("%s%s", problem.sentence,
                                                                  f"\n{problem.details}" if problem.details else "")
        self.banner.show_problem(problem, key)
        self.index_status.show_message(problem.sentence)
        self.query_failed.emit(problem.sentence)

    # ----- results actions -----
    def open_external(self, path: str) -> bool:
        # A URL to the desktop's opener, never a shell command line built from an indexed path.
        url = file_url(path)
        if QDesktopServices.openUrl(url):
            return True
        name = os.path.basename(readable_path(path)) or readable_path(path)
        self.show_problem(Problem(f"No app is set up to open “{name}”. Choose a default image viewer in your "
                                  "desktop's settings, or use “Reveal in folder” from the tile's menu.",
                                  f"QDesktopServices.openUrl({url.toString()}) returned false",
                                  severity="warning"), "open")
        return False

    # ----- settings (the dialog: menus.open_settings): everything applies at once -----
    def apply_settings(self, change: SettingsChange) -> None:
        s = self.settings
        self.filter_bar.set_folders(s.folders)
        self.filter_bar.set_k(s.results)  # re-runs the current query when it changed
        if change.reconnect or change.models:
            embedder = None
            if change.models:
                from imgsearch_desktop.context import make_embedder

                embedder = make_embedder(s, self.dirs)
            where = f"Elasticsearch at {self.worker.address()}" if s.es_url else "the search engine"
            self._reconnect(embedder, f"Will search as soon as {where} is connected…")  # its ready re-scans
        elif change.rescan:
            self.reindex()
        if change.removed:
            self.worker.request_forget.emit(change.removed)  # queued after a reconnect: runs on the new store

    # ----- lifecycle -----
    def closeEvent(self, event) -> None:
        self.qsettings.setValue("geometry", QByteArray(self.saveGeometry()))
        self.thumbnails.cancel_pending()
        self.health.stop()
        self.worker.control.cancel()  # stops at the next batch boundary: what was written stays written
        super().closeEvent(event)
