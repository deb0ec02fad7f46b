"""Faults on a real node of its own: Elasticsearch stopped mid-index, a read-only index, a model change, SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.node import LocalNode
from imgsearch_desktop.core.node.client import ManagedConnection
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import Store
from imgsearch_desktop.devtools.random_models import build_clip
from imgsearch_desktop.errors import ElasticsearchUnavailable, UserError
from tests.listeners import ForeignListener
from tests.photos import write_photo


@pytest.fixture(scope="module")
def own_node(tmp_path_factory, es_archive):
    """A node these tests may stop and restart without disturbing the session's shared one."""
    node = LocalNode(AppDirs.resolve(tmp_path_factory.mktemp("fault-es")))
    node.install(str(es_archive))
    url = node.start()
    yield node, url
    node.uninstall()


def folder_of(tmp_path, n: int, name: str = "photos", size=(160, 120)):
    root = tmp_path / name
    for i in range(n):
        write_photo(root / f"p{i:03d}.jpg", 1000 + i, size=size)
    return root


def test_es_stopped_mid_index_is_retried_and_nothing_is_lost_or_doubled(own_node, embedder, tmp_path):
    node, url = own_node
    waits: list[str] = []
    conn = ManagedConnection(url, node=node)  # the restarted node may land on another port (a busy machine)
    store = Store(conn.client(request_timeout=10), f"fault-{uuid.uuid4().hex[:8]}", retry_for=180,
                  on_wait=waits.append, connection=conn)
    store.use_index(embedder.image_model_name, embedder.dims)
    root = folder_of(tmp_path, 24)
    restarted = threading.Event()

    def progress(done: int, total: int, note: str) -> bool:
        if done >= 8 and not restarted.is_set() and not waits:
            node.stop()  # Elasticsearch goes away between two batches…
            threading.Thread(target=lambda: (time.sleep(3), node.start(), restarted.set()), daemon=True).start()
        return True

    stats = Indexer(store, embedder, batch_size=4).run([root], progress=progress)
    assert restarted.is_set() and any("Elasticsearch unavailable" in w for w in waits)
    assert (stats.indexed, stats.failed) == (24, 0)
    assert store.count() == 24  # deterministic ids: a retried batch overwrites, never duplicates
    store.drop()


def test_read_only_index_is_reported_with_what_to_do(own_node, embedder, tmp_path):
    node, _url = own_node
    client = ManagedConnection.start(node).client()  # wherever the node runs now
    store = Store(client, f"ro-{uuid.uuid4().hex[:8]}", bulk_retries=1, bulk_backoff=0.2)
    store.use_index(embedder.image_model_name, embedder.dims)
    client.indices.put_settings(index=store.index, settings={"index.blocks.read_only_allow_delete": True})
    root = folder_of(tmp_path, 3)
    with pytest.raises(UserError, match=r"read-only .*Free disk space"):
        Indexer(store, embedder).run([root])
    client.indices.put_settings(index=store.index, settings={"index.blocks.read_only_allow_delete": None})
    stats = Indexer(store, embedder).run([root])
    assert stats.indexed == 3 and store.count() == 3
    store.drop()


def test_model_change_reembeds_into_a_new_index_behind_the_alias(es_client, embedder, tmp_path):
    alias = f"model-{uuid.uuid4().hex[:8]}"
    root = folder_of(tmp_path, 5)
    old = Store(es_client, alias)
    old.use_index(embedder.image_model_name, embedder.dims)
    Indexer(old, embedder).run([root])
    from imgsearch_desktop.core.embedder import Embedder

    other = build_clip(tmp_path / "clip16", dims=16, seed=5)
    emb16 = Embedder(str(other), str(other), device="cpu")
    new = Store(es_client, alias)
    new.use_index(str(other), emb16.dims)
    assert new.migrate_from == old.index and list(es_client.indices.get_alias(name=alias)) == [old.index]
    stats = Indexer(new, emb16).run([root])
    assert (stats.indexed, stats.embedded, stats.unchanged) == (5, 5, 0)  # never reuses the other model's vectors
    assert list(es_client.indices.get_alias(name=alias)) == [new.index]
    assert not es_client.indices.exists(index=old.index)
    mapping = es_client.indices.get_mapping(index=alias)[new.index]["mappings"]
    assert mapping["_meta"]["dims"] == 16 and mapping["properties"]["image_embedding"]["dims"] == 16
    new.drop()


