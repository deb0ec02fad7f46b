"""The window on real photographs (Debian's mate-backgrounds, installed by `make test`): the same picture at three
resolutions comes back as copies of the dropped one, and the screenshots shown in the README are taken from it (the
grid, and the preview of a camera's photograph with its EXIF)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

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

    # The preview of the 3840×2160 copy, a Sony RX100 IV's photograph: large, with what its EXIF says beside it.
    row = next(r for r, h in enumerate(window.model.hits) if Path(h.path).name == ELEPHANTS[1])
    window.grid.setCurrentIndex(window.model.index(row))
    window.grid.setFocus()
    with qtbot.waitSignal(window.preview.shown, timeout=60_000):
        qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    facts = {k: v.text() for k, v in window.preview.facts.items()}
    assert facts["Camera"] == "SONY DSC-RX100M4" and facts["Taken"] == "2020-02-19 16:35"
    assert facts["Exposure"] == "f/3.5 · 1/80 s · ISO 125 · 8.8 mm"
    assert facts["Size"].startswith("3840 × 2160 px · 8.3 MP · ")
    qtbot.wait(200)
    window.grab().save(str(SCREENSHOTS / "preview.png"))
