"""Bounded soak: creates, modifies, renames, moves and deletes in watched folders while the indexer keeps up.

At the end the index must equal the set of (path, sha256) on disk: nothing missing, nothing stale.
"""

from __future__ import annotations

import hashlib
import os
import queue
import random
import threading
import time

from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import path_from_source
from imgsearch_desktop.core.watcher import FolderWatcher
from tests.photos import picture

OPERATIONS = 2000


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def disk_state(root) -> dict[str, str]:
    return {os.path.join(d, f): sha(os.path.join(d, f)) for d, _, files in os.walk(root) for f in files}


def index_state(store) -> dict[str, str]:
    store.refresh()
    resp = store.client.search(index=store.index, size=10_000, source=["path", "path_b64", "sha256"])
    return {path_from_source(h["_source"]): h["_source"]["sha256"] for h in resp["hits"]["hits"]}


def test_churn_keeps_index_equal_to_disk(store, embedder, tmp_path):
    root = tmp_path / "watched"
    folders = [root / name for name in ("a", "b", "c")]
    for f in folders:
        f.mkdir(parents=True)
    rng = random.Random(7)
    files: list = []
    serial = 0

    def new_picture(path) -> None:
        nonlocal serial
        serial += 1
        picture(serial, (48, 36)).save(path, "JPEG", quality=85)

    for i in range(20):
        path = folders[i % 3] / f"start{i}.jpg"
        new_picture(path)
        files.append(path)
    indexer = Indexer(store, embedder, batch_size=16)
    indexer.run([root])

    changes: queue.Queue = queue.Queue()
    watcher = FolderWatcher(changes.put, debounce=0.3, stable_for=0.3)
    watcher.start([str(root)])
    busy = threading.Event()
    errors: list[BaseException] = []
    stop = threading.Event()

    def consume() -> None:  # the one writer, as in the app
        while not stop.is_set():
            try:
                change = changes.get(timeout=0.2)
            except queue.Empty:
                continue
            busy.set()
            try:
                indexer.apply(change, [str(root)])
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)
            finally:
                busy.clear()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    counts = {"create": 0, "modify": 0, "rename": 0, "move": 0, "delete": 0}
    try:
        for _ in range(OPERATIONS):
            op = rng.choice(list(counts)) if len(files) > 5 else "create"
            counts[op] += 1
            if op == "create":
                path = rng.choice(folders) / f"new{serial}.jpg"
                new_picture(path)
                files.append(path)
            elif op == "modify":
                new_picture(rng.choice(files))
            elif op in ("rename", "move"):
                src = files.pop(rng.randrange(len(files)))
                folder = src.parent if op == "rename" else rng.choice([f for f in folders if f != src.parent])
                dest = folder / f"{op}{serial}-{rng.randrange(10**6)}.jpg"
                os.rename(src, dest)
                files.append(dest)
            else:
                files.pop(rng.randrange(len(files))).unlink()
            time.sleep(rng.random() * 0.004)
        deadline = time.monotonic() + 120
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if not changes.empty() or busy.is_set():
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 3:
                break
            time.sleep(0.1)
    finally:
        watcher.stop()
        stop.set()
        consumer.join(timeout=30)
    assert not errors, errors
    assert all(counts.values()), counts
    disk, index = disk_state(root), index_state(store)
    missing = sorted(set(disk) - set(index))
    stale = sorted(set(index) - set(disk))
    wrong = sorted(p for p in set(disk) & set(index) if disk[p] != index[p])
    assert (missing, stale, wrong) == ([], [], []), counts
