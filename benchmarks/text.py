"""Text-in-photos benchmark: speed of the text analysis, and how well its words find their photo.

Speed (photos/s of the analysis as the background pass runs it: read + decode at the analysis size + detect +
recognise; ONNX Runtime on 2 threads): 12 MP camera JPEGs made from real photographs (Debian's wallpapers, scaled to
4000 × 3000) without text and with a phrase drawn on them, and the app's own real screenshots (docs/*.png).

Quality (``--quality N``): N real photographs with a distinct phrase each ("WORD WORD 1234") drawn at several sizes
(3.5–9% of the height), fonts, colours and angles (0–12°), read by the analysis and searched on a real node
(store.words_search): recall@1 for a query of one word of the photo, and of two words.

    .venv/bin/python benchmarks/text.py [--per-set 6] [--quality 24] [--es-url URL] [--parts]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from _common import CACHE, node_url, print_table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imgsearch_desktop.core import images  # noqa: E402
from imgsearch_desktop.core.analyses.backfill import decoded  # noqa: E402
from imgsearch_desktop.core.analyses.text import TextAnalysis, text_fields  # noqa: E402
from imgsearch_desktop.core.textfold import fold, words_query  # noqa: E402
from tests.text_photos import FONT_FILES, background, draw_words  # noqa: E402

WORDS = ["INVOICE", "RIALTO", "BAKERY", "HARBOUR", "MUSEUM", "GARAGE", "PHARMACY", "LIBRARY", "STATION", "MARKET",
         "THEATRE", "CASTLE", "BRIDGE", "GARDEN", "TICKET", "ORANGE", "PLANET", "WINDOW", "SILVER", "FOREST",
         "CANDLE", "TUNNEL", "ISLAND", "BUTTER", "ROCKET", "VALLEY", "MIRROR", "SADDLE", "HELMET", "PEPPER",
         "LADDER", "MEADOW", "FALCON", "COPPER", "BASKET", "TEMPLE", "MOTHER", "SUMMER", "WINTER", "AUTUMN",
         "CINEMA", "DOCTOR", "FAMILY", "KITCHEN", "LEMON", "MANGO", "NICKEL", "OYSTER", "PARROT", "QUARTZ"]
COLOURS = [("white", "black"), ("black", "white"), ("yellow", None), ("#d01010", "white"), ("#1030c0", None)]


class WholeDecode:
    """The analysis as the pass ran it before a first, smaller decode: every photo decoded at ``decode_side``."""

    def __init__(self, analysis: TextAnalysis) -> None:
        self.analysis, self.name, self.decode_side = analysis, analysis.name, analysis.decode_side

    def analyse(self, image, original, larger=None) -> dict:
        return self.analysis.analyse(image, original)


def analyse_all(analysis, paths: list[Path], ahead: bool = True) -> tuple[float, list[dict]]:
    """photos/s and fields as the background pass reads them (the next photo decoded on another thread:
    backfill.decoded), or, with ``ahead`` False, each photo read and decoded whole in turn (the first pass)."""
    started = time.perf_counter()
    if ahead:
        out = [photo.analyse([analysis]) for _, _, photo in decoded(((p, str(p)) for p in paths), [analysis])]
    else:
        photos = (images.decode(images.read_file(p), analysis.decode_side, name=str(p)) for p in paths)
        out = [analysis.analyse(loaded.image, (loaded.width, loaded.height)) for loaded in photos]
    return len(paths) / (time.perf_counter() - started), out


def speed(analysis: TextAnalysis, per_set: int, folder: Path) -> None:
    camera, with_text = [], []
    rng = random.Random(1)
    for i in range(per_set):
        image = background(i, (4000, 3000))
        camera.append(folder / f"camera{i}.jpg")
        image.save(camera[-1], quality=92)
        fill, outline = COLOURS[i % len(COLOURS)]
        draw_words(image, f"{WORDS[i]} {rng.randint(1000, 9999)}", at=(0.1, 0.3 + 0.05 * (i % 5)),
                   height=0.035 + 0.01 * (i % 6), font=FONT_FILES[i % len(FONT_FILES)], fill=fill, outline=outline)
        with_text.append(folder / f"text{i}.jpg")
        image.save(with_text[-1], quality=92)
    shots = sorted((ROOT / "docs").glob("*.png"))[:per_set]
    analyse_all(analysis, camera[:1])  # warm-up: the sessions' first runs
    rows = []
    for name, paths in (("12 MP camera JPEG, no text", camera), ("12 MP camera JPEG, a phrase", with_text),
                        ("screenshots (docs/*.png)", shots)):
        in_turn, _ = analyse_all(analysis, paths, ahead=False)
        whole, _ = analyse_all(WholeDecode(analysis), paths)
        rate, found = analyse_all(analysis, paths)
        lines = sum(len(f["text_lines"]) for f in found)
        rows.append((name, str(len(paths)), f"{in_turn:.2f}", f"{whole:.2f}", f"{rate:.2f}", f"{1000 / rate:.0f}",
                     f"{sum(1 for f in found if f['has_text'])}/{len(paths)}", str(lines)))
    for share in (0.1, 0.3):  # a camera library: most photos without text (the share measured is not known)
        mixes = [1 / ((1 - share) / float(rows[0][c]) + share / float(rows[1][c])) for c in (3, 4)]
        rows.append((f"camera mix, {share:.0%} with a phrase", "", "", f"{mixes[0]:.2f}", f"{mixes[1]:.2f}",
                     f"{1000 / mixes[1]:.0f}", "", ""))
    print_table(("photos", "n", "photos/s, decoded whole in turn", "decoded whole ahead (the pass before)",
                 "**the pass** (a JPEG at 750 first)", "ms/photo", "with text read", "lines"), rows)


def parts(folder: Path) -> None:
    """Where a 12 MP photo without text goes, side by side: the decode whole and at the first size, and the 640 px
    probe's detection with RapidOCR's own sessions and preprocessing and with the app's (memory arena, float32)."""
    from imgsearch_desktop.core.analyses import text

    path = folder / "parts.jpg"
    background(0, (4000, 3000)).save(path, quality=92)
    data = path.read_bytes()
    detector, _, _, _, config = text._import_rapidocr()
    config["Det"].update(limit_type="max", limit_side_len=4096, intra_op_num_threads=2, inter_op_num_threads=1)
    stock = detector(config["Det"])
    app = text.default_reader()
    first = images.decode(data, text.DECODE_SIDE, draft_target=text.FIRST_SIDE).image
    probe, _ = text._resized(first, text.PROBE_SIDE)
    bgr = np.ascontiguousarray(probe[:, :, ::-1])
    steps = [("decode whole (1440 × 1080)", lambda: images.decode(data, text.DECODE_SIDE)),
             ("decode first (1000 × 750)", lambda: images.decode(data, text.DECODE_SIDE, draft_target=text.FIRST_SIDE)),
             ("screen test (1000 × 750)", lambda: text.screen_like(np.asarray(first))),
             ("probe resize → 640", lambda: text._resized(first, text.PROBE_SIDE)),
             ("detect 640, RapidOCR's sessions", lambda: stock(bgr)),
             ("detect 640, the app's", lambda: app.detect(probe))]
    rows = []
    for _ in range(3):  # interleaved rounds: the machine's noise falls on both sides of a pair alike
        for i, (name, step) in enumerate(steps):
            step()
            started = time.perf_counter()
            for _ in range(10):
                step()
            ms = (time.perf_counter() - started) * 100
            rows.append((i, name, ms))
    print_table(("step", "ms (median of 3 rounds of 10)"),
                [(name, f"{sorted(ms for j, _, ms in rows if j == i)[1]:.1f}") for i, (name, _) in enumerate(steps)])


