"""Export the image tower and the text model to ONNX for the packaged app (needs torch; the app itself does not).

Each model loads through the app's own torch loader (``encoders.load_model``) and is traced whole — the
sentence-transformers module stack, so pooling and projection come along — into ``<out>/<kind>/model.onnx`` with
``imgsearch-onnx.json`` (kind, source, dims, preprocessing) and, for text, ``tokenizer.json``. Optional int8 dynamic
quantisation of the weights (ONNX Runtime's ``quantize_dynamic``), with a recipe that is right on every x86-64 CPU.

Why the recipe matters: dynamic int8 multiplies uint8 activations by int8 weights. On x86-64 CPUs without VNNI
(AVX2, and AVX-512 before Cascade Lake) ONNX Runtime's kernel uses ``vpmaddubsw``, which adds each pair of
u8 × s8 products into a *saturating* int16: 255 × 127 × 2 = 64,770 does not fit, and the sum is clamped to 32,767.
Full-range weights therefore give wrong vectors on those CPUs only (measured under an emulated AVX2 CPU: tiny-model
text agreement 0.971 instead of 0.9999; the same figure a real AVX2-only CPU gave), while VNNI CPUs accumulate in
int32 and are fine. ``reduce_range`` quantises the weights to 7 bits ([-64, 64]): 255 × 64 × 2 = 32,640 ≤ 32,767,
so no pair sum can overflow on any CPU — the same vectors everywhere — and per-channel scales win back the bit
(ONNX Runtime's quantisation docs: reduce_range "is designed for the U8S8 format on AVX2 and AVX512 (non-VNNI)
machines to mitigate saturation issues"; per_channel on those machines needs reduce_range too).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

from imgsearch_desktop.core.encoders import MANIFEST
from imgsearch_desktop.core.encoders.torch_backend import load_model

OPSET = 17

# quantize_dynamic settings by name: weight type, per-channel scales, 7-bit weights (reduce_range). Activations are
# always uint8, quantised per tensor at run time. Only the recipes with reduce_range (or uint8 weights, which take
# a slower kernel without the pair-sum trick) give the same vectors on CPUs with and without VNNI.
INT8_RECIPES: dict[str, dict] = {
    "s8": {"weights": "int8", "per_channel": False, "reduce_range": False},  # saturates on AVX2 without VNNI
    "s8-rr": {"weights": "int8", "per_channel": False, "reduce_range": True},
    "s8-pc-rr": {"weights": "int8", "per_channel": True, "reduce_range": True},
    "u8": {"weights": "uint8", "per_channel": False, "reduce_range": False},
}
INT8_RECIPE = "s8-pc-rr"  # benchmarks/onnx_backends.py (README, Backends): close to torch with and without VNNI


def _as_module(model, template: dict, names: tuple[str, ...]):
    """A sentence-transformers model as a function of tensors (the non-tensor feature keys held fixed)."""
    import torch

    class Traced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model({**template, **dict(zip(names, tensors, strict=True))})["sentence_embedding"]

    return Traced().eval()


def _export(module, example: tuple, names: tuple[str, ...], dynamic: dict, target: Path) -> None:
    import torch

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter; agreement is checked by tests instead
        torch.onnx.export(module, example, str(target), input_names=list(names), output_names=["embedding"],
                          dynamic_axes={**dynamic, "embedding": {0: "batch"}}, opset_version=OPSET, dynamo=False)


def _write_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def export_image(name: str, out: Path) -> Path:
    from PIL import Image

    model = load_model(name, "cpu")
    out.mkdir(parents=True, exist_ok=True)
    processor = model[0].processor.image_processor
    features = model.preprocess([Image.new("RGB", (320, 240), (120, 90, 60))])
    names = ("pixel_values",)
    template = {k: v for k, v in features.items() if k not in names}
    _export(_as_module(model, template, names), (features["pixel_values"],), names,
            {"pixel_values": {0: "batch"}}, out / "model.onnx")
    crop = processor.crop_size
    _write_manifest(out, {
        "kind": "image", "source": name, "dims": int(model.get_embedding_dimension()), "file": "model.onnx",
        "image_size": int(crop["height"]), "quantization": "",
        "preprocess": {"shortest_edge": int(processor.size["shortest_edge"]), "crop_height": int(crop["height"]),
                       "crop_width": int(crop["width"]), "resample": int(processor.resample),
                       "rescale_factor": float(processor.rescale_factor),
                       "mean": [float(x) for x in processor.image_mean],
                       "std": [float(x) for x in processor.image_std]}})
    return out


def export_text(name: str, out: Path) -> Path:
    model = load_model(name, "cpu")
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = model[0].tokenizer
    features = model.preprocess(["an example sentence", "ein zweiter, etwas längerer Beispielsatz"])
    names = ("input_ids", "attention_mask")
    # token_type_ids: one segment is all zeros, the models' default; keeping the example's tensor would fix its shape.
    template = {k: v for k, v in features.items() if k not in (*names, "token_type_ids")}
    axes = {"batch": 0, "tokens": 1}
    _export(_as_module(model, template, names), tuple(features[n] for n in names), names,
            {n: {v: k for k, v in axes.items()} for n in names}, out / "model.onnx")
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    _write_manifest(out, {
        "kind": "text", "source": name, "dims": int(model.get_embedding_dimension()), "file": "model.onnx",
        "quantization": "", "max_seq_length": int(model.max_seq_length),
        "pad_token": tokenizer.pad_token, "pad_token_id": int(tokenizer.pad_token_id)})
    return out


def quantize_int8(folder: Path, recipe: str = INT8_RECIPE) -> Path:
    """Replace the folder's model with int8 dynamically quantised weights (activations quantised at run time);
    the manifest records the recipe."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings = INT8_RECIPES[recipe]
    source = folder / "model.onnx"
    fp32 = folder / "model-fp32.onnx"
    source.replace(fp32)
    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.ERROR)  # quantize_dynamic's "consider pre-processing" warning on the root logger
    try:
        quantize_dynamic(str(fp32), str(source), per_channel=settings["per_channel"],
                         reduce_range=settings["reduce_range"],
                         weight_type=QuantType.QUInt8 if settings["weights"] == "uint8" else QuantType.QInt8)
    finally:
        root.setLevel(level)
    fp32.unlink()
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    _write_manifest(folder, {**manifest, "quantization": "int8",
                             "int8_recipe": {"name": recipe, **settings, "activations": "uint8, dynamic"}})
    return folder


def export_pair(image_model: str, text_model: str, out: Path, int8: bool = False,
                recipe: str = INT8_RECIPE) -> dict[str, Path]:
    """``out/image`` and ``out/text``, replacing what was there."""
    folders = {"image": out / "image", "text": out / "text"}
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
    export_image(image_model, folders["image"])
    export_text(text_model, folders["text"])
    if int8:
        for folder in folders.values():
            quantize_int8(folder, recipe)
    return folders
