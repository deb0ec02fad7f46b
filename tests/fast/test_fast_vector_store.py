"""core/vector_store.py: the Elasticsearch store and the fast tests' fake both answer every member of the protocol the
layers above the index use, and the fake answers as a store does (scoped to its library, filtered, best first)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from imgsearch_desktop.core.store import Filters, PhotoDoc, Store
from imgsearch_desktop.core.vector_store import VectorStore
from tests.fast.fake_store import FakeStore

METHODS = sorted(n for n, v in vars(VectorStore).items() if not n.startswith("_") and inspect.isfunction(v))
ATTRIBUTES = sorted(VectorStore.__annotations__)


@pytest.mark.parametrize("store", [Store(object(), "idx"), FakeStore()], ids=["elasticsearch", "fake"])
def test_a_store_answers_the_whole_protocol(store):
    assert METHODS and ATTRIBUTES == ["library", "migrate_from", "migrate_same_model"]
    for name in ATTRIBUTES:
        assert hasattr(store, name), name
    for name in METHODS:
        wanted = inspect.signature(getattr(VectorStore, name)).parameters
        given = inspect.signature(getattr(store, name)).parameters
        for param in list(wanted.values())[1:]:  # after self: each one can be passed as the protocol passes it
            assert param.name in given, f"{type(store).__name__}.{name} lacks {param.name}"
            assert given[param.name].kind is not inspect.Parameter.POSITIONAL_ONLY
            assert (param.default is inspect.Parameter.empty) or given[param.name].default == param.default, name
        extra = [p for p in given.values() if p.name not in wanted and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        assert all(p.default is not inspect.Parameter.empty for p in extra), f"{name}: {extra}"


def test_the_fake_answers_as_a_store_does():
    store = FakeStore(library="anna")
    a = store.add("/p/a.jpg", [1.0, 0.0], format="JPEG", sha256="s")
    b = store.add("/p/sub/b.png", [0.6, 0.8], format="PNG", sha256="t")
    c = store.add("/q/c.jpg", [0.0, 1.0], format="JPEG")
    other = store.add("/p/theirs.jpg", [1.0, 0.0], library="ben")  # another desktop's photo in the shared index

    assert [h.path for h in store.knn(np.array([1.0, 0.0]), k=3)] == ["/p/a.jpg", "/p/sub/b.png", "/q/c.jpg"]
    assert [round(h.score, 6) for h in store.knn(np.array([1.0, 0.0]), k=2)] == [1.0, 0.6]
    assert [h.path for h in store.knn(np.array([1.0, 0.0]), min_score=0.5)] == ["/p/a.jpg", "/p/sub/b.png"]
    assert [h.path for h in store.knn(np.array([0.0, 1.0]), filters=Filters(folders=["/p"]))] == [
        "/p/sub/b.png", "/p/a.jpg"]
    assert [h.path for h in store.knn(np.array([0.0, 1.0]), filters=Filters(formats=["jpeg"]))] == [
        "/q/c.jpg", "/p/a.jpg"]
    assert other in store.knn_many("image_embedding", [[1.0, 0.0]], 5, Filters(all_libraries=True))[0]
    assert store.knn_many("image_embedding", [[1.0, 0.0], None], 5) == [[a, b, c], []]
    assert store.knn_many("image_embedding", [[1.0, 0.0]], 5, min_score=0.5) == [[a, b]]
    assert store.indexed_source("/p/theirs.jpg") is None and store.indexed_source("/p/a.jpg")["sha256"] == "s"
    assert dict(store.documents(Filters(photo_ids=[a]), ["sha256", "format"])) == {a: {"sha256": "s",
                                                                                      "format": "JPEG"}}
    with pytest.raises(NotImplementedError):
        store.knn(np.array([1.0, 0.0]), filters=Filters(date_from="2024-01-01"))

    doc = PhotoDoc(path="/p/new.jpg", root="/p", library="anna", sha256="n", vector=[0.0, 1.0], size=1, mtime_ns=2)
    assert store.write([doc], [a]) == [] and store.indexed_source("/p/a.jpg") is None
    assert set(store.indexed_files(["/p"])) == {"/p/sub/b.png", "/p/new.jpg"}
    assert store.by_sha256(["n"])["n"]["path"] == "/p/new.jpg"