def quality(analysis: TextAnalysis, n: int, folder: Path, es_url: str | None) -> None:
    from imgsearch_desktop.core.store import Connection, PhotoDoc, Store

    rng = random.Random(7)
    pairs = list(zip(WORDS[0::2], WORDS[1::2], strict=True))
    phrases = [(a, b, str(rng.randint(1000, 9999))) for a, b in (pairs * 2)[:n]]
    phrases = [(a, b, num) if i < len(pairs) else (b, a, num) for i, (a, b, num) in enumerate(phrases)]
    paths = []
    for i, (a, b, num) in enumerate(phrases):
        image = background(i, (2000, 1333))
        fill, outline = COLOURS[i % len(COLOURS)]
        draw_words(image, f"{a} {b} {num}", at=(0.05 + 0.1 * (i % 3), 0.2 + 0.1 * (i % 6)),
                   height=0.035 + 0.011 * (i % 6), font=FONT_FILES[i % len(FONT_FILES)], fill=fill,
                   outline=outline, angle=(0, 4, 8, 12)[i % 4] * (1 if i % 2 else -1))
        paths.append(folder / f"q{i}.jpg")
        image.save(paths[-1], quality=90)
    _, found = analyse_all(analysis, paths)
    read = sum(1 for (a, b, _), f in zip(phrases, found, strict=True) if fold(a) in f["text"] and fold(b) in f["text"])
    store = Store(Connection(bench_node(es_url)).client(), f"bench-text-{uuid.uuid4().hex[:6]}")
    store.use_index("bench-text", 4)
    try:
        docs = [PhotoDoc(path=str(p), root=str(folder), library=store.library, sha256=str(i), vector=[1, 0, 0, 0],
                         size=1, mtime_ns=1, analysed=text_fields(f["text_lines"]))
                for i, (p, f) in enumerate(zip(paths, found, strict=True))]
        store.write(docs)
        store.refresh()

        def top(words: str) -> str | None:
            hits = store.words_search(words_query(words), k=1)
            return hits[0].hit.path if hits else None

        # A one-word query is each word of a phrase whose word appears in no other photo's phrase (half the set,
        # when n > 25, reuses the pairs in swapped order: those words are not unique, their pair is).
        one = [(w, str(p)) for (a, b, _), p in zip(phrases, paths, strict=True) for w in (a, b)
               if sum(w in ph[:2] for ph in phrases) == 1]
        two = [(f"{a} {b}", str(p)) for (a, b, _), p in zip(phrases, paths, strict=True)]
        rows = []
        for name, queries in (("one word", one), ("two words", two)):
            hits = sum(1 for q, want in queries if top(q) == want)
            rows.append((name, str(len(queries)), f"{hits / max(1, len(queries)):.3f}"))
        print_table(("query", "queries", "recall@1"), rows)
        print(f"phrases read whole (both words): {read}/{n}")
    finally:
        store.drop()


