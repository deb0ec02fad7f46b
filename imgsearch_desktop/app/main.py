"""Start the window: single instance, the worker thread, the welcome on first run, photos given on the command line."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from imgsearch_desktop import APP_NAME
from imgsearch_desktop.app import pools
from imgsearch_desktop.app.main_window import MainWindow
from imgsearch_desktop.app.single_instance import InstanceServer, forward_to_running, server_name
from imgsearch_desktop.app.workers import IndexWorker, start_worker
from imgsearch_desktop.frozen import resource_dir
from imgsearch_desktop.redact import private_log_handler


class App:
    """The running GUI: window, worker and its thread, instance server. Tests build it without exec()."""

    def __init__(self, ctx, photos: list[str], welcome: bool = True) -> None:
        self.ctx = ctx
        self.worker = IndexWorker(ctx.store, ctx.embedder, ctx.settings, ctx.dirs.data, thumbnails=ctx.thumbnails())
        self.thread = start_worker(self.worker)
        self.window = MainWindow(self.worker, ctx.embedder, ctx.settings, ctx.dirs)
        self.server = InstanceServer(server_name(str(ctx.dirs.data)))
        self.server.photos_received.connect(self.open_photos)
        self.window.show()
        if welcome and not ctx.settings.folders and not ctx.dirs.settings_file.exists():
            QTimer.singleShot(0, self.welcome)
        self.worker.request_init.emit(None)  # ES + model load in the background: the window is already up
        self.open_photos(photos)

    def open_photos(self, photos: list[str]) -> None:
        for photo in photos[-1:]:  # one query at a time: the last photo given wins
            self.window.search_path(os.path.abspath(photo))
        self.window.raise_()
        self.window.activateWindow()

    def welcome(self) -> None:
        from platformdirs import user_pictures_dir

        from imgsearch_desktop.app.welcome import WelcomeBox

        box = WelcomeBox(self.window, user_pictures_dir())
        box.exec()
        self.add_folder(box.folder())

    def add_folder(self, folder: str | None) -> None:
        if folder:
            self.ctx.settings.folders.append(os.path.abspath(folder))
        self.ctx.settings.save(self.ctx.dirs)
        self.window.refresh_folders()
        self.window.reindex()

    def shutdown(self, wait_ms: int = 60_000) -> None:
        """Stop cleanly: cancel at the next batch boundary, stop watching, end the thread."""
        self.window.end_first_screen()  # its timer will not fire any more: indexing must not wait for it
        self.window.runner.end_spells()  # nor will the answers of queries still in flight
        self.worker.control.cancel()
        self.worker.shutdown()
        self.thread.quit()
        self.thread.wait(wait_ms)
        pools.wait_all(wait_ms)  # every pool of its own, the thumbnails' and the Duplicates window's included
        self.server.server.close()


def log_to_file(data_dir: Path) -> None:
    """The window's log (what "Details" shows, and more): data/logs/app.log, rotated."""
    try:
        handler = private_log_handler(data_dir / "logs" / "app.log")
    except OSError:
        return  # a read-only data dir: the app still runs, stderr has the messages
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))


def run_app(ctx, photos: list[str]) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    log_to_file(ctx.dirs.data)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(APP_NAME)
    name = server_name(str(ctx.dirs.data))
    if forward_to_running(name, [os.path.abspath(p) for p in photos]):
        print("handed over to the running window")
        return 0
    icon = resource_dir() / "icons" / "imgsearch-desktop.png"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    gui = App(ctx, photos)
    app.aboutToQuit.connect(gui.shutdown)
    return app.exec()
