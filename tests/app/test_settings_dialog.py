"""The Settings dialog keeps a pasted URL's password in the secret store (the one place a secret is written), and
the CLI's context then signs in with it: both go through core.secrets. It offers what the command line and the
environment accept: one device list, one batch limit."""

from __future__ import annotations

import argparse

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from imgsearch_desktop import checks
from imgsearch_desktop.app.keep_rules import KeepRulesBox
from imgsearch_desktop.app.settings_dialog import SettingsDialog
from imgsearch_desktop.config import AppDirs, Settings, split_credentials
from imgsearch_desktop.context import Context
from imgsearch_desktop.core import secrets


def test_a_pasted_url_with_a_password_is_kept_in_the_secret_store_and_signs_in_later(qtbot, es_url, isolated_home):
    url, user, password = split_credentials(es_url)  # the session node's URL as `es start` prints it
    assert user and password
    dirs = AppDirs.resolve(isolated_home)
    dialog = SettingsDialog(Settings.load(dirs, env={}), dirs)
    qtbot.addWidget(dialog)
    dialog.es_url.setText(es_url)  # pasted
    with qtbot.waitSignal(dialog.applied, timeout=30_000) as applied:
        dialog.accept()  # tests the connection first (signing in as the app will), then saves
    assert applied.args[0].reconnect
    text = dirs.settings_file.read_text()
    assert password not in text and f"{user}:" not in text
    assert secrets.get_secret(dirs.data, f"es:{url}") == password

    ctx = Context(argparse.Namespace(home=str(isolated_home)))  # the next run: the saved settings, nothing given
    assert (ctx.settings.es_url, ctx.settings.es_user) == (url, user)
    connection = ctx.connection()
    assert (connection.url, connection.user, connection.password) == (url, user, password)
    client = connection.client()
    try:
        assert client.cluster.health()["status"] in ("green", "yellow")
    finally:
        client.close()


@pytest.mark.parametrize("device", checks.DEVICES)
def test_the_dialog_keeps_each_device_and_the_largest_batch_the_command_line_accepts(qtbot, isolated_home, device):
    dirs = AppDirs.resolve(isolated_home)
    largest = checks.batch_size(str(checks.BATCH_SIZE_MAX))  # what --batch-size and IMGSEARCH_BATCH_SIZE take
    dialog = SettingsDialog(Settings(device=checks.device(device), batch_size=largest), dirs)
    qtbot.addWidget(dialog)
    dialog.accept()
    saved = Settings.load(dirs, env={})
    assert (saved.device, saved.batch_size) == (device, largest)


def test_a_removed_folder_leaves_the_folder_priority_with_its_subfolders(qtbot, isolated_home, tmp_path):
    dirs = AppDirs.resolve(isolated_home)
    a, b, ref = str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "ref")
    settings = Settings(folders=[a, b], references=[ref], folder_priority=[f"{b}/sub", b, a, str(tmp_path / "old")])
    dialog = SettingsDialog(settings, dirs)
    qtbot.addWidget(dialog)
    priority = dialog.findChild(KeepRulesBox).folders
    assert priority.values() == [f"{b}/sub", b, a, ref]  # a folder removed before is not listed

    dialog.folders.item(1).setSelected(True)  # b
    qtbot.mouseClick(next(w for w in dialog.findChildren(QPushButton) if w.text() == "Remove"),
                     Qt.MouseButton.LeftButton)
    assert [dialog.folders.item(i).text() for i in range(dialog.folders.count())] == [a]
    assert priority.values() == [a, ref]
    dialog.accept()
    saved = Settings.load(dirs, env={})
    assert saved.folders == [a] and saved.folder_priority == [a, ref]
    again = SettingsDialog(saved, dirs)
    qtbot.addWidget(again)
    assert again.findChild(KeepRulesBox).folders.values() == [a, ref]