def share(analysis: TextAnalysis, folders: list[Path]) -> None:
    """How many real photographs the analysis finds text in, and what it reads (a person judges the lines)."""
    paths = sorted(p for d in folders for p in d.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    rate, found = analyse_all(analysis, paths)
    with_text = [(p, f) for p, f in zip(paths, found, strict=True) if f["has_text"]]
    for path, fields in with_text:
        print(f"{path}: {' | '.join(line['text'] for line in fields['text_lines'])[:150]}")
    print_table(("photos", "with text read", "share", "photos/s"),
                [(str(len(paths)), str(len(with_text)), f"{len(with_text) / max(1, len(paths)):.0%}", f"{rate:.2f}")])


def bench_node(es_url: str | None) -> str:
    """``--es-url``, else the benchmarks' own node, installed first (from the tests' cached archive) if need be."""
    if es_url:
        return es_url
    from imgsearch_desktop.config import AppDirs
    from imgsearch_desktop.core.node import LocalNode, fetch_with_maven

    node = LocalNode(AppDirs.resolve(CACHE / "home"))
    if node.es_home() is None:
        node.install(str(fetch_with_maven(CACHE.parent / "downloads")))
    return node_url(None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-set", type=int, default=6, help="photos per speed set")
    ap.add_argument("--quality", type=int, default=0, help="photos in the recall set (needs a node)")
    ap.add_argument("--es-url", help="node for the recall set (default: the benchmarks' own)")
    ap.add_argument("--parts", action="store_true", help="only time the steps of a photo without text")
    ap.add_argument("--share", nargs="+", metavar="FOLDER",
                    help="only count the real photos in FOLDER… the analysis finds text in, and print what it reads")
    args = ap.parse_args()
    analysis = TextAnalysis()
    analysis.reader  # noqa: B018 - the models load before the clock starts
    if args.share:
        share(analysis, [Path(d) for d in args.share])
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.parts:
            parts(Path(tmp))
            return
        speed(analysis, args.per_set, Path(tmp))
        if args.quality:
            quality(analysis, args.quality, Path(tmp), args.es_url)


if __name__ == "__main__":
    main()
