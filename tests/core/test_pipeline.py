"""The indexing job on real files and a real node: skip what is unchanged, reuse what moved, resume after cancel."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgsearch_desktop.core import images as images_module
from imgsearch_desktop.core.ahead import BACKGROUND_NICE
from imgsearch_desktop.core.images import load_file
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import doc_id, path_from_source
from imgsearch_desktop.core.watcher import ChangeSet
from tests.photos import write_photo


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "Pictures"
    for i in range(6):
        write_photo(root / ("trip" if i % 2 else "home") / f"photo{i}.jpg", seed=100 + i)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "notes.txt").write_text("ignored: not an image type")
    write_photo(root / ".hidden" / "secret.jpg", 99)
    write_photo(root / "node_modules" / "icon.png", 98)
    return root


def docs(store) -> dict[str, dict]:
    store.refresh()
    resp = store.client.search(index=store.index, size=1000, version=True, query={"match_all": {}})
    return {path_from_source(h["_source"]): {**h["_source"], "_id": h["_id"], "_version": h["_version"]}
            for h in resp["hits"]["hits"]}


def exact_ranking(embedder, query_vec, paths):
    vecs = embedder.encode_images([load_file(p, embedder.image_size).loaded.image for p in paths])
    sims = vecs @ query_vec
    order = np.argsort(-sims)
    return [str(paths[i]) for i in order], sims[order]


def test_index_search_and_reindex_writes_nothing(store, embedder, library):
    indexer = Indexer(store, embedder, batch_size=4)
    stats = indexer.run([library])
    assert (stats.indexed, stats.embedded, stats.skipped) == (6, 6, 1)
    assert stats.skipped_files == [(str(library / "broken.jpg"), stats.skipped_files[0][1])]
    assert "corrupt" in stats.skipped_files[0][1] or "truncated" in stats.skipped_files[0][1]
    before = docs(store)
    assert len(before) == 6 and not any("secret" in p or "node_modules" in p for p in before)
    again = indexer.run([library])
    assert (again.indexed, again.unchanged, again.embedded, again.moved, again.removed) == (0, 6, 0, 0, 0)
    after = docs(store)
    assert {p: d["_version"] for p, d in after.items()} == {p: d["_version"] for p, d in before.items()}


def test_image_query_finds_itself_first_and_ranks_like_numpy(store, embedder, library):
    Indexer(store, embedder).run([library])
    paths = sorted(library.rglob("photo*.jpg"))
    query = embedder.encode_images([load_file(paths[3], embedder.image_size).loaded.image])[0]
    hits = store.knn(query, k=6)
    expected, sims = exact_ranking(embedder, query, paths)
    assert hits[0].path == str(paths[3]) and hits[0].score > 0.999
    assert [h.path for h in hits] == expected
    assert np.allclose([h.score for h in hits], sims, atol=2e-3)


@pytest.mark.parametrize("sentence", ["un chien qui court sur la plage", "ein Hund läuft am Strand entlang"])
def test_text_query_ranks_like_numpy(store, embedder, library, sentence):
    Indexer(store, embedder).run([library])
    paths = sorted(library.rglob("photo*.jpg"))
    query = embedder.encode_texts([sentence])[0]
    hits = store.knn(query, k=6)
    expected, sims = exact_ranking(embedder, query, paths)
    assert [h.path for h in hits] == expected
    assert np.allclose([h.score for h in hits], sims, atol=2e-3)


def test_move_rename_copy_change_delete(store, embedder, library):
    indexer = Indexer(store, embedder)
    indexer.run([library])
    original = docs(store)[str(library / "home" / "photo0.jpg")]

    moved_to = library / "archive" / "renamed.jpg"
    moved_to.parent.mkdir()
    os.rename(library / "home" / "photo0.jpg", moved_to)
    stats = indexer.run([library])
    assert (stats.moved, stats.embedded, stats.indexed, stats.removed) == (1, 0, 0, 0)
    now = docs(store)
    assert str(library / "home" / "photo0.jpg") not in now
    assert now[str(moved_to)]["image_embedding"] == original["image_embedding"]
    assert now[str(moved_to)]["relative_path"] == "archive/renamed.jpg"

    shutil.copy2(moved_to, library / "copy.jpg")
    stats = indexer.run([library])
    assert (stats.indexed, stats.reused, stats.embedded) == (1, 1, 0)

    write_photo(library / "trip" / "photo1.jpg", seed=555)  # new content at the same path
    stats = indexer.run([library])
    assert (stats.indexed, stats.embedded) == (1, 1)

    (library / "trip" / "photo3.jpg").unlink()
    stats = indexer.run([library])
    assert stats.removed == 1 and str(library / "trip" / "photo3.jpg") not in docs(store)


def test_missing_root_does_not_wipe_its_photos(store, embedder, library, tmp_path):
    indexer = Indexer(store, embedder)
    indexer.run([library])
    unplugged = tmp_path / "unplugged"
    library.rename(unplugged)
    stats = indexer.run([library])
    assert stats.removed == 0 and len(docs(store)) == 6
    assert stats.unreachable_folders == [(str(library), "no such file or folder")] and not stats.skipped_files


def test_non_utf8_name_round_trips(store, embedder, tmp_path):
    folder = tmp_path / "bytes"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/caf\xe9-\xff.jpg"  # Latin-1 bytes: not valid UTF-8
    write_photo(Path(os.fsdecode(raw)), 7)
    Indexer(store, embedder).run([folder])
    (path, doc), = docs(store).items()
    assert os.fsencode(path) == raw and doc["_id"] == doc_id(os.fsdecode(raw))
    assert "\ufffd" in doc["path"]  # readable display form; the exact bytes live in path_b64
    again = Indexer(store, embedder).run([folder])
    assert again.unchanged == 1 and again.indexed == 0


def test_one_file_through_links_and_nested_roots_counts_once(store, embedder, tmp_path):
    root = tmp_path / "lib"
    photo = write_photo(root / "a" / "one.jpg", 11)
    write_photo(root / "a" / "two.jpg", 12)
    os.link(photo, root / "hardlink.jpg")
    os.symlink(root, root / "a" / "loop")  # a symlink loop back to the top
    stats = Indexer(store, embedder).run([root, root / "a"])
    assert stats.indexed == 2 and stats.embedded == 2 and len(docs(store)) == 2


def test_cancel_then_resume_does_not_redo_work(store, embedder, tmp_path):
    root = tmp_path / "many"
    for i in range(10):
        write_photo(root / f"p{i:02d}.jpg", 200 + i)
    calls = []

    def cancel_after_first_batch(done, total, note):
        calls.append(done)
        return done < 4

    first = Indexer(store, embedder, batch_size=4).run([root], progress=cancel_after_first_batch)
    assert first.cancelled and first.embedded == 4 and len(docs(store)) == 4
    assert calls[0] == 0 and max(calls) == 4  # progress(done, total, note) reported before cancelling
    second = Indexer(store, embedder, batch_size=4).run([root])
    assert (second.unchanged, second.embedded, second.indexed) == (4, 6, 6) and len(docs(store)) == 10


def test_move_seen_as_delete_plus_create_keeps_the_vector(store, embedder, library):
    """Watchers can report a move as two unrelated events; the content hash still recognises it."""
    indexer = Indexer(store, embedder)
    indexer.run([library])
    src, dest = library / "home" / "photo2.jpg", library / "trip" / "renamed.jpg"
    before = docs(store)[str(src)]
    os.rename(src, dest)
    stats = indexer.apply(ChangeSet(changed={str(dest)}, deleted={str(src)}), [str(library)])
    assert (stats.moved, stats.embedded, stats.removed) == (1, 0, 0)
    after = docs(store)
    assert str(src) not in after and after[str(dest)]["image_embedding"] == before["image_embedding"]


def test_every_bad_kind_is_skipped_with_its_reason_and_good_ones_indexed_once(store, embedder, tmp_path):
    from PIL import Image

    root = tmp_path / "mixed"
    good = [write_photo(root / f"good{i}.jpg", 40 + i) for i in range(3)]
    good.append(write_photo(root / "big24mp.jpg", 49, size=(6000, 4000), quality=80))  # 24 MP
    cmyk = root / "cmyk.jpg"
    Image.new("CMYK", (120, 90), (0, 200, 200, 0)).save(cmyk)
    good.append(cmyk)
    deep = root / "deep16.png"
    Image.fromarray(np.tile(np.linspace(0, 65535, 128, dtype=np.uint16), (64, 1))).save(deep)
    good.append(deep)
    bad = {
        "empty.jpg": (b"", "empty file"),
        "text.jpg": (b"hello, not a photo", "not an image"),
        "noise.png": (np.random.default_rng(3).bytes(2048), "not an image"),
        "cut.jpg": (good[0].read_bytes()[:2000], "truncated"),
    }
    for name, (data, _reason) in bad.items():
        (root / name).write_bytes(data)
    os.symlink(root / "loop.jpg", root / "loop.jpg")
    os.link(good[1], root / "hardlink-of-good1.jpg")
    stats = Indexer(store, embedder).run([root])
    reasons = {os.path.basename(p): r for p, r in stats.skipped_files}
    for name, (_data, reason) in bad.items():
        assert reason in reasons[name], (name, reasons.get(name))
    assert "loop" in reasons["loop.jpg"]
    indexed = docs(store)
    assert len(indexed) == len(good) == stats.indexed  # the hard link is the same file: indexed once
    assert indexed[str(good[3])]["width"] == 6000 and indexed[str(good[3])]["height"] == 4000


def test_file_deleted_between_scan_and_decode_is_skipped(store, embedder, tmp_path):
    from imgsearch_desktop.core.scanner import scan

    root = tmp_path / "vanishing"
    keep = write_photo(root / "stays.jpg", 1)
    gone = write_photo(root / "goes.jpg", 2)
    entries = scan([root]).files
    gone.unlink()
    stats = Indexer(store, embedder).index_files(entries)
    assert stats.indexed == 1 and stats.skipped_files == [(str(gone), stats.skipped_files[0][1])]
    assert "vanished" in stats.skipped_files[0][1] and str(keep) in docs(store)


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are a Linux feature")
def test_decoding_runs_at_background_priority(store, embedder, library, monkeypatch):
    """Indexing's decode threads are niced: a query, thumbnails and the window get the CPU first."""
    seen: list[int] = []
    decode = images_module.decode

    def recording(*args, **kwargs):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return decode(*args, **kwargs)

    monkeypatch.setattr(images_module, "decode", recording)
    assert Indexer(store, embedder).run([str(library)]).indexed > 0
    assert seen and min(seen) >= BACKGROUND_NICE
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < BACKGROUND_NICE  # the caller is untouched


