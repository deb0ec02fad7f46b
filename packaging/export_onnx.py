"""Export the configured models to ONNX for the packaged app (run with the development .venv: it needs torch).

    .venv/bin/python packaging/export_onnx.py --out build/models [--int8]
        [--image-model sentence-transformers/clip-ViT-B-32]
        [--text-model sentence-transformers/clip-ViT-B-32-multilingual-v1]

Writes OUT/image and OUT/text (model.onnx, imgsearch-onnx.json, tokenizer.json). Point the app at them with
IMGSEARCH_MODEL_DIR=OUT (hub names in the settings then resolve to these exports), or bundle them with
packaging/build.sh --models OUT.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from imgsearch_desktop.config import DEFAULT_IMAGE_MODEL, DEFAULT_TEXT_MODEL
from imgsearch_desktop.devtools.onnx_export import export_pair


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--image-model", default=DEFAULT_IMAGE_MODEL, help="hub name or sentence-transformers folder")
    ap.add_argument("--text-model", default=DEFAULT_TEXT_MODEL, help="hub name or sentence-transformers folder")
    ap.add_argument("--int8", action="store_true",
                    help="int8 dynamic quantisation of the weights (7-bit, per-channel: the same vectors on CPUs "
                         "with and without VNNI; recorded in imgsearch-onnx.json)")
    args = ap.parse_args()
    start = time.perf_counter()
    folders = export_pair(args.image_model, args.text_model, args.out, int8=args.int8)
    for kind, folder in folders.items():
        size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        print(f"{kind}: {folder} ({size:.0f} MB)")
    print(f"exported in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
