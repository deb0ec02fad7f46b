"""Settings: folders, exclusions, Elasticsearch, models, device, batch size, results per query."""

from __future__ import annotations

import os

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from imgsearch_desktop.config import split_credentials
from imgsearch_desktop.core import secrets


class SettingsDialog(QDialog):
    def __init__(self, settings, dirs, parent=None) -> None:
        super().__init__(parent)
        self.settings, self.dirs = settings, dirs
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)

        layout.addWidget(QLabel("<b>Photo folders</b> (watched; removing one removes its photos from the index)"))
        self.folders = QListWidget()
        self.folders.addItems(settings.folders)
        layout.addWidget(self.folders)
        row = QHBoxLayout()
        add, remove = QPushButton("Add folder…"), QPushButton("Remove")
        add.clicked.connect(self._add_folder)
        remove.clicked.connect(lambda: [self.folders.takeItem(self.folders.row(i))
                                        for i in self.folders.selectedItems()])
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        layout.addLayout(row)

        form = QFormLayout()
        self.excluded = QLineEdit(", ".join(settings.excluded))
        self.excluded.setPlaceholderText("folder names or paths to skip, comma-separated")
        form.addRow("Excluded", self.excluded)
        self.es_url = QLineEdit(settings.es_url)
        self.es_url.setPlaceholderText("empty = the app's own local Elasticsearch")
        form.addRow("Elasticsearch URL", self.es_url)
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
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.device.setCurrentText(settings.device)
        form.addRow("Device", self.device)
        self.batch = QSpinBox()
        self.batch.setRange(1, 512)
        self.batch.setValue(settings.batch_size)
        form.addRow("Batch size", self.batch)
        self.results = QSpinBox()
        self.results.setRange(1, 500)
        self.results.setValue(settings.results)
        form.addRow("Results per query", self.results)
        layout.addLayout(form)
        layout.addWidget(QLabel("Model and Elasticsearch changes take effect at the next start."))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Photo folder", os.path.expanduser("~"))
        if folder:
            self.folders.addItem(os.path.abspath(folder))

    def accept(self) -> None:
        s = self.settings
        s.folders = [self.folders.item(i).text() for i in range(self.folders.count())]
        s.excluded = [e.strip() for e in self.excluded.text().split(",") if e.strip()]
        s.es_url, s.es_user, s.es_ca_cert = self.es_url.text().strip(), self.es_user.text().strip(), \
            self.ca_cert.text().strip()
        s.es_url, user, password = split_credentials(s.es_url)  # a pasted `es start` URL carries the password
        s.es_user = user or s.es_user
        s.image_model, s.text_model = self.image_model.text().strip(), self.text_model.text().strip()
        s.device, s.batch_size, s.results = self.device.currentText(), self.batch.value(), self.results.value()
        if self.es_password.text() or password:
            secrets.set_secret(self.dirs.data, f"es:{s.es_url}", self.es_password.text() or password)
        s.save(self.dirs)
        super().accept()
