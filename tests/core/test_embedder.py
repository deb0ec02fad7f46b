"""Models load through the same code path as the hub names; dims come from the model; pairs must match."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from imgsearch_desktop.core.embedder import Embedder, ModelMismatch
from imgsearch_desktop.errors import ModelNotFound
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


def test_a_query_runs_before_the_rest_of_an_ingest_slice_in_progress(onnx_models, monkeypatch):
    """Order, not durations: an ingest batch of 8 decoded photos is being embedded by a model call that cannot be
    stopped (ONNX Runtime; its first call held by an Event); a query arriving meanwhile is embedded before the
    batch's other photos, not after all 8."""
    # fp32: int8's dynamic quantisation scales each call's activations by that call's batch
    embedder = Embedder(str(onnx_models["fp32"]["image"]), str(onnx_models["fp32"]["text"]), device="cpu",
                        batch_size=8)
    encoder = embedder.image_encoder()
    real, calls = encoder.encode, []
    running, go_on = threading.Event(), threading.Event()

    def gated(inputs, batch_size):
        calls.append(("query" if inputs[0].size == (99, 99) else "ingest", len(inputs)))
        if len(calls) == 1:
            running.set()
            assert go_on.wait(10)
        return real(inputs, batch_size)

    monkeypatch.setattr(encoder, "encode", gated)
    pictures = [picture(i, (64, 48)) for i in range(8)]
    out: dict[str, np.ndarray] = {}
    ingest = threading.Thread(target=lambda: out.setdefault("ingest", embedder.encode_images(pictures)))
    ingest.start()
    assert running.wait(10)  # the ingest's first model call is running
    query = threading.Thread(target=lambda: out.setdefault("query", embedder.encode_images(
        [picture(99, (99, 99))], priority=True)))
    query.start()
    wait_until(lambda: embedder._queries_waiting == 1)  # the query is in, waiting for the model
    go_on.set()
    query.join(10)
    ingest.join(10)
    kinds = [kind for kind, _ in calls]
    assert kinds[0] == "ingest" and kinds[1] == "query" and set(kinds[2:]) == {"ingest"}
    assert calls[0][1] < 8 and sum(n for kind, n in calls if kind == "ingest") == 8  # the rest came after it
    assert np.allclose(out["ingest"], real(pictures, 8), atol=1e-5)  # slicing changes no vector
    assert out["query"].shape == (1, TINY_DIMS)


def test_a_query_stops_a_torch_ingest_batch_between_layers(tiny_models):
    """torch: an ingest batch is one model call of the whole batch (its batch rate), and a query arriving while it
    runs is answered before that call ends: the batch waits at the next layer and goes on after the query."""
    import torch

    embedder = Embedder(str(tiny_models["clip"]), str(tiny_models["text"]), device="cpu", batch_size=8)
    encoder = embedder.image_encoder()
    real, calls, returned = encoder.encode, [], []

    def counted(inputs, batch_size):
        calls.append(len(inputs))
        vectors = real(inputs, batch_size)
        returned.append(len(inputs))  # the query's before its spell ends: no race with the batch's going on
        return vectors

    encoder.encode = counted
    first_layer = next(m[0] for name, m in encoder.model.named_modules()  # the vision tower's first block
                       if "vision" in name and isinstance(m, torch.nn.ModuleList) and len(m) > 1)
    in_forward = threading.Event()

    def hold_first_layer(_module, _args):  # the ingest's forward is in its first block: the query comes now
        if threading.current_thread().name == "ingest" and not in_forward.is_set():
            in_forward.set()
            wait_until(lambda: embedder._queries_waiting == 1)

    first_layer.register_forward_pre_hook(hold_first_layer)
    pictures = [picture(i, (64, 48)) for i in range(8)]
    out: dict[str, np.ndarray] = {}
    ingest = threading.Thread(target=lambda: out.setdefault("ingest", embedder.encode_images(pictures)),
                              name="ingest")
    ingest.start()
    assert in_forward.wait(30)
    out["query"] = embedder.encode_images([picture(99, (99, 99))], priority=True)
    ingest.join(30)
    assert calls == [8, 1]  # the batch in one call, not sliced; the query's call inside it
    assert returned == [1, 8]  # answered while the batch's call was still running
    assert np.allclose(out["ingest"], real(pictures, 8), atol=1e-5)  # stopping changes no vector
    assert embedder._queries_waiting == 0


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
