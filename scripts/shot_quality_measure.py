"""Measure the burst pick on real photographs: every wallpaper × several bursts of one clean frame and damaged ones
(tests/burst_frames.py). Prints each frame's measures and the pick accuracy. Run from the repository root:
    PYTHONPATH=$PWD .venv/bin/python scripts/shot_quality_measure.py [BURSTS_PER_PHOTO]
"""

from __future__ import annotations

import io
import itertools
import sys
import time

import numpy as np
from PIL import Image

from imgsearch_desktop.core import images, shot_quality
from tests import burst_frames as bf


def jpeg(im: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def main() -> int:
    per_photo = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    names = list(bf.DAMAGES)
    combos = list(itertools.combinations(names, 4))
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 28)
    model = shot_quality.default_eye_model()
    right = total = 0
    started = time.perf_counter()
    frames_done = 0
    for path in [*bf.PHOTOS, bf.FACES / "obama.jpg", bf.FACES / "biden.jpg", bf.FACES / "astronaut.png"]:
        source = bf.load(path)
        for _ in range(per_photo):
            damages = list(combos[rng.integers(len(combos))])
            clean_at = int(rng.integers(len(damages) + 1))
            labels = list(damages)
            labels.insert(clean_at, "clean")
            scores = []
            for label in labels:
                im = bf.frame(source, rng)
                if label != "clean":
                    im = bf.DAMAGES[label](im, rng)
                im = images.shrink(jpeg(im), shot_quality.ANALYSIS_SHORT)
                scores.append(shot_quality.measure(im, model))
                frames_done += 1
            pick = shot_quality.rank(scores)
            total += 1
            right += pick == clean_at
            mark = "ok " if pick == clean_at else "BAD"
            print(f"{mark} {path.name:18s} pick={labels[pick]!r}")
            for label, s in zip(labels, scores, strict=True):
                print(f"      {label:22s} sharp={s.sharpness:.4f} aniso={s.anisotropy:.3f} noise={s.noise:5.2f} "
                      f"bright={s.brightness:.2f} clip={s.clipped:.3f} faces={len(s.faces)} "
                      f"eyes={s.eyes if s.eyes is None else round(s.eyes, 3)} total={s.score:.3f}  {s.why}")
    seconds = time.perf_counter() - started
    print(f"pick = the clean frame in {right}/{total} bursts ({right / total:.1%}); "
          f"{frames_done / seconds:.1f} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
