"""Backends side by side in one run: torch fp32 vs ONNX Runtime fp32 vs ONNX Runtime int8.

Full-size random-init models (same compute as the real weights): the ViT-B/32 image tower and a 6-layer,
768-wide text model (DistilBERT's size) with a 512-d projection. Exports go through packaging/export_onnx.py's code.

Reported: pure model rate P per backend (pre-decoded images at the model's input size, batch 32, warm), its ratio
to torch fp32, vector agreement with torch (cosine, min/mean) on 12 MP photos and on sentences, export sizes.

    .venv/bin/python benchmarks/onnx_backends.py [--n 64]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ingest import CACHE, full_size_models, onnx_export, photo_folder, print_table, timed

from imgsearch_desktop.core import images
from imgsearch_desktop.core.embedder import Embedder
from imgsearch_desktop.devtools.random_models import build_multilingual_text

SENTENCES = ["a dog running on the beach", "un chat noir dormant sur un canapé", "ein rotes Auto vor dem Haus",
             "montañas nevadas al atardecer", "夕日の海辺を歩く人", "a birthday cake with candles " * 8]


def text_model_full_size() -> str:
    folder = CACHE / "models" / "text-random-distil-size"
    if not (folder / "modules.json").exists():
        build_multilingual_text(folder, dims=512, hidden=768, layers=6, heads=12)
    return str(folder)


def size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir()) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64, help="images for the model rate")
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()

    clip, _ = full_size_models()
    text = text_model_full_size()
    torch_embedder = Embedder(clip, text, device="cpu", batch_size=args.batch)
    size = torch_embedder.image_size
    files = sorted(photo_folder(args.n).glob("*.jpg"))[:args.n]
    photos = [images.load_file(f, size).loaded.image for f in files]
    pre = [im.resize((size, size)) for im in photos]
    print(f"cpus {os.cpu_count()}, {len(pre)} images at {size}px, batch {args.batch}")

    backends = {"torch fp32": (torch_embedder, None)}
    for int8 in (False, True):
        folders = onnx_export(clip, text, int8)
        embedder = Embedder(str(folders["image"]), str(folders["text"]), device="cpu", batch_size=args.batch)
        backends["onnx int8" if int8 else "onnx fp32"] = (embedder, folders)

    reference_images = torch_embedder.encode_images(photos[:16])
    reference_texts = torch_embedder.encode_texts(SENTENCES)
    rows = []
    rates: dict[str, float] = {}
    for name, (embedder, folders) in backends.items():
        embedder.encode_images(pre[:8])  # warm-up
        rates[name] = len(pre) / timed(lambda e=embedder: e.image_encoder().encode(pre, args.batch))
        img_cos = (embedder.encode_images(photos[:16]) * reference_images).sum(1)
        txt_cos = (embedder.encode_texts(SENTENCES) * reference_texts).sum(1)
        sizes = f"image {size_mb(folders['image']):.0f} MB, text {size_mb(folders['text']):.0f} MB" if folders else ""
        rows.append((name, f"{rates[name]:.1f} img/s", f"{rates[name] / rates['torch fp32']:.2f} × torch",
                     f"{img_cos.min():.5f} / {img_cos.mean():.5f}", f"{txt_cos.min():.5f} / {txt_cos.mean():.5f}",
                     sizes))

    print_table(("backend", "P (pure model)", "ratio", "image cos min/mean", "text cos min/mean", "files"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
