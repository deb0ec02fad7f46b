"""The Settings dialog offers what the command line and the environment accept: one device list, one batch limit."""

from __future__ import annotations

import pytest

from imgsearch_desktop import checks
from imgsearch_desktop.app.settings_dialog import SettingsDialog
from imgsearch_desktop.config import AppDirs, Settings


@pytest.mark.parametrize("device", checks.DEVICES)
def test_the_dialog_keeps_each_device_and_the_largest_batch_the_command_line_accepts(qtbot, isolated_home, device):
    dirs = AppDirs.resolve(isolated_home)
    largest = checks.batch_size(str(checks.BATCH_SIZE_MAX))  # what --batch-size and IMGSEARCH_BATCH_SIZE take
    dialog = SettingsDialog(Settings(device=checks.device(device), batch_size=largest), dirs)
    qtbot.addWidget(dialog)
    dialog.accept()
    saved = Settings.load(dirs, env={})
    assert (saved.device, saved.batch_size) == (device, largest)
