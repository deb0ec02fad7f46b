"""[C3] A folder taken out of the library in Settings: the worker removes only the photos that no remaining
library folder covers (real worker, real node, real files)."""

from __future__ import annotations

from imgsearch_desktop.app.workers import IndexWorker
from imgsearch_desktop.config import Settings
from imgsearch_desktop.core.pipeline import Indexer
from tests.photos import write_photo


def test_removing_a_nested_folder_in_settings_keeps_the_photos_its_parent_covers(qtbot, store, embedder, tmp_path):
    p, sub = tmp_path / "p", tmp_path / "p" / "sub"
    for i in range(4):
        write_photo((p if i % 2 else sub) / f"p{i}.jpg", 1400 + i, size=(96, 72))
    settings = Settings(folders=[str(p), str(sub)])
    worker = IndexWorker(lambda: store, embedder, settings)
    worker.store, worker.sync.indexer = store, Indexer(store, embedder)
    assert worker.sync.scan(settings.folders).indexed == 4

    settings.folders = [str(p)]  # what Settings saved before asking the worker to forget /p/sub
    with qtbot.waitSignal(worker.finished, timeout=30_000) as done:
        worker.forget_folders([str(sub)])
    assert done.args[0].removed == 0 and store.count() == 4
