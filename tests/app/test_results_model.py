"""The results grid's model: thumbnails arrive off the main thread; pixmap memory stays bounded across queries."""

from __future__ import annotations

from imgsearch_desktop.app import results_model
from imgsearch_desktop.app.results_model import ResultsModel
from imgsearch_desktop.app.thumbnails import ThumbnailLoader
from imgsearch_desktop.core.store import Hit
from tests.photos import write_photo


def hits_for(paths) -> list[Hit]:
    return [Hit(str(p), 0.9, str(i), p.name, p.name, 320, 240) for i, p in enumerate(paths)]


def test_pixmaps_stay_bounded_and_come_back_from_the_disk_cache(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(results_model, "MAX_PIXMAPS", 6)
    photos = [write_photo(tmp_path / "pics" / f"p{i}.jpg", seed=900 + i) for i in range(16)]
    loader = ThumbnailLoader(tmp_path / "thumbs", px=64)
    model = ResultsModel(loader, icon_px=64)
    for start in (0, 4, 8, 12):  # four queries of four photos each: 16 distinct thumbnails
        batch = photos[start:start + 4]
        model.set_hits(hits_for(batch))
        qtbot.waitUntil(model.thumbnails_ready, timeout=20_000)
        assert all(str(p) in model.pixmaps for p in batch)  # the current results are never evicted
        assert len(model.pixmaps) <= 6
    assert len(list((tmp_path / "thumbs").glob("*.jpg"))) == 16  # every thumbnail kept on disk
    model.set_hits(hits_for(photos[:4]))  # an evicted query again: from the disk cache, not re-decoded
    assert not model.thumbnails_ready()
    qtbot.waitUntil(model.thumbnails_ready, timeout=20_000)
    decoration = model.data(model.index(0), results_model.Qt.ItemDataRole.DecorationRole)
    assert decoration is model.pixmaps[str(photos[0])] and decoration is not model._loading
    loader.pool.waitForDone()
