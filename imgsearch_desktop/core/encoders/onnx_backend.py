"""ONNX Runtime encoders for exports made by ``packaging/export_onnx.py`` (no torch, no transformers).

The export folder holds ``model.onnx`` and ``imgsearch-onnx.json`` (kind, source model, dims, preprocessing), plus
``tokenizer.json`` for text. Preprocessing repeats the CLIP image processor's steps (shortest edge → bicubic
resize, centre crop, 1/255, mean/std) and the sentence-transformers tokenisation (truncate to max_seq_length), so
vectors agree with the torch path (tests/core/test_onnx.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from imgsearch_desktop.core.encoders.base import Encoder, normalise
from imgsearch_desktop.errors import ModelNotFound


def _session(model_file: Path, device: str):
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ModelNotFound(f"{model_file.parent} is an ONNX export but onnxruntime is not installed") from exc
    if not model_file.exists():
        raise ModelNotFound(f"ONNX export incomplete: {model_file} missing")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    threads = os.environ.get("IMGSEARCH_ONNX_THREADS")
    if threads:
        options.intra_op_num_threads = int(threads)
    # Idle ONNX Runtime threads would spin between batches, taking the cores the decode threads need
    # (measured by benchmarks/ingest.py: README, Ingest).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    available = ort.get_available_providers()
    providers = ["CPUExecutionProvider"]
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(model_file), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types for a corrupt or foreign file
        raise ModelNotFound(f"could not load ONNX model {model_file}: {str(exc).splitlines()[0]}") from exc


class OnnxEncoder:
    backend = "onnx"

    def __init__(self, folder: Path, manifest: dict, device: str) -> None:
        self.session = _session(folder / manifest.get("file", "model.onnx"), device)
        self.device = "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"
        self.dims = int(manifest["dims"])
        self.image_size = int(manifest.get("image_size", 0))
        self.quantization = manifest.get("quantization", "")
        # An fp32 export is the same model as its source (vectors agree to ≥ 0.999); int8 is not: own index.
        self.model_id = manifest["source"] + (f"+{self.quantization}" if self.quantization else "")
        self.output = self.session.get_outputs()[0].name

    def encode(self, inputs: Sequence, batch_size: int) -> np.ndarray:
        inputs = list(inputs)
        chunks = [self._run(inputs[i:i + batch_size]) for i in range(0, len(inputs), max(1, batch_size))]
        return normalise(np.concatenate(chunks) if chunks else np.zeros((0, self.dims), np.float32))

    def _run(self, batch: list) -> np.ndarray:
        raise NotImplementedError


class OnnxImageEncoder(OnnxEncoder):
    def __init__(self, folder: Path, manifest: dict, device: str) -> None:
        super().__init__(folder, manifest, device)
        pre = manifest["preprocess"]
        self.shortest_edge = int(pre["shortest_edge"])
        self.crop = (int(pre["crop_height"]), int(pre["crop_width"]))
        self.resample = Image.Resampling(int(pre.get("resample", Image.Resampling.BICUBIC)))
        self.scale = np.float32(pre.get("rescale_factor", 1 / 255))
        self.mean = np.asarray(pre["mean"], np.float32).reshape(3, 1, 1)
        self.std = np.asarray(pre["std"], np.float32).reshape(3, 1, 1)

    def pixels(self, image: Image.Image) -> np.ndarray:
        """One PIL image → (3, h, w) float32, as the CLIP image processor makes it."""
        image = image.convert("RGB")
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(self.shortest_edge * long / short)
        size = (self.shortest_edge, new_long) if width <= height else (new_long, self.shortest_edge)
        image = image.resize(size, resample=self.resample)
        crop_h, crop_w = self.crop
        top, left = (size[1] - crop_h) // 2, (size[0] - crop_w) // 2
        array = np.asarray(image, dtype=np.float32)[top:top + crop_h, left:left + crop_w].transpose(2, 0, 1)
        return (array * self.scale - self.mean) / self.std

    def _run(self, batch: list) -> np.ndarray:
        pixel_values = np.stack([self.pixels(image) for image in batch])
        return self.session.run([self.output], {"pixel_values": pixel_values})[0]


class OnnxTextEncoder(OnnxEncoder):
    def __init__(self, folder: Path, manifest: dict, device: str) -> None:
        super().__init__(folder, manifest, device)
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(manifest["max_seq_length"]))
        self.tokenizer.enable_padding(pad_id=int(manifest.get("pad_token_id", 0)),
                                      pad_token=manifest.get("pad_token", "[PAD]"))
        self.inputs = {i.name for i in self.session.get_inputs()}

    def _run(self, batch: list) -> np.ndarray:
        encoded = self.tokenizer.encode_batch([str(text) for text in batch])
        feeds = {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64)}
        return self.session.run([self.output], {k: v for k, v in feeds.items() if k in self.inputs})[0]


def open_onnx(folder: Path, manifest: dict, kind: str, device: str = "auto") -> Encoder:
    if manifest.get("kind") != kind:
        raise ModelNotFound(f"{folder} holds an ONNX {manifest.get('kind')!r} model, not an {kind} model")
    return (OnnxImageEncoder if kind == "image" else OnnxTextEncoder)(folder, manifest, device)
