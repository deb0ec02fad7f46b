"""The window on real photographs (Debian's mate-backgrounds, installed by `make test`): the same picture at three
resolutions comes back as copies of the dropped one, and the screenshot shown in the README is taken from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.app.gui import SCREENSHOTS, drop_file, wait_indexed

BACKGROUNDS = Path("/usr/share/backgrounds/mate")
ELEPHANTS = ["Elephants.jpg", "Elephants_3840x2160.jpg", "Elephants_5640x3172.jpg"]


@pytest.mark.skipif(not (BACKGROUNDS / "abstract" / ELEPHANTS[0]).exists(), reason="mate-backgrounds not installed")
def test_the_same_picture_at_three_resolutions_comes_first(qtbot, make_app, tmp_path):
    library = tmp_path / "Pictures"
    for photo in sorted(BACKGROUNDS.rglob("*.jpg")):
        target = library / photo.parent.name / photo.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photo, target)
    app = make_app([library])
    stats = wait_indexed(qtbot, app, timeout=300_000)
    assert stats.indexed >= 16 and stats.skipped == 0
    window = app.window
    window.resize(1280, 820)
    with qtbot.waitSignal(window.results_shown, timeout=60_000):
        drop_file(window, library / "abstract" / ELEPHANTS[0])
    top = [Path(h.path).name for h in window.model.hits[:3]]
    assert sorted(top) == sorted(ELEPHANTS)  # the photo itself, then its two other resolutions
    assert window.model.hits[2].score > 0.98
    qtbot.waitUntil(window.model.thumbnails_ready, timeout=60_000)
    qtbot.wait(200)
    SCREENSHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SCREENSHOTS / "real-photos-results.png"))
