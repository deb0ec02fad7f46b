"""Backends side by side in one run: torch fp32 vs ONNX Runtime fp32 vs ONNX Runtime int8 (each int8 recipe).

Full-size random-init models (same compute as the real weights): the ViT-B/32 image tower and a 6-layer,
768-wide text model (DistilBERT's size) with a 512-d projection. Exports go through packaging/export_onnx.py's code;
int8 in each recipe of ``devtools.onnx_export.INT8_RECIPES`` (the exporter's default is marked).

Reported: pure model rate P per backend (pre-decoded images at the model's input size, batch 32, warm, best of 3),
its ratio to torch fp32, one photo's encode (a query: p50 of 15), and, where the CPU has AMX bf16, torch under bf16
autocast beside int8; vector agreement with torch (cosine, min/mean) on 12 MP photos and on sentences, export
sizes — on this CPU; then the int8 agreement again on an emulated x86-64 CPU without VNNI (``qemu-x86_64 -cpu
Haswell-noTSX``: AVX2 only, where ONNX Runtime's u8 × s8 kernel saturates int16 pair sums), when qemu-user is
installed. Emulated speed means nothing; emulated results are the real CPU's (the same kernels, chosen by CPUID).

    .venv/bin/python benchmarks/onnx_backends.py [--n 64] [--recipes s8,s8-rr,s8-pc-rr,u8] [--emulate Haswell-noTSX]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import CACHE, cpu_info, cpu_line, full_size_models, onnx_export, photo_folder, print_table, timed

from imgsearch_desktop.core import images
from imgsearch_desktop.core.embedder import Embedder
from imgsearch_desktop.devtools.onnx_export import INT8_RECIPE, INT8_RECIPES
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


def encode_files(image: str, text: str, files: list[str], out: str) -> None:
    """Run in the emulated CPU: the export's vectors for these photos and SENTENCES, and the CPU it saw."""
    embedder = Embedder(image, text, device="cpu", batch_size=8)
    photos = [images.load_file(Path(f), embedder.image_size).loaded.image for f in files]
    np.savez(out, images=embedder.encode_images(photos), texts=embedder.encode_texts(SENTENCES),
             cpu=np.array(cpu_line()))


def emulated(cpu: str, folders: dict[str, Path], files: list[Path], work: Path) -> tuple[np.ndarray, np.ndarray, str]:
    out = work / f"{folders['image'].parent.name}.npz"
    subprocess.run(["qemu-x86_64", "-cpu", cpu, sys.executable, __file__, "--encode", str(folders["image"]),
                    str(folders["text"]), str(out), *map(str, files)], check=True, stderr=subprocess.DEVNULL)
    data = np.load(out)
    return data["images"], data["texts"], str(data["cpu"])


def precision(name: str) -> contextlib.AbstractContextManager:
    """torch's bf16 autocast for the bf16 row (AMX's tile unit runs bf16 matrix products), else nothing."""
    if "bf16" not in name:
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)  # a bf16 run's vectors come back rounded: measure them whole
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def cos(a: np.ndarray, b: np.ndarray) -> str:
    c = (a * b).sum(1)
    return f"{c.min():.5f} / {c.mean():.5f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64, help="images for the model rate")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per backend: the best counts")
    ap.add_argument("--recipes", default=",".join(INT8_RECIPES), help="int8 recipes (comma-separated)")
    ap.add_argument("--emulate", default="Haswell-noTSX" if shutil.which("qemu-x86_64") else "",
                    help="qemu CPU model for the agreement on a CPU without VNNI ('' to skip)")
    ap.add_argument("--emulate-n", type=int, default=4, help="photos encoded under emulation (slow)")
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=cpu_info()[1].get("amx_bf16", False),
                    help="also torch with bf16 autocast (default: where the CPU has AMX bf16)")
    ap.add_argument("--encode", nargs="+", help=argparse.SUPPRESS)  # IMAGE TEXT OUT FILE...: the emulated run
    args = ap.parse_args()
    if args.encode:
        encode_files(args.encode[0], args.encode[1], args.encode[3:], args.encode[2])
        return 0

    clip, _ = full_size_models()
    text = text_model_full_size()
    torch_embedder = Embedder(clip, text, device="cpu", batch_size=args.batch)
    size = torch_embedder.image_size
    files = sorted(photo_folder(args.n).glob("*.jpg"))[:args.n]
    photos = [images.load_file(f, size).loaded.image for f in files]
    pre = [im.resize((size, size)) for im in photos]
    print(f"{len(pre)} images at {size}px, batch {args.batch}; agreement on 16 photos and {len(SENTENCES)} sentences")

    backends = {"torch fp32": (torch_embedder, None), "onnx fp32": (None, onnx_export(clip, text, int8=False))}
    if args.bf16:
        backends["torch bf16 (autocast)"] = (torch_embedder, None)
    for recipe in args.recipes.split(","):
        mark = " (the exporter's)" if recipe == INT8_RECIPE else ""
        backends[f"onnx int8 {recipe}{mark}"] = (None, onnx_export(clip, text, int8=True, recipe=recipe))

    reference_images = torch_embedder.encode_images(photos[:16])
    reference_texts = torch_embedder.encode_texts(SENTENCES)
    rows, rates = [], {}
    for name, (embedder, folders) in backends.items():
        if folders:
            embedder = Embedder(str(folders["image"]), str(folders["text"]), device="cpu", batch_size=args.batch)
        with precision(name):
            embedder.encode_images(pre[:8])  # warm-up
            rates[name] = len(pre) / min(timed(lambda e=embedder: e.image_encoder().encode(pre, args.batch))
                                         for _ in range(args.repeat))  # best of: the machine may be shared
            one = sorted(timed(lambda e=embedder, im=im: e.image_encoder().encode([im], 1)) for im in pre[:15])
            got_images, got_texts = embedder.encode_images(photos[:16]), embedder.encode_texts(SENTENCES)
        sizes = f"image {size_mb(folders['image']):.0f} MB, text {size_mb(folders['text']):.0f} MB" if folders else ""
        rows.append((name, f"{rates[name]:.1f} img/s", f"{rates[name] / rates['torch fp32']:.2f} × torch",
                     f"{1000 * one[len(one) // 2]:.1f} ms", cos(unit(got_images), reference_images),
                     cos(unit(got_texts), reference_texts), sizes))
    print_table(("backend", "P (pure model)", "ratio", "one photo, p50", "image cos min / mean",
                 "text cos min / mean", "files"), rows)

    if args.emulate:
        n = min(args.emulate_n, 16)
        rows, cpu = [], ""
        with tempfile.TemporaryDirectory() as work:
            for name, (_, folders) in backends.items():
                if folders and "int8" in name:  # fp32 has no integer kernels (and is slow to emulate)
                    got_images, got_texts, cpu = emulated(args.emulate, folders, files[:n], Path(work))
                    rows.append((name, cos(got_images, reference_images[:n]), cos(got_texts, reference_texts)))
        print(f"\nThe same exports on an emulated CPU (qemu-x86_64 -cpu {args.emulate}), {n} photos, vs torch here:")
        print_table(("backend", "image cos min / mean", "text cos min / mean"), rows, cpu=cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
