"""Settings: folders, exclusions, Elasticsearch, models, device, batch size, results per query.

Everything applies as soon as it is saved (the window reconnects, reloads the models or re-scans as needed). The
Elasticsearch address is tested before it is saved — "Test connection", or Save itself when the connection fields
changed — on the thread pool; a failed test says why in one sentence, and Save then reads "Save anyway" (a cluster
that is down right now can still be the right one).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from imgsearch_desktop import checks
from imgsearch_desktop.app.keep_rules import KeepRulesBox
from imgsearch_desktop.app.problems import address, explain
from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.config import BACKENDS, split_credentials
from imgsearch_desktop.core import secrets


def check_connection(url: str, user: str, secret: str, ca_cert: str, data_dir: Path) -> str:
    """Pool thread: the server's version, or an exception. Signs in as the app will (``secrets.credentials``), with
    the secret just typed, if any."""
    return secrets.credentials(data_dir, url, user, typed=secret).connection(ca_cert).server_version()


@dataclass(frozen=True)
class SettingsChange:
    """What a save asks the window to redo: nothing needs a restart."""

    reconnect: bool  # the Elasticsearch address, user, password / API key or CA certificate changed
    models: bool  # the image or text model, the device or the batch size changed: a new embedder
    rescan: bool  # folders or exclusions changed, or faces switched on or off (the next job finds or deletes them)
    removed: list[str]  # folders whose photos leave the index


def _snapshot(s) -> tuple[tuple, tuple, tuple, tuple]:
    return ((s.es_url, s.es_user, s.es_ca_cert), (s.image_model, s.text_model, s.device, s.batch_size, s.backend),
            (tuple(s.folders), tuple(s.excluded), s.faces), tuple(s.folders))


class SettingsDialog(QDialog):
    applied = Signal(object)  # SettingsChange, once saved

    def __init__(self, settings, dirs, parent=None) -> None:
        super().__init__(parent)
        self.settings, self.dirs = settings, dirs
        self.setWindowTitle("Settings")
        self.setMinimumWidth(480)
        self._before = _snapshot(settings)
        self._tested: tuple[str, ...] | None = None  # the connection fields of the last test that passed
        self._failed: tuple[str, ...] | None = None  # …and of the last that failed (Save anyway saves those)
        self._testing = False
        self._save_after_test = False
        layout = QVBoxLayout(self)

        layout.addWidget(QLabel("<b>Photo folders</b> (watched; removing one removes its photos from the index)"))
        self.folders = QListWidget()
        self.folders.addItems(settings.folders)
        layout.addWidget(self.folders)
        row = QHBoxLayout()
        add, remove = QPushButton("Add folder…"), QPushButton("Remove")
        add.clicked.connect(self._add_folder)
        remove.clicked.connect(self._remove_folders)
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        layout.addLayout(row)

        form = QFormLayout()
        self.excluded = QLineEdit(", ".join(settings.excluded))
        self.excluded.setPlaceholderText("folder names or paths to skip, comma-separated")
        form.addRow("Excluded", self.excluded)
        self.es_url = QLineEdit(settings.es_url)
        self.es_url.setPlaceholderText("empty = the app's own search engine")
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(lambda: self.test(save_after=False))
        url_row = QHBoxLayout()
        url_row.addWidget(self.es_url, 1)
        url_row.addWidget(self.test_button)
        form.addRow("Elasticsearch URL", url_row)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        form.addRow("", self.test_result)
        self.es_user = QLineEdit(settings.es_user)
        form.addRow("User", self.es_user)
        self.es_password = QLineEdit()
        self.es_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.es_password.setPlaceholderText(f"kept in {secrets.storage_description()}")
        form.addRow("Password / API key", self.es_password)
        self.ca_cert = QLineEdit(settings.es_ca_cert)
        form.addRow("CA certificate", self.ca_cert)
        self.image_model = QLineEdit(settings.image_model)
        form.addRow("Image model", self.image_model)
        self.text_model = QLineEdit(settings.text_model)
        form.addRow("Text model", self.text_model)
        self.device = QComboBox()
        self.device.addItems(list(checks.DEVICES))
        self.device.setCurrentText(settings.device)
        form.addRow("Device", self.device)
        self.backend = QComboBox()  # auto: int8 where it agrees with torch on this CPU (a one-time export)
        self.backend.addItems(list(BACKENDS))
        self.backend.setCurrentText(settings.backend)
        form.addRow("Backend", self.backend)
        self.batch = QSpinBox()
        self.batch.setRange(1, checks.BATCH_SIZE_MAX)
        self.batch.setValue(settings.batch_size)
        form.addRow("Batch size", self.batch)
        self.results = QSpinBox()
        self.results.setRange(1, 500)
        self.results.setValue(settings.results)
        form.addRow("Results per query", self.results)
        self.faces = QCheckBox("Find faces and group them into people")
        self.faces.setChecked(settings.faces)
        self.faces.setToolTip("Face data stay in this app's index and data folder. Off: every photo's face data and "
                              "the people (names, merges) are deleted at the next scan.")
        form.addRow("Faces", self.faces)
        layout.addLayout(form)
        self.keep_rules = KeepRulesBox(settings, dirs, self)  # duplicates' keep rules: saves itself on accept
        layout.addWidget(self.keep_rules)
        layout.addWidget(QLabel("Changes apply as soon as you save."))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._initial = self._connection_fields()
        for edit in (self.es_url, self.es_user, self.es_password, self.ca_cert):
            edit.textEdited.connect(self._connection_edited)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Photo folder", os.path.expanduser("~"))
        if folder:
            self.folders.addItem(os.path.abspath(folder))
            self.keep_rules.folder_added(os.path.abspath(folder))

    def _remove_folders(self) -> None:
        """The selected photo folders go, from the folder priority below too."""
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))
            self.keep_rules.folder_removed(item.text())

    # ----- the connection test -----
    def _connection_fields(self) -> tuple[str, ...]:
        return (self.es_url.text().strip(), self.es_user.text().strip(), self.es_password.text(),
                self.ca_cert.text().strip())

    def _connection_edited(self) -> None:
        self.save_button.setText("Save")
        self.test_result.clear()

    def _say(self, text: str, ok: bool) -> None:
        self.test_result.setStyleSheet(f"color: {'#2e7d32' if ok else '#c62828'};")
        self.test_result.setText(text)

    def test(self, save_after: bool) -> None:
        fields = self._connection_fields()
        url, user, secret, ca_cert = fields
        if not url:
            self._tested = fields
            self._say("The app's own search engine: it is started and restarted by the app.", True)
            if save_after:
                self.accept()
            return
        try:
            checks.es_url(url)
        except argparse.ArgumentTypeError:
            self._say("That is not an Elasticsearch address: use http(s)://HOST:PORT, e.g. "
                      "https://search.example:9200.", False)
            return
        if self._testing:
            return
        self._testing, self._save_after_test = True, save_after
        self.test_button.setEnabled(False)
        self._say(f"Testing {address(url)}…", True)
        run_call(lambda: check_connection(url, user, secret, ca_cert, self.dirs.data),
                 lambda version: self._tested_ok(fields, version), lambda exc: self._tested_bad(fields, exc),
                 owner=self)

    def _tested_ok(self, fields: tuple[str, ...], version: str) -> None:
        self._testing = False
        self.test_button.setEnabled(True)
        self._tested = fields
        self._say(f"Connected: Elasticsearch {version} at {address(fields[0])}.", True)
        if self._save_after_test and fields == self._connection_fields():
            self.accept()

    def _tested_bad(self, fields: tuple[str, ...], exc: BaseException) -> None:
        self._testing = False
        self.test_button.setEnabled(True)
        self._failed = fields
        self._say(explain(exc, address(fields[0])).sentence, False)
        self.save_button.setText("Save anyway")

    # ----- saving -----
    def _faces_off_confirmed(self) -> bool:
        """Faces off deletes what a person cannot get back by a rescan (the names they gave, their merges)."""
        answer = QMessageBox.question(
            self, "Turn faces off",
            "Turn faces off?\n\nEvery photo's face data and the people (the names you gave, merges, splits) are "
            "deleted at the next scan. Turning faces on again finds the faces anew, but not the names.")
        return answer == QMessageBox.StandardButton.Yes

    def accept(self) -> None:
        fields = self._connection_fields()
        if fields != self._initial and fields not in (self._tested, self._failed):
            self.test(save_after=True)  # saved once the test passes; a failure leaves the choice to the user
            return
        if fields[0]:
            try:
                checks.es_url(fields[0])
            except argparse.ArgumentTypeError:
                self._say("That is not an Elasticsearch address: use http(s)://HOST:PORT.", False)
                return
        if self.settings.faces and not self.faces.isChecked() and not self._faces_off_confirmed():
            return
        s = self.settings
        s.folders = [self.folders.item(i).text() for i in range(self.folders.count())]
        s.excluded = [e.strip() for e in self.excluded.text().split(",") if e.strip()]
        s.es_url, s.es_user, s.es_ca_cert = fields[0], fields[1], fields[3]
        s.es_url, user, password = split_credentials(s.es_url)  # a pasted `es start` URL carries the password
        s.es_user = user or s.es_user
        s.image_model, s.text_model = self.image_model.text().strip(), self.text_model.text().strip()
        s.device, s.batch_size, s.results = self.device.currentText(), self.batch.value(), self.results.value()
        s.backend = self.backend.currentText()
        s.faces = self.faces.isChecked()
        secret_changed = bool(self.es_password.text() or password)
        if secret_changed:  # the one place a secret is written (Settings.save writes none)
            secrets.remember(self.dirs.data, s.es_url, self.es_password.text() or password)
        s.save(self.dirs)
        super().accept()
        before, after = self._before, _snapshot(s)
        self.applied.emit(SettingsChange(reconnect=before[0] != after[0] or secret_changed,
                                         models=before[1] != after[1], rescan=before[2] != after[2],
                                         removed=[f for f in before[3] if f not in s.folders]))
