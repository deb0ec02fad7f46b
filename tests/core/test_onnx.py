"""The ONNX Runtime backend (the packaged app's) against the torch backend, on exports made by the packaging code."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys

import numpy as np
import pytest

from imgsearch_desktop.core.embedder import Embedder
from imgsearch_desktop.core.images import load_file
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import Store
from imgsearch_desktop.errors import ModelNotFound
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
    assert manifest["int8_recipe"]["reduce_range"] is True  # 7-bit weights: no int16 saturation without VNNI
    assert (onnx_models["int8"]["image"] / "model.onnx").stat().st_size < \
        (onnx_models["fp32"]["image"] / "model.onnx").stat().st_size


AVX2_ONLY = "Haswell-noTSX"  # an x86-64 CPU without AVX-512 and VNNI, where int8 pair sums can saturate


@pytest.mark.skipif(platform.machine() != "x86_64" or not shutil.which("qemu-x86_64"),
                    reason="needs qemu-user on x86-64 (make test installs it)")
def test_int8_export_agrees_on_a_cpu_without_vnni(embedder, onnx_models, tmp_path):
    """The same int8 export on an emulated AVX2-only CPU (ONNX Runtime picks its kernels by CPUID, so qemu-user
    runs the very kernels such a CPU runs): the exporter's recipe must agree as well there as here. (The old
    full-range recipe gave text agreement 0.971 there, as a real AVX2-only CPU did.)"""
    folders = onnx_models["int8"]
    image_ref, text_ref = (embedder.encode_images([picture(s, z) for s, z in enumerate(SIZES)]),
                           embedder.encode_texts(SENTENCES))
    code = f"""
import sys, numpy as np
sys.path.insert(0, {os.getcwd()!r})
from numpy._core._multiarray_umath import __cpu_features__ as cpu
from imgsearch_desktop.core.embedder import Embedder
from tests.photos import picture
from tests.core.test_onnx import SENTENCES, SIZES
onnx = Embedder({str(folders['image'])!r}, {str(folders['text'])!r}, device="cpu", batch_size=3)
np.savez({str(tmp_path / 'out.npz')!r}, images=onnx.encode_images([picture(s, z) for s, z in enumerate(SIZES)]),
         texts=onnx.encode_texts(SENTENCES), vnni=cpu.get("AVX512VNNI", False), avx512=cpu.get("AVX512F", False))
"""
    out = subprocess.run(["qemu-x86_64", "-cpu", AVX2_ONLY, sys.executable, "-c", code], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    got = np.load(tmp_path / "out.npz")
    assert not got["vnni"] and not got["avx512"]  # the emulated CPU really lacks them
    image_cos, text_cos = (got["images"] * image_ref).sum(1), (got["texts"] * text_ref).sum(1)
    print(f"int8 agreement on {AVX2_ONLY}: images min {image_cos.min():.6f}, texts min {text_cos.min():.6f}")
    assert image_cos.min() >= 0.99 and text_cos.min() >= 0.99
    # Saturation-free by construction: the same vectors as on this CPU (up to float rounding in other kernels).
    here = onnx_embedder(folders)
    assert (got["texts"] * here.encode_texts(SENTENCES)).sum(1).min() >= 0.999


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


# What the lean bundle is: torch, transformers and sentence-transformers cannot be imported.
NO_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'transformers', 'sentence_transformers'):
            raise ImportError('blocked in this test: ' + name)
sys.meta_path.insert(0, Block())
"""


def run_without_torch(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_TORCH + code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.getcwd(), **env})


def test_onnx_backend_needs_no_torch(onnx_models):
    """What the lean bundle runs: torch, transformers and sentence-transformers are never imported."""
    out = run_without_torch(f"""
from PIL import Image
from imgsearch_desktop.core.embedder import Embedder
e = Embedder({str(onnx_models['fp32']['image'])!r}, {str(onnx_models['fp32']['text'])!r})
print(e.encode_images([Image.new('RGB', (90, 70), 'red')]).shape, e.encode_texts(['hi']).shape, e.backend)
""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(1,", f"{TINY_DIMS})", "(1,", f"{TINY_DIMS})", "onnx"]


def test_a_model_without_an_export_is_one_plain_sentence_without_torch(tiny_models, onnx_models, tmp_path):
    """The lean bundle given a model it has no export of (a sentence-transformers folder, a hub name not bundled):
    exit 4 and one sentence naming the model and what to do — not torch's ModuleNotFoundError."""
    exports = str(onnx_models["fp32"]["image"].parent)
    bundled = str(tiny_models["clip"])  # the exports' source: what the settings name to use them
    for model in (str(tiny_models["text16"]), "someone/a-model-not-bundled"):
        # self-test loads the models first; the unreachable --es-url proves nothing else was needed on the way.
        out = run_without_torch(
            f"from imgsearch_desktop.cli import main; sys.exit(main(['self-test', '--text-model', {model!r}, "
            f"'--image-model', {bundled!r}, '--es-url', 'http://127.0.0.1:9']))", IMGSEARCH_MODEL_DIR=exports,
            IMGSEARCH_HOME=str(tmp_path / "home"))
        assert out.returncode == 4, out.stderr
        assert "Traceback" not in out.stderr and "torch" not in out.stderr.lower(), out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, out.stderr
        assert f"the text model {model!r}" in lines[0], lines[0]
        assert f"use the bundled text model ({tiny_models['text']})" in lines[0], lines[0]
        assert "packaging/export_onnx.py" in lines[0] and lines[0].endswith(".")

    # The window reports it through the worker's failed signal: the same sentence.
    out = run_without_torch(f"""
from imgsearch_desktop.core.embedder import Embedder
from imgsearch_desktop.errors import ModelNotFound
try:
    Embedder({bundled!r}, {str(tiny_models['text16'])!r}).load_both()
except ModelNotFound as exc:
    print(type(exc).__name__, exc.exit_code, str(exc))
""", IMGSEARCH_MODEL_DIR=exports)
    assert out.stdout.startswith("ModelNotFound 4 This build runs only ONNX exports"), out.stdout + out.stderr


def test_index_with_torch_search_with_onnx(es_client, embedder, onnx_models, tmp_path):
    """One index, two backends: an fp32 export finds what torch indexed (same model identity, same alias)."""
    paths = [write_photo(tmp_path / f"p{i}.jpg", seed=700 + i) for i in range(6)]
    store = Store(es_client, "test-onnx-mixed")
    store.use_index(embedder.model_id, embedder.dims)
    try:
        assert Indexer(store, embedder).run([str(tmp_path)]).indexed == 6
        onnx = onnx_embedder(onnx_models["fp32"])
        again = Store(es_client, "test-onnx-mixed")
        again.use_index(onnx.model_id, onnx.dims, create=False)
        assert again.index == store.index
        query = onnx.encode_images([load_file(paths[4], onnx.image_size).loaded.image])[0]
        hits = again.knn(query, k=3)
        assert hits[0].path == str(paths[4]) and hits[0].score > 0.999
    finally:
        store.drop()
