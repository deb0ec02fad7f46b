"""The ONNX Runtime backend (the packaged app's) against the torch backend, on exports made by the packaging code."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from imgsearch_desktop.core.embedder import Embedder
from imgsearch_desktop.core.errors import ModelNotFound
from imgsearch_desktop.core.images import load_file
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import Store
from tests.conftest import TINY_DIMS
from tests.photos import picture, write_photo

SIZES = [(320, 240), (240, 320), (64, 64), (1000, 61), (33, 47)]  # landscape, portrait, exact, extreme, tiny
SENTENCES = ["a dog on the beach", "un chat noir sur un canapé", "ein Hund am Strand " * 60, "夕日の海辺", ""]


def onnx_embedder(folders) -> Embedder:
    return Embedder(str(folders["image"]), str(folders["text"]), device="cpu", batch_size=3)


def agreement(embedder: Embedder, onnx: Embedder) -> tuple[np.ndarray, np.ndarray]:
    pictures = [picture(seed, size) for seed, size in enumerate(SIZES)]
    image_cos = (embedder.encode_images(pictures) * onnx.encode_images(pictures)).sum(1)
    text_cos = (embedder.encode_texts(SENTENCES) * onnx.encode_texts(SENTENCES)).sum(1)
    return image_cos, text_cos


def test_fp32_export_agrees_with_torch(embedder, onnx_models):
    onnx = onnx_embedder(onnx_models["fp32"])
    assert onnx.backend == "onnx" and embedder.backend == "torch"
    assert (onnx.dims, onnx.image_size) == (TINY_DIMS, embedder.image_size)
    image_cos, text_cos = agreement(embedder, onnx)
    print(f"fp32 agreement: images min {image_cos.min():.6f}, texts min {text_cos.min():.6f}")
    assert image_cos.min() >= 0.999 and text_cos.min() >= 0.999
    # The same model: an fp32 export shares the torch model's index.
    assert onnx.model_id == embedder.model_id == embedder.image_model_name


def test_int8_export_agrees_and_is_its_own_model(embedder, onnx_models):
    onnx = onnx_embedder(onnx_models["int8"])
    image_cos, text_cos = agreement(embedder, onnx)
    print(f"int8 agreement: images min {image_cos.min():.6f}, texts min {text_cos.min():.6f}")
    assert image_cos.min() >= 0.99 and text_cos.min() >= 0.99
    assert onnx.model_id == f"{embedder.image_model_name}+int8"  # different vectors: never mixed into one index
    manifest = json.loads((onnx_models["int8"]["image"] / "imgsearch-onnx.json").read_text())
    assert manifest["quantization"] == "int8"
    assert (onnx_models["int8"]["image"] / "model.onnx").stat().st_size < \
        (onnx_models["fp32"]["image"] / "model.onnx").stat().st_size


def test_batching_does_not_change_vectors(onnx_models):
    onnx = onnx_embedder(onnx_models["fp32"])
    batch = onnx.encode_texts(["short", "a much longer sentence that needs padding in the batch", "x"])
    alone = np.stack([onnx.encode_texts([t])[0] for t in ("short", "x")])
    assert np.allclose(batch[[0, 2]], alone, atol=1e-5)
    norms = np.linalg.norm(batch, axis=1)
    assert np.allclose(norms, 1, atol=1e-5)


def test_hub_name_resolves_to_an_export_in_the_model_dir(tiny_models, onnx_models, monkeypatch):
    """A packaged app keeps the hub names in its settings and finds the bundled export of that model."""
    monkeypatch.setenv("IMGSEARCH_MODEL_DIR", str(onnx_models["fp32"]["image"].parent))
    resolved = Embedder(str(tiny_models["clip"]), str(tiny_models["text"]), device="cpu")
    assert resolved.backend == "onnx" and resolved.text_encoder().backend == "onnx"
    assert resolved.model_id == str(tiny_models["clip"])


def test_wrong_or_broken_export_is_a_clear_error(onnx_models, tmp_path):
    with pytest.raises(ModelNotFound, match="not an image model"):
        Embedder(str(onnx_models["fp32"]["text"]), str(onnx_models["fp32"]["text"])).image_encoder()
    broken = tmp_path / "broken"
    broken.mkdir()
    manifest = json.loads((onnx_models["fp32"]["image"] / "imgsearch-onnx.json").read_text())
    (broken / "imgsearch-onnx.json").write_text(json.dumps(manifest))
    (broken / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelNotFound, match="could not load ONNX model"):
        Embedder(str(broken), str(broken)).image_encoder()


def test_onnx_backend_needs_no_torch(onnx_models):
    """What the lean bundle runs: torch, transformers and sentence-transformers are never imported."""
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'transformers', 'sentence_transformers'):
            raise ImportError('blocked in this test: ' + name)
sys.meta_path.insert(0, Block())
from PIL import Image
from imgsearch_desktop.core.embedder import Embedder
e = Embedder({str(onnx_models['fp32']['image'])!r}, {str(onnx_models['fp32']['text'])!r})
print(e.encode_images([Image.new('RGB', (90, 70), 'red')]).shape, e.encode_texts(['hi']).shape, e.backend)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(1,", f"{TINY_DIMS})", "(1,", f"{TINY_DIMS})", "onnx"]


def test_index_with_torch_search_with_onnx(es_client, embedder, onnx_models, tmp_path):
    """One index, two backends: an fp32 export finds what torch indexed (same model identity, same alias)."""
    paths = [write_photo(tmp_path / f"p{i}.jpg", seed=700 + i) for i in range(6)]
    store = Store(es_client, "test-onnx-mixed")
    store.open(embedder.model_id, embedder.dims)
    try:
        assert Indexer(store, embedder).run([str(tmp_path)]).indexed == 6
        onnx = onnx_embedder(onnx_models["fp32"])
        again = Store(es_client, "test-onnx-mixed")
        again.open(onnx.model_id, onnx.dims, create=False)
        assert again.index == store.index
        query = onnx.encode_images([load_file(paths[4], onnx.image_size).loaded.image])[0]
        hits = again.knn(query, k=3)
        assert hits[0].path == str(paths[4]) and hits[0].score > 0.999
    finally:
        store.drop()
