"""[W] "min similarity 1.00 hides copies shown as '1.000'": ES thresholds a kNN on an int8 estimate of the cosine,
the tiles show the rescored one to 3 decimals. The slider's 1.00 keeps every photo shown as 1.000; the store's
``min_score`` (the CLI's ``--min-score``) stays strict on the score returned. Real identical copies, a real node."""

from __future__ import annotations

import shutil

import numpy as np

from tests.app.gui import wait_indexed
from tests.photos import write_photo


def test_min_similarity_one_keeps_identical_copies_and_the_store_stays_strict(qtbot, make_app, tmp_path):
    root = tmp_path / "Pictures"
    photo = write_photo(root / "beach.jpg", seed=5100, size=(320, 240))
    copies = [root / "backup" / "beach.jpg", root / "phone" / "beach copy.jpg"]
    for copy in copies:
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photo, copy)
    for i in range(6):
        write_photo(root / f"other{i}.jpg", seed=5200 + i, size=(320, 240))
    app = make_app([root])
    wait_indexed(qtbot, app)
    window = app.window
    window.filter_bar.threshold.setValue(100)
    with qtbot.waitSignal(window.results_shown, timeout=30_000) as shown:
        window.search_path(str(photo))
    qtbot.waitUntil(lambda: len(window.model.hits) == 3, timeout=30_000)  # the filter's re-run settles
    assert shown.args[0] >= 1
    labels = [window.model.index(r).data().split()[0] for r in range(window.model.rowCount())]
    assert labels == ["1.000"] * 3
    assert sorted(h.path for h in window.model.hits) == sorted(map(str, [photo, *copies]))

    store = window.runner.store
    vector = store.by_sha256([window.model.hits[0].sha256])[window.model.hits[0].sha256]["image_embedding"]
    for threshold in (1.0, window.model.hits[0].score, 0.5):
        hits = store.knn(np.array(vector), k=10, min_score=threshold)
        assert all(h.score >= threshold for h in hits), threshold  # never a hit below the threshold
    assert len(store.knn(np.array(vector), k=10, min_score=0.5)) >= 3

    # A query a hair away from the copies (exact cosine 0.9997: each tile shows 1.000): the slider's 1.00 keeps
    # all three, though ES's int8 estimate of such a cosine can fall below the threshold.
    unit = np.array(vector) / np.linalg.norm(vector)
    side = np.random.default_rng(1).normal(size=unit.shape)
    side -= side.dot(unit) * unit
    side /= np.linalg.norm(side)
    near = 0.9997 * unit + np.sqrt(1 - 0.9997 ** 2) * side
    hits = store.knn(near, k=10, min_score=window.filter_bar.min_score)
    assert sorted(h.path for h in hits) == sorted(map(str, [photo, *copies]))
    assert {f"{h.score:.3f}" for h in hits} == {"1.000"}
