"""Memory: the app's RSS idle and while indexing a 100,000-photo folder, and the Elasticsearch node's heap.

- Idle: the real window (offscreen) with the models loaded and nothing to do, for each backend: torch with the
  full-size random-init ViT-B/32 + text model, and the packaged app's ONNX int8 exports of them; and the default
  setting (backend auto) with the tiny models, at its first start (it makes the int8 exports) and the next.
- Indexing: ``imgsearch-desktop index`` (the app's pipeline, as a user runs it) over N small real JPEGs with the
  tiny model (so the run is about the app's own memory, not the model's compute), RSS sampled every 0.5 s; the
  node's JVM heap sampled alongside. Flat means: RSS at the end ≈ RSS a quarter of the way in.

    .venv/bin/python benchmarks/memory.py [--n 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from _common import CACHE, full_size_models, node_url, onnx_export, print_table
from PIL import Image

from imgsearch_desktop.core.store import Connection
from imgsearch_desktop.devtools.random_models import build_clip, build_multilingual_text

APP = [sys.executable, "-m", "imgsearch_desktop"]


def small_photos(n: int) -> Path:
    """N distinct small JPEGs (96×72), made once and cached."""
    folder = CACHE / f"small-photos-{n}"
    done = folder / ".complete"
    if done.exists():
        return folder
    rng = np.random.default_rng(0)
    for i in range(n):
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        blocks = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
        Image.fromarray(blocks).resize((96, 72), Image.Resampling.BILINEAR).save(sub / f"p{i:06d}.jpg", quality=85)
    done.touch()
    return folder


def tiny_models() -> tuple[str, str]:
    clip, text = CACHE / "models" / "tiny-clip", CACHE / "models" / "tiny-text"
    if not (clip / "modules.json").exists():
        build_clip(clip, dims=32)
    if not (text / "modules.json").exists():
        build_multilingual_text(text, dims=32)
    return str(clip), str(text)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Sampler(threading.Thread):
    """RSS of a process (and the node's heap) every ``every`` seconds until the process ends."""

    def __init__(self, proc: subprocess.Popen, client, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.proc, self.client, self.every = proc, client, every
        self.samples: list[tuple[float, float, float]] = []  # (seconds, app RSS MB, ES heap MB)

    def run(self) -> None:
        start = time.perf_counter()
        while self.proc.poll() is None:
            stats = self.client.nodes.stats(metric="jvm")["nodes"]
            heap = max(n["jvm"]["mem"]["heap_used_in_bytes"] for n in stats.values()) / 2**20
            self.samples.append((time.perf_counter() - start, rss_mb(self.proc.pid), heap))
            time.sleep(self.every)


def idle_rss(env: dict[str, str], seconds: float) -> float:
    """RSS of the window after ``seconds`` (models loaded, no folders, nothing to index)."""
    proc = subprocess.Popen(APP, env={**env, "QT_QPA_PLATFORM": "offscreen"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(seconds)
        return rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--idle-seconds", type=float, default=40)
    ap.add_argument("--es-url", default=os.environ.get("IMGSEARCH_ES_URL"))
    args = ap.parse_args()
    url = node_url(args.es_url)
    client = Connection(url).client(request_timeout=60)
    base = {**os.environ, "IMGSEARCH_ES_URL": url, "HF_HUB_OFFLINE": "1"}
    rows = []
    aliases = []

    clip, text = full_size_models()
    onnx = onnx_export(clip, text, int8=True)
    for name, (image_model, text_model) in {"torch fp32 (full-size models)": (clip, text),
                                            "onnx int8 (full-size models)": (str(onnx["image"]),
                                                                              str(onnx["text"]))}.items():
        home = CACHE / f"mem-home-{uuid.uuid4().hex[:6]}"
        aliases.append(f"bench-mem-{uuid.uuid4().hex[:6]}")
        env = {**base, "IMGSEARCH_HOME": str(home), "IMGSEARCH_IMAGE_MODEL": image_model,
               "IMGSEARCH_TEXT_MODEL": text_model, "IMGSEARCH_INDEX": aliases[-1]}
        rows.append((f"window idle, {name}", f"{idle_rss(env, args.idle_seconds):.0f} MB RSS"))

    # The default setting (backend auto) with hub-style models: the first start exports int8 (torch needed), the
    # next ones run the exports on ONNX Runtime — and must not import torch just to ask whether it is installed.
    tiny_clip, tiny_text = tiny_models()
    home = CACHE / f"mem-home-{uuid.uuid4().hex[:6]}"
    aliases.append(f"bench-mem-{uuid.uuid4().hex[:6]}")
    env = {**base, "IMGSEARCH_HOME": str(home), "IMGSEARCH_IMAGE_MODEL": tiny_clip, "IMGSEARCH_TEXT_MODEL": tiny_text,
           "IMGSEARCH_INDEX": aliases[-1], "IMGSEARCH_BACKEND": "auto"}
    for start in ("first start: makes the int8 exports", "next start: the exports made"):
        rows.append((f"window idle, backend auto (tiny models), {start}",
                     f"{idle_rss(env, args.idle_seconds):.0f} MB RSS"))

    folder = small_photos(args.n)
    index = f"bench-mem-{uuid.uuid4().hex[:6]}"
    aliases.append(index)
    env = {**base, "IMGSEARCH_HOME": str(CACHE / f"mem-home-{uuid.uuid4().hex[:6]}"), "IMGSEARCH_INDEX": index,
           "IMGSEARCH_IMAGE_MODEL": tiny_clip, "IMGSEARCH_TEXT_MODEL": tiny_text}
    start = time.perf_counter()
    proc = subprocess.Popen([*APP, "index", str(folder)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    sampler = Sampler(proc, client)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    seconds = time.perf_counter() - start
    summary = out.strip().splitlines()[-1]
    t, rss, heap = (np.array(col) for col in zip(*sampler.samples, strict=True))

    def at(fraction: float) -> str:
        i = min(len(t) - 1, int(np.searchsorted(t, fraction * t[-1])))
        return f"{rss[i]:.0f} MB"

    quarter = rss[int(np.searchsorted(t, 0.25 * t[-1]))]
    rows += [
        (f"index {args.n:,} photos (tiny model): {summary}", f"{seconds:.0f} s"),
        ("app RSS at 10% / 25% / 50% / 75% / 100% of the run",
         " / ".join(at(f) for f in (0.1, 0.25, 0.5, 0.75, 1.0))),
        ("app RSS max; growth from 25% to the end", f"{rss.max():.0f} MB; {rss[-1] - quarter:+.0f} MB"),
        ("Elasticsearch heap used: median / max while indexing", f"{np.median(heap):.0f} / {heap.max():.0f} MB"),
    ]
    for alias in aliases:
        for name in client.indices.get(index=f"{alias}-*"):
            client.indices.delete(index=name)
    print_table(("measure", "value"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