def test_sigkill_mid_index_resumes_without_redoing_work(cli_env, es_client, tmp_path):
    total = 160  # enough that the kill lands mid-run however fast indexing gets
    root = folder_of(tmp_path, total, size=(320, 240))
    env = {**cli_env, "IMGSEARCH_BATCH_SIZE": "4"}
    proc = subprocess.Popen([sys.executable, "-m", "imgsearch_desktop", "index", str(root)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    alias = env["IMGSEARCH_INDEX"]
    deadline = time.monotonic() + 120
    count = 0
    while time.monotonic() < deadline and count < 12:
        time.sleep(0.05)
        if es_client.indices.exists_alias(name=alias):
            es_client.indices.refresh(index=alias)
            count = es_client.count(index=alias)["count"]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    es_client.indices.refresh(index=alias)
    written = es_client.count(index=alias)["count"]
    assert 12 <= written < total, "the kill must land mid-run"
    out = subprocess.run([sys.executable, "-m", "imgsearch_desktop", "index", str(root)], env=env,
                         capture_output=True, text=True, timeout=300)
    summary = out.stdout.strip().splitlines()[-1]
    expected = f"indexed {total - written}, unchanged {written}, moved 0, removed 0, skipped 0"
    assert summary.startswith(expected), summary
    es_client.indices.refresh(index=alias)
    assert es_client.count(index=alias)["count"] == total


def test_store_follows_the_managed_node_to_a_new_port_and_never_sends_to_the_old_one(own_node):
    """[C1] 8: the node restarts; someone else has taken its old port; the indexer's store follows it."""
    node, _url = own_node
    conn = ManagedConnection(node.start(), node=node)
    old = node.running_port()
    store = Store(conn.client(request_timeout=10), f"moved-{uuid.uuid4().hex[:8]}", retry_for=60, connection=conn)
    store.client.indices.create(index=store.index)
    node.stop()
    with ForeignListener(port=old) as squatter:  # the port the node left, now another process's
        node.start()
        new = node.running_port()
        assert new is not None and new != old
        store.refresh()  # refused at the old port, rebuilt for the new one
        assert store.connection.url == node.url(new)
        store.client.indices.delete(index=store.index)
    assert b"Authorization" not in squatter.received and squatter.received == b""


def kill_node(node: LocalNode) -> None:
    """SIGKILL every process of the node (launcher and server), as a crash or the OOM killer would."""
    pids = node.node_pids(thorough=True)
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while node.node_pids(thorough=True) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not node.node_pids(thorough=True)


def test_node_killed_as_a_new_index_is_made_is_waited_for_and_the_run_finishes(own_node, embedder, tmp_path):
    """[C3] kill -9 of the node just as `index` makes a new index: the making waits and retries as writes do."""
    node, _url = own_node
    conn = ManagedConnection(node.start(), node=node)
    waits: list[str] = []
    store = Store(conn.client(request_timeout=10), f"killed-{uuid.uuid4().hex[:8]}", retry_for=300,
                  on_wait=waits.append, connection=conn)
    store.check_server()
    kill_node(node)
    restart = threading.Thread(target=lambda: (time.sleep(2), node.start()), daemon=True)
    restart.start()
    store.use_index(embedder.image_model_name, embedder.dims)  # made once the node is back
    restart.join()
    assert any("Elasticsearch unavailable, retrying opening the index" in w for w in waits), waits
    stats = Indexer(store, embedder, batch_size=4).run([folder_of(tmp_path, 6)])
    assert (stats.indexed, stats.failed) == (6, 0) and store.count() == 6
    store.drop()


def test_node_killed_for_good_as_a_new_index_is_made_is_one_line_unreachable(own_node, embedder):
    node, _url = own_node
    conn = ManagedConnection(node.start(), node=node)
    store = Store(conn.client(request_timeout=10), f"killed-{uuid.uuid4().hex[:8]}", retry_for=3, connection=conn)
    store.check_server()
    kill_node(node)
    try:
        with pytest.raises(ElasticsearchUnavailable) as caught:
            store.use_index(embedder.image_model_name, embedder.dims)
        assert str(caught.value).startswith("Elasticsearch unavailable during opening the index")
        assert "\n" not in str(caught.value) and caught.value.exit_code == 3
    finally:
        node.start()  # for the module's other tests
