"""Models load through the same code path as the hub names; dims come from the model; pairs must match."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from imgsearch_desktop.core.embedder import Embedder, ModelMismatch
from imgsearch_desktop.core.errors import ModelNotFound
from tests.conftest import TINY_DIMS
from tests.photos import picture


def test_dims_and_unit_vectors(embedder):
    assert embedder.dims == TINY_DIMS
    vecs = embedder.encode_images([picture(i) for i in range(3)])
    assert vecs.shape == (3, TINY_DIMS) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    texts = embedder.encode_texts(["un chien sur la plage", "ein Hund am Strand"])
    assert texts.shape == (2, TINY_DIMS)
    assert np.allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vecs[0], vecs[1])  # distinct pictures, distinct vectors


def test_image_size_read_from_the_model(embedder):
    assert embedder.image_size == 64  # the tiny model's processor crop size, not a hard-coded 224


def test_same_image_same_vector_batch_independent(embedder):
    one = embedder.encode_images([picture(5)])[0]
    batch = embedder.encode_images([picture(4), picture(5), picture(6)])[1]
    assert float(one @ batch) > 0.9999


def test_mismatched_pair_is_refused(tiny_models):
    emb = Embedder(str(tiny_models["clip"]), str(tiny_models["text16"]), device="cpu")
    with pytest.raises(ModelMismatch, match="16-d"):
        emb.load_both()


def test_missing_models_give_a_clear_error(tmp_path, monkeypatch, tiny_models):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFound, match="not found"):
        Embedder(str(tmp_path / "nope"), str(tiny_models["text"]), device="cpu").image_encoder()
    with pytest.raises(ModelNotFound, match="could not load"):
        Embedder("sentence-transformers/no-such-model-here", str(tiny_models["text"]), device="cpu").image_encoder()


def test_a_query_goes_ahead_of_a_long_ingest_batch(embedder):
    """An interactive query waits for one slice of an ingest batch, not for the whole batch."""
    pictures = [picture(i % 16) for i in range(400)]
    finished: dict[str, float] = {}

    def ingest() -> None:
        vectors = embedder.encode_images(pictures)
        finished["ingest"] = time.perf_counter()
        finished["count"] = len(vectors)

    thread = threading.Thread(target=ingest)
    thread.start()
    time.sleep(0.1)
    embedder.encode_images([picture(99)], priority=True)
    finished["query"] = time.perf_counter()
    thread.join()
    assert finished["count"] == 400
    assert finished["query"] < finished["ingest"]