def test_decoders_wait_while_a_query_is_in_flight(store, embedder, tmp_path, monkeypatch):
    """A query (from its photo's decode to its embedding) has the cores: indexing starts no new photo meanwhile."""
    root = tmp_path / "import"
    for i in range(24):
        write_photo(root / f"card{i:02d}.jpg", seed=500 + i, size=(320, 240))
    started: list[float] = []
    real_decode = images_module.decode

    def decode(*args, **kwargs):
        started.append(time.monotonic())
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(images_module, "decode", decode)
    indexer = Indexer(store, embedder, batch_size=4, decode_workers=2, lookahead=4)
    with embedder.query():
        thread = threading.Thread(target=indexer.run, args=([root],))
        thread.start()
        time.sleep(1.5)
        during = len(started)
        held_until = time.monotonic()
    thread.join(120)
    assert during == 0, "a photo was decoded for indexing while a query was in flight"
    assert len(started) == 24 and min(started) >= held_until


def test_bulk_writes_wait_while_a_query_is_in_flight(store, embedder, tmp_path, monkeypatch):
    """A query that starts after a batch was embedded: the batch's bulk write waits until the query has ended (the
    node's graph building would take the cores its kNN needs)."""
    root = tmp_path / "import"
    for i in range(4):
        write_photo(root / f"card{i}.jpg", seed=600 + i, size=(320, 240))
    ends, writes = [], []
    real_encode, real_write = embedder.encode_images, store.write

    def encode_images(images, *args, **kwargs):
        vectors = real_encode(images, *args, **kwargs)
        if not kwargs.get("priority"):  # an ingest batch is embedded: a query arrives now, for 0.5 s
            end = embedder.foreground()
            threading.Timer(0.5, lambda: (ends.append(time.monotonic()), end())).start()
        return vectors

    def write(*args, **kwargs):
        writes.append(time.monotonic())
        return real_write(*args, **kwargs)

    monkeypatch.setattr(embedder, "encode_images", encode_images)
    monkeypatch.setattr(store, "write", write)
    stats = Indexer(store, embedder, batch_size=4).run([root])
    assert stats.indexed == 4 and len(writes) == 1 and len(ends) == 1
    assert writes[0] >= ends[0], "the bulk write went to the node while a query was in flight"


def test_indexing_fills_the_thumbnail_cache_from_its_own_decode(store, embedder, tmp_path, monkeypatch):
    from imgsearch_desktop.core import thumbs

    root = tmp_path / "card"
    photos = [write_photo(root / f"DSC{i}.jpg", seed=600 + i, size=(1200, 900)) for i in range(3)]
    decodes: list[str] = []
    real_decode = images_module.decode

    def decode(data, target, name="", thumb_px=0):
        decodes.append(name)
        return real_decode(data, target, name=name, thumb_px=thumb_px)

    monkeypatch.setattr(images_module, "decode", decode)
    cache = thumbs.ThumbCache(tmp_path / "thumbs")
    assert Indexer(store, embedder, thumbnails=cache).run([root]).indexed == 3
    assert sorted(decodes) == sorted(str(p) for p in photos)  # one decode per photo, for both uses
    for photo in photos:
        cached = cache.file(thumbs.key_now(str(photo)))
        with Image.open(cached) as im:
            assert max(im.size) == thumbs.THUMB_PX and im.size == (256, 192)  # the window's key finds it
