"""[D] The app on a real 3-node cluster (tests/cluster.py): one replica, and a node killed mid-index loses nothing.

Slow (a cluster of its own: three JVMs of 256–512 MB start together): about 2 minutes on a 2-core machine, most
of it the cluster starting.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import numpy as np
import pytest

from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import Filters, Store, path_from_source
from tests.cluster import Cluster
from tests.photos import write_photo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, es_archive):
    started = time.monotonic()
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start(es_archive)
        print(f"3-node cluster up in {time.monotonic() - started:.0f}s")
        yield c
    finally:
        c.stop()


class Searcher(threading.Thread):
    """Searches through one node, over and over, while the index is written and a node dies."""

    def __init__(self, store: Store, vector: np.ndarray) -> None:
        super().__init__(daemon=True)
        self.store, self.vector = store, vector
        self.results: list[tuple[float, int | str]] = []  # (when, hits found or the error)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                found: int | str = len(self.store.knn(self.vector, k=5, filters=Filters(all_libraries=True)))
            except Exception as exc:  # every failure is the finding
                found = f"{type(exc).__name__}: {exc}"
            self.results.append((time.monotonic(), found))
            time.sleep(0.05)


def test_a_node_killed_mid_index_loses_nothing_and_search_keeps_answering(cluster, embedder, tmp_path):
    total = 80
    root = tmp_path / "Pictures"
    for i in range(total):
        write_photo(root / f"p{i:03d}.jpg", 2000 + i, size=(96, 72))
    alias = f"cluster-{uuid.uuid4().hex[:8]}"
    admin = cluster.client(0)
    first = Store(admin, alias, library="desk")
    first.use_index(embedder.model_id, embedder.dims)
    settings = admin.indices.get_settings(index=first.index)[first.index]["settings"]["index"]
    assert settings["number_of_replicas"] == "1"  # the managed single node keeps 0 (test_store)
    admin.cluster.health(index=first.index, wait_for_status="green", timeout="60s")

    # Kill the node holding the primary; the desktop talks to another one (its one URL).
    shards = admin.cat.shards(index=first.index, format="json")
    victim = cluster.names.index(next(s["node"] for s in shards if s["prirep"] == "p"))
    via = next(i for i in range(3) if i != victim)
    master = admin.cat.master(format="json")[0]["node"]
    waits: list[str] = []
    store = Store(cluster.client(via), alias, library="desk", retry_for=180, on_wait=waits.append)
    store.use_index(embedder.model_id, embedder.dims)
    searcher = Searcher(Store(cluster.client(via), alias, library="desk"),
                        np.ones(embedder.dims, dtype=np.float32) / np.sqrt(embedder.dims))
    killed: list[float] = []

    def progress(done: int, total_: int, note: str) -> bool:
        if done >= 24 and not killed:
            assert cluster.kill(victim)
            killed.append(time.monotonic())
        return True

    searcher.start()
    started = time.monotonic()
    stats = Indexer(store, embedder, batch_size=4).run([root], progress=progress)
    finished = time.monotonic()
    time.sleep(1.0)  # a few searches on the healed cluster too
    searcher.halt.set()
    searcher.join(30)

    assert killed and (stats.indexed, stats.failed, stats.skipped) == (total, 0, 0), stats.failures[:3]
    store.refresh()
    assert store.count() == total
    paths = Counter(path_from_source(h["_source"])
                    for h in store.scan_docs({"match_all": {}}, ["path", "path_b64"], all_libraries=True))
    assert paths == {str(root / f"p{i:03d}.jpg"): 1 for i in range(total)}  # every file once, none lost

    during = [(t, r) for t, r in searcher.results if t >= killed[0]]
    errors = [r for _t, r in searcher.results if isinstance(r, str)]
    assert len(during) >= 10 and not errors, errors[:3]
    assert during[-1][1] == 5  # the healed cluster answers in full
    health = cluster.client(via).cluster.health()
    print(f"indexed {total} in {finished - started:.1f}s, killed node-{victim} (primary"
          f"{', master' if master == cluster.names[victim] else ''}) at "
          f"{killed[0] - started:.1f}s, {len(during)} searches answered after the kill, waits {waits[:2]}, "
          f"health now {health['status']} with {health['number_of_nodes']} nodes")
