"""The main window's menu bar and the windows it opens: Settings, Skipped files, Duplicates, Bursts, People, About.

A mixin of MainWindow (as core/store's classes are of Store): each window is made when asked for, and says in the
status line why it cannot open yet (the index not ready, faces off).
"""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from imgsearch_desktop import __version__
from imgsearch_desktop.app.settings_dialog import SettingsDialog

README_URL = "https://github.com/imgsearch-desktop/imgsearch-desktop#readme"


def add_action(menu: QMenu, text: str, slot, shortcut=None) -> QAction:
    action = menu.addAction(text)
    action.triggered.connect(slot)
    if shortcut is not None:
        action.setShortcut(shortcut)
    return action


class WindowMenus:
    """Needs ``ready``, ``worker``, ``settings``, ``dirs``, ``skipped``, ``search``, ``filter_bar``, ``composer``,
    ``index_status``, ``status_label`` and the slots the menus name (``open_photo``, ``paste``, ``reindex``,
    ``apply_settings``) from the window."""

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        add_action(file_menu, "&Open photo…", self.open_photo, QKeySequence.StandardKey.Open)
        add_action(file_menu, "&Paste photo", self.paste, QKeySequence.StandardKey.Paste)
        file_menu.addSeparator()
        add_action(file_menu, "&Settings…", self.open_settings, QKeySequence("Ctrl+,"))
        add_action(file_menu, "&Re-scan folders", self.reindex, QKeySequence("F5"))
        add_action(file_menu, "S&kipped files…", self.show_skipped)
        file_menu.addSeparator()
        add_action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        tools_menu = self.menuBar().addMenu("&Tools")
        add_action(tools_menu, "Find &duplicates…", self.open_duplicates, QKeySequence("Ctrl+D"))
        add_action(tools_menu, "&People…", self.open_people, QKeySequence("Ctrl+Shift+P"))
        add_action(tools_menu, "&Bursts: the best frame of each…", self.open_bursts)
        help_menu = self.menuBar().addMenu("&Help")
        add_action(help_menu, "&Documentation (README)", self.open_help, QKeySequence.StandardKey.HelpContents)
        add_action(help_menu, "&About", self.about)
        focus = QAction(self)
        focus.setShortcut(QKeySequence("Ctrl+L"))
        focus.triggered.connect(self.search.focus_all)
        self.addAction(focus)

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, self.dirs, self)
        dialog.applied.connect(self.apply_settings)
        dialog.open()  # not exec(): the window keeps painting and answering while it is open
        return dialog

    def show_skipped(self):
        from imgsearch_desktop.app.skipped import SkippedDialog

        dialog = SkippedDialog(self.skipped, self)
        dialog.open()
        return dialog

    def open_duplicates(self, level: str = "near"):
        from imgsearch_desktop.app.dupes_view import DupesView

        if not self.ready or self.worker.store is None:
            self.index_status.show_message("Duplicates can be searched once the index is ready")
            return None
        view = DupesView(self.worker.store, self.settings, self.dirs, self, level=level or "near")
        view.show()
        return view

    def open_bursts(self):
        """The Duplicates window on the burst tier: each burst around its pick (★), the reasons on hover."""
        return self.open_duplicates("burst")

    def open_people(self):
        """Tools → People: one face per person, names, merges; opening one shows their photos here."""
        from imgsearch_desktop.app.people_view import PeopleView

        if not self.settings.faces:
            self.index_status.show_message("Faces are off (Settings): there are no people")
            return None
        if not self.ready or self.worker.store is None or self.worker.people is None:
            self.index_status.show_message("People can be shown once the index is ready")
            return None
        view = getattr(self, "people_view", None)
        if view is None or view.store is not self.worker.store or view.people is not self.worker.people:
            if view is not None:
                view.close()
            view = self.people_view = PeopleView(self.worker.store, self.worker.people, self)
            view.open_person.connect(self.show_person)
        view.show()
        view.raise_()
        view.reload()
        return view

    def show_person(self, person_id: str, name: str) -> None:
        """A person's photos in the grid, best face first; the person stays as a filter chip (type a sentence:
        "Anna" + "at the beach")."""
        self.filter_bar.set_person((person_id, name), emit=False)
        self.composer.show_person()

    def _on_people_changed(self) -> None:
        view = getattr(self, "people_view", None)
        if view is not None and view.isVisible():
            view.reload()

    def open_help(self) -> None:
        QDesktopServices.openUrl(QUrl(README_URL))

    def about(self) -> None:
        QMessageBox.about(self, "About imgsearch-desktop",
                          f"<b>imgsearch-desktop {__version__}</b><br>"
                          f"Image model: {self.settings.image_model}<br>Text model: {self.settings.text_model}<br>"
                          f"{self.status_label.text()}")
