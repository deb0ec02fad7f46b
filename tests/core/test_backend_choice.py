"""The backend by agreement: int8 where its export agrees with torch on this CPU, made once and kept; never mixed
into a torch index. Real exports of the tiny models (a few seconds each: the module makes one and copies it)."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest

from imgsearch_desktop.core.embedder import Embedder
from imgsearch_desktop.core.encoders import MANIFEST, choice
from imgsearch_desktop.core.images import load_file
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import Store
from imgsearch_desktop.devtools import onnx_export
from tests.photos import write_photo

# Tiny random models agree with their int8 exports a little less than real ones (≥ 0.9998 here, test_onnx.py's
# floor is 0.99 on an AVX2-only CPU): the choice is tested against a threshold they meet on any CPU.
TINY_AGREEMENT = 0.99


def auto_embedder(tiny_models, exports, backend: str = "auto", notes: list | None = None) -> Embedder:
    def progress(done: int, total: int, note: str) -> bool:
        if notes is not None:
            notes.append((done, total, note))
        return True

    return Embedder(str(tiny_models["clip"]), str(tiny_models["text"]), device="cpu", batch_size=4,
                    backend=backend, exports=exports, progress=progress)


def _counting(made: list[str], name: str, real):
    def counted(*args, **kwargs):
        made.append(name)
        return real(*args, **kwargs)
    return counted


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """Every export and every agreement check made (wrapped around the real ones)."""
    made: list[str] = []
    for module, name in ((onnx_export, "export_image"), (onnx_export, "export_text"), (choice, "measure")):
        monkeypatch.setattr(module, name, _counting(made, name, getattr(module, name)))
    return made


@pytest.fixture(scope="module")
def made_once(tiny_models, tmp_path_factory):
    """One auto start's exports (exported and checked on this CPU), for the tests to copy."""
    root = tmp_path_factory.mktemp("exports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(choice, "AGREEMENT", TINY_AGREEMENT)
        auto_embedder(tiny_models, root).prepare()
    return root


@pytest.fixture
def exports(made_once, tmp_path, monkeypatch):
    monkeypatch.setattr(choice, "AGREEMENT", TINY_AGREEMENT)
    shutil.copytree(made_once, tmp_path / "models")
    return tmp_path / "models"


def test_auto_exports_once_with_progress_and_runs_int8_where_it_agrees(tiny_models, tmp_path, monkeypatch, calls):
    monkeypatch.setattr(choice, "AGREEMENT", TINY_AGREEMENT)
    notes: list = []
    first = auto_embedder(tiny_models, tmp_path / "models", notes=notes)
    assert first.backend == "onnx" and first.text_encoder().backend == "onnx"  # the first load prepares
    assert first.model_id == f"{tiny_models['clip']}+int8"  # its own model: its own index
    assert sorted(calls) == ["export_image", "export_text", "measure", "measure"]
    assert notes and notes[-1][0] == notes[-1][1] and any("once" in note for _, _, note in notes)
    manifest = json.loads((choice.export_folder(tmp_path / "models", str(tiny_models["clip"]), "image")
                           / MANIFEST).read_text())
    assert manifest["quantization"] == "int8" and manifest["int8_recipe"]["name"] == onnx_export.INT8_RECIPE
    assert manifest["agreement"]["cpu"] == choice.cpu_identity() and manifest["agreement"]["cpu"]["flags"]
    assert manifest["agreement"]["min_cosine"] >= TINY_AGREEMENT
    calls.clear()
    second = auto_embedder(tiny_models, tmp_path / "models")  # the next start
    assert second.backend == "onnx" and second.model_id == first.model_id
    assert calls == []  # neither exported nor checked again


def test_a_recipe_that_fails_the_agreement_check_is_not_used(tiny_models, exports, monkeypatch, calls):
    monkeypatch.setattr(choice, "AGREEMENT", 1.000001)  # no export can agree that well
    embedder = auto_embedder(tiny_models, exports)
    assert embedder.backend == "torch" and embedder.text_encoder().backend == "torch"
    assert embedder.model_id == str(tiny_models["clip"])
    assert "int8 agrees with torch to" in embedder.choice.why and calls == []
    forced = auto_embedder(tiny_models, exports, backend="onnx-int8")  # the setting overrides the rule
    assert forced.backend == "onnx" and forced.model_id.endswith("+int8")
    assert auto_embedder(tiny_models, exports, backend="torch").backend == "torch"


def test_a_broken_export_fails_the_check_and_is_not_used(tiny_models, exports, calls):
    """An export that gives other vectors (its preprocessing damaged) or none (its model file another model's)."""
    image = choice.export_folder(exports, str(tiny_models["clip"]), "image")
    text = choice.export_folder(exports, str(tiny_models["text"]), "text")
    manifest = json.loads((image / MANIFEST).read_text())
    manifest["preprocess"]["mean"], manifest["preprocess"]["std"] = [0.9, 0.1, 0.5], [0.05, 0.5, 2.0]
    del manifest["agreement"]  # as if never checked
    (image / MANIFEST).write_text(json.dumps(manifest))
    text_manifest = json.loads((text / MANIFEST).read_text())
    del text_manifest["agreement"]
    (text / MANIFEST).write_text(json.dumps(text_manifest))
    shutil.copy(image / "model.onnx", text / "model.onnx")  # an image model where the text model should be
    embedder = auto_embedder(tiny_models, exports)
    assert embedder.backend == "torch" and embedder.text_encoder().backend == "torch"
    assert calls == ["measure", "measure"]
    assert json.loads((image / MANIFEST).read_text())["agreement"]["min_cosine"] < TINY_AGREEMENT
    assert "error" in json.loads((text / MANIFEST).read_text())["agreement"]


def test_a_manifest_from_another_cpu_is_checked_again(tiny_models, exports, calls):
    folder = choice.export_folder(exports, str(tiny_models["clip"]), "image")
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["agreement"]["cpu"] = {"model": "Some Other CPU", "machine": "x86_64", "flags": ["avx2", "sse4_2"]}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    embedder = auto_embedder(tiny_models, exports)
    assert embedder.backend == "onnx"
    assert calls == ["measure"]  # the image tower checked again on this CPU, not exported again
    assert json.loads((folder / MANIFEST).read_text())["agreement"]["cpu"] == choice.cpu_identity()


def test_switching_to_int8_re_embeds_into_its_own_index_never_mixed(es_client, embedder, tiny_models, exports,
                                                                    tmp_path):
    root = tmp_path / "Pictures"
    paths = [write_photo(root / f"p{i}.jpg", seed=300 + i, size=(320, 240)) for i in range(6)]
    alias = f"test-{uuid.uuid4().hex[:10]}"
    try:
        torch_store = Store(es_client, alias, retry_for=5)
        torch_index = torch_store.use_index(embedder.model_id, embedder.dims)
        assert Indexer(torch_store, embedder, batch_size=4).run([root]).indexed == 6

        fast = auto_embedder(tiny_models, exports)
        assert fast.backend == "onnx"
        int8_store = Store(es_client, alias, retry_for=5)
        int8_index = int8_store.use_index(fast.model_id, fast.dims)
        assert int8_index != torch_index and int8_store.migrate_from == torch_index
        assert Indexer(int8_store, fast, batch_size=4).run([root]).indexed == 6  # re-embedded, not copied
        assert es_client.indices.get_mapping(index=int8_index)[int8_index]["mappings"]["_meta"]["model"] == \
            fast.model_id
        assert set(es_client.indices.get_alias(name=alias)) == {int8_index}  # the torch index is gone
        query = fast.encode_images([load_file(paths[0], fast.image_size).loaded.image])[0]
        raw = es_client.search(index=alias, knn={"field": "image_embedding", "query_vector": query.tolist(),
                                                 "k": 6, "num_candidates": 50}, size=6)["hits"]["hits"]
        assert len(raw) == 6 and {h["_index"] for h in raw} == {int8_index}
    finally:
        for name in es_client.indices.get(index=f"{alias}-*"):
            es_client.indices.delete(index=name)


def test_a_start_on_made_exports_never_imports_torch(tiny_models, exports):
    """Asking whether the exporter is installed must not import it: torch and sentence-transformers took most of
    the window's memory on every start, also when ONNX Runtime runs the exports made long ago ([W] issue 23)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from imgsearch_desktop.core.embedder import Embedder\n"
        "from imgsearch_desktop.core.encoders import choice\n"
        f"choice.AGREEMENT = {TINY_AGREEMENT}\n"
        f"e = Embedder({str(tiny_models['clip'])!r}, {str(tiny_models['text'])!r}, device='cpu', batch_size=4,"
        f" backend='auto', exports=Path({str(exports)!r}))\n"
        "e.load_both()\n"
        "print(e.backend, e.text_encoder().backend, e.dims)\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'onnx') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    backends, imported = out.stdout.strip().splitlines()[-2:]
    assert backends == "onnx onnx 32"
    assert imported == "[]", out.stdout
