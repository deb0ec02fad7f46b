"""Duplicate tiers on generated copies, indexed for real; star groups (never chains); the strict same-picture check
(transparency, low content); not-a-duplicate memory; safe trash on real paths; keep rules."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import uuid
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageDraw

from imgsearch_desktop.core import dupes
from imgsearch_desktop.core.dupes import (
    DEFAULT_KEEP_RULES,
    NEAR_BITS,
    DupeFinder,
    KeepPolicy,
    KeepRule,
    NotDuplicates,
    Photo,
    Tier,
    hamming,
    is_lossless,
    plural,
    relation_to_query,
    webp_is_lossless,
)
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.query import Part, _alike_to
from imgsearch_desktop.core.store import PhotoDoc, Store
from imgsearch_desktop.core.trash import (
    default_plan,
    dry_run,
    last_copies,
    selection_plan,
    trash_plan,
)
from tests.conftest import TINY_DIMS
from tests.photos import picture, write_photo

ORIGINALS = 4


def make_family(root, seed: int) -> dict[str, str]:
    """An original and its copies: byte-identical, PNG, resized+recompressed, EXIF-rotated; and a 90% crop."""
    orig = picture(seed, (640, 480))
    folder = root / f"family{seed}"
    folder.mkdir(parents=True)
    paths = {"orig": folder / "original.jpg", "copy": folder / "copy-of-original.jpg", "png": folder / "as.png",
             "resized": folder / "small.jpg", "rotated": folder / "rotated.jpg", "crop": folder / "crop.jpg"}
    orig.save(paths["orig"], "JPEG", quality=92)
    shutil.copyfile(paths["orig"], paths["copy"])
    Image.open(paths["orig"]).save(paths["png"], "PNG")
    orig.resize((320, 240)).save(paths["resized"], "JPEG", quality=70)
    exif = Image.Exif()
    exif[0x0112] = 6
    orig.transpose(Image.Transpose.ROTATE_90).save(paths["rotated"], "JPEG", quality=92, exif=exif.tobytes())
    orig.crop((32, 24, 608, 456)).save(paths["crop"], "JPEG", quality=92)
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("dupes") / "lib"
    families = [make_family(root, 500 + i) for i in range(ORIGINALS)]
    unrelated = []
    for i in range(8):
        path = root / "other" / f"u{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        picture(9000 + i, (640, 480)).save(path, "JPEG", quality=90)
        unrelated.append(str(path))
    return root, families, unrelated


@pytest.fixture
def indexed(store, embedder, library):
    root, families, unrelated = library
    stats = Indexer(store, embedder).run([root])
    assert stats.indexed == ORIGINALS * 6 + 8
    return store, families, unrelated


@pytest.fixture
def trash_home():
    """The home trash, under the temporary XDG_DATA_HOME that conftest sets before send2trash is imported."""
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash"
    shutil.rmtree(trash, ignore_errors=True)
    return trash


def pairs(groups) -> set[frozenset]:
    out = set()
    for g in groups:
        out |= {frozenset(p) for p in itertools.combinations([m.photo.path for m in g.members], 2)}
    return out


def precision_recall(found: set, expected: set) -> tuple[float, float]:
    hit = len(found & expected)
    return (hit / len(found) if found else 1.0), (hit / len(expected) if expected else 1.0)


def assert_star(groups, level: Tier, threshold: float = 0.9, near_bits: int = NEAR_BITS) -> None:
    """Every member meets its tier's rule against its own group's keeper; no file (inode) is listed twice."""
    seen = set()
    for g in groups:
        assert g.members[0].photo is g.keep and g.members[0].is_keeper
        for m in g.members[1:]:
            cos = float(g.keep.vector @ m.photo.vector)
            assert abs(cos - m.score) < 1e-5
            if level is Tier.SIMILAR:
                assert cos >= threshold - 1e-6, (g.keep.path, m.photo.path, cos)
            if m.tier is Tier.SAME_PICTURE:
                assert cos >= 0.95 and m.bits <= near_bits and hamming(g.keep.phash, m.photo.phash) <= near_bits
            if m.tier is Tier.EXACT:
                assert m.photo.sha256 == g.keep.sha256
        for m in g.members:
            assert m.photo.inode not in seen
            seen.add(m.photo.inode)


# ---------------------------------------------------------------- tiers
def test_exact_tier_precision_and_recall_are_one(indexed):
    store, families, _ = indexed
    groups = DupeFinder(store).scan("exact")
    expected = {frozenset((f["orig"], f["copy"])) for f in families}
    assert precision_recall(pairs(groups), expected) == (1.0, 1.0)
    for g in groups:
        assert g.tier is Tier.EXACT and g.why == "identical content"
        assert [m.relation for m in g.members] == ["keeper", "identical file"]
        assert g.members[1].ticked  # identical files are pre-ticked


@pytest.mark.parametrize("join_max", [0, dupes.EXACT_JOIN_MAX], ids=["knn-per-photo", "exact-join"])
def test_near_tier_finds_the_same_picture_and_nothing_else(indexed, join_max):
    store, families, unrelated = indexed
    finder = DupeFinder(store, exact_join_max=join_max)
    groups = finder.scan("near")
    same = ("orig", "copy", "png", "resized", "rotated")
    expected = {frozenset(p) for f in families for p in itertools.combinations([f[k] for k in same], 2)}
    precision, recall = precision_recall(pairs(groups), expected)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    assert_star(groups, Tier.SAME_PICTURE)
    grouped = {m.photo.path for g in groups for m in g.members}
    assert not grouped & set(unrelated)
    assert not grouped & {f["crop"] for f in families}  # a 90% crop is not "the same picture"
    for g, f in ((g, f) for g in groups for f in families if g.keep.path in f.values()):
        assert g.keep.path in (f["orig"], f["copy"])  # the PNG was saved from it: a lossless copy, never better
        png = next(m.photo for m in g.members if m.photo.path == f["png"])
        assert png.derived_from is not None and png.derived_from.sha256 == g.keep.sha256
        assert g.members[0].relation == "keeper" and g.members[0].score == 1.0
        assert g.tier is Tier.SAME_PICTURE and g.why.startswith("same picture: hashes ")
        assert all(m.ticked for m in g.members[1:])  # same picture: all but the keeper pre-ticked
    assert finder.stats.files_checked > 0


def test_a_crop_is_a_similar_shot_not_the_same_picture(indexed):
    store, families, _ = indexed
    finder = DupeFinder(store)
    by_path = {p.path: p for p in finder.photos().values()}
    for f in families:
        orig, crop, resized = by_path[f["orig"]], by_path[f["crop"]], by_path[f["resized"]]
        assert hamming(orig.phash, resized.phash) <= finder.near_bits < hamming(orig.phash, crop.phash)
        assert finder.relation(orig, resized, "near").tier is Tier.SAME_PICTURE
        assert finder.relation(orig, crop, "near") is None
        assert finder.relation(orig, crop, "similar", threshold=-1.0).tier is Tier.SIMILAR


def synthetic_store(es_client, tmp_path, vectors: dict[str, np.ndarray], phashes: dict[str, str] | None = None,
                    alias: str | None = None) -> Store:
    """An index of real (tiny) files whose vectors are given: random models cannot judge meaning."""
    store = Store(es_client, alias or f"sim-{uuid.uuid4().hex[:8]}")
    store.use_index("synthetic", TINY_DIMS)
    docs = []
    for i, (name, vec) in enumerate(vectors.items()):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"photo {name}".encode())
        docs.append(PhotoDoc(path=str(path), root=str(tmp_path), library=store.library, sha256=uuid.uuid4().hex,
                             vector=(vec / np.linalg.norm(vec)).tolist(), size=path.stat().st_size, mtime_ns=i,
                             phash=(phashes or {}).get(name) or os.urandom(32).hex(), width=100, height=100,
                             format="JPEG"))
    assert store.write(docs) == []
    store.refresh()
    return store


def chain(n: int, step_cos: float, rng) -> list[np.ndarray]:
    """Unit vectors turning in one plane: neighbours at ``step_cos``, the ends far apart (A~B~C, A≁C)."""
    theta = np.arccos(step_cos)
    noise = 0.01 * rng.normal(size=(n, TINY_DIMS))
    out = []
    for i in range(n):
        v = noise[i].copy()
        v[0] += np.cos(i * theta)
        v[1] += np.sin(i * theta)
        out.append(v)
    return out


@pytest.mark.parametrize("join_max", [0, dupes.EXACT_JOIN_MAX], ids=["knn-per-photo", "exact-join"])
def test_similar_tier_on_known_clusters(es_client, tmp_path, join_max):
    """The same groups from the index's kNN (a large library) and from the in-memory join."""
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(5, TINY_DIMS))
    vectors = {f"c{c}/shot{j}.jpg": centres[c] + 0.08 * rng.normal(size=TINY_DIMS) for c in range(5) for j in range(4)}
    store = synthetic_store(es_client, tmp_path, vectors)
    try:
        groups = DupeFinder(store, exact_join_max=join_max).scan("similar", threshold=0.9)
        found = sorted(sorted(Path(m.photo.path).relative_to(tmp_path).as_posix() for m in g.members)
                       for g in groups)
        assert found == sorted(sorted(f"c{c}/shot{j}.jpg" for j in range(4)) for c in range(5))
        assert all(m.relation == "similar shot" and not m.ticked for g in groups for m in g.members[1:])
        assert all(g.why.startswith("similar shot: 0.9") for g in groups)
        assert DupeFinder(store, exact_join_max=join_max).scan("near") == []  # random phashes: never "the same picture"
    finally:
        store.drop()


def test_chained_vectors_split_into_star_groups(es_client, tmp_path):
    """Issue [B]1: neighbours at 0.95 chain eight shots whose ends are at 0.58; union-find alone made one group."""
    vectors = {f"burst/{i}.jpg": v for i, v in enumerate(chain(8, 0.95, np.random.default_rng(3)))}
    store = synthetic_store(es_client, tmp_path, vectors)
    try:
        finder = DupeFinder(store)
        groups = finder.scan("similar", threshold=0.9)
        assert finder.stats.linked_sets == 1 and finder.stats.off_keeper > 0  # one chain before the split
        assert len(groups) >= 2 and finder.stats.groups == len(groups)
        assert_star(groups, Tier.SIMILAR, 0.9)
        assert sum(len(g.members) for g in groups) <= 8
        assert not any(m.ticked for g in groups for m in g.members)  # similar shots: nothing pre-ticked
    finally:
        store.drop()


# ---------------------------------------------------------------- the strict same-picture check
def shapes(seed: int, colour: tuple[int, int, int], size: int = 256) -> Image.Image:
    """A transparent PNG with two opaque shapes (an icon, a sticker)."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    for _ in range(2):
        x, y = rng.integers(20, size - 56, 2)
        s = int(rng.integers(20, 50))
        (draw.ellipse if rng.integers(0, 2) else draw.rectangle)((x, y, x + s, y + s), fill=(*colour, 255))
    return im


def low_content(seed: int, base: int) -> Image.Image:
    """A near-black (base 3) or near-white (base 252) photo: a dark frame with its own hot pixels, an overexposed
    one with its own specks — different files whose content is below what a 64×64 hash can see."""
    rng = np.random.default_rng(seed)
    a = np.full((480, 640, 3), base, np.uint8)
    a[rng.integers(0, 480, 2000), rng.integers(0, 640, 2000)] = base + (2 if base < 128 else -2)
    return Image.fromarray(a)


def test_transparent_and_low_content_images_are_never_the_same_picture(store, embedder, tmp_path):
    """Issue [B]2: their indexed hashes collide (a blank page) and tiny CLIP says 1.000; the hash side refuses."""
    lib = tmp_path / "lib"
    lib.mkdir()
    different = []
    for seed in range(4):
        for colour, name in (((255, 255, 255), "white"), ((0, 0, 0), "black")):
            shapes(seed, colour).save(lib / f"{name}-shapes-{seed}.png")
            different.append(str(lib / f"{name}-shapes-{seed}.png"))
        rgba = np.asarray(picture(1, (256, 256)).convert("RGBA")).copy()
        rgba[..., 3] = np.asarray(shapes(seed + 10, (0, 0, 0)))[..., 3]  # one picture, cut out in different shapes
        Image.fromarray(rgba).save(lib / f"cutout-{seed}.png")
        different.append(str(lib / f"cutout-{seed}.png"))
    for seed in range(3):
        for base, name in ((3, "black"), (252, "white")):
            low_content(seed, base).save(lib / f"near-{name}-{seed}.jpg", quality=95)
            different.append(str(lib / f"near-{name}-{seed}.jpg"))
    shutil.copyfile(lib / "white-shapes-0.png", lib / "white-shapes-0-copy.png")  # identical file: still found
    shapes(1, (0, 0, 0)).resize((128, 128)).save(lib / "black-shapes-1-small.png")  # a real same picture
    Indexer(store, embedder).run([lib])

    finder = DupeFinder(store)
    by_name = {Path(p.path).name: p for p in finder.photos().values()}
    # The index alone would call them the same picture (so the old scan did):
    assert hamming(by_name["near-black-0.jpg"].phash, by_name["near-black-1.jpg"].phash) <= NEAR_BITS
    assert hamming(by_name["white-shapes-0.png"].phash, by_name["white-shapes-1.png"].phash) <= NEAR_BITS
    for level in ("near", "similar"):
        groups = finder.scan(level, threshold=0.9)
        assert_star(groups, Tier.parse(level))
        for g in groups:
            same = [m.photo.path for m in g.members if m.tier in (None, Tier.EXACT, Tier.SAME_PICTURE)]
            assert len(set(same) & set(different)) <= 1, [Path(p).name for p in same]
    assert finder.stats.low_content > 0
    groups = finder.scan("near")
    names = sorted(sorted(Path(m.photo.path).name for m in g.members) for g in groups)
    assert ["white-shapes-0-copy.png", "white-shapes-0.png"] in names
    assert ["black-shapes-1-small.png", "black-shapes-1.png"] in names  # transparency is not refused wholesale


BACKGROUNDS = Path("/usr/share/backgrounds/mate")  # Debian's mate-backgrounds (scripts/setup.sh, test tools)
WARM, RADIOACTIVE = BACKGROUNDS / "desktop" / "Ubuntu-Mate-Warm-no-logo.png", \
    BACKGROUNDS / "desktop" / "Ubuntu-Mate-Radioactive-no-logo.png"


def hue_shift(im: Image.Image, shift: int) -> Image.Image:
    h, s, v = im.convert("HSV").split()
    return Image.merge("HSV", (h.point(lambda x: (x + shift) % 256), s, v)).convert("RGB")


def recoloured(im: Image.Image) -> dict[str, Image.Image]:
    """The same photograph in other colours: what an editor's hue, channel mixer and colour-tint tools make."""
    r, g, b = im.split()
    return {"hue20": hue_shift(im, 20), "hue128": hue_shift(im, 128), "swapped": Image.merge("RGB", (b, g, r)),
            "tinted": Image.blend(im, Image.new("RGB", im.size, (255, 140, 40)), 0.2)}


@pytest.mark.skipif(not RADIOACTIVE.exists(), reason="mate-backgrounds not installed")
def test_the_same_design_in_other_colours_is_not_the_same_picture(store, embedder, tmp_path):
    """Issue [W]3: Warm and Radioactive (one design, two colourways) are 22 bits apart and were grouped, with
    Radioactive ticked for the trash. Real copies of real photographs still are the same picture."""
    lib = tmp_path / "lib"
    lib.mkdir()
    picture_of = {}  # file name → which picture it shows

    def save(im: Image.Image, name: str, picture_id: str, **kwargs) -> None:
        im.save(lib / name, **kwargs)
        picture_of[name] = picture_id

    for source in (WARM, RADIOACTIVE):
        shutil.copyfile(source, lib / source.name)
        picture_of[source.name] = source.stem
    save(Image.open(WARM).convert("RGB"), "warm-as.jpg", WARM.stem, quality=90)  # converted PNG → JPEG
    photos = ("YellowFlower", "LadyBird", "Storm")
    for name in photos:
        with Image.open(BACKGROUNDS / "nature" / f"{name}.jpg") as im:
            im.draft("RGB", (1280, 800))
            photo = im.convert("RGB").resize((1280, 800))
        save(photo, f"{name}.jpg", name, quality=92)
        save(photo.resize((640, 400)), f"{name}-small.jpg", name, quality=85)  # resized
        save(photo, f"{name}-q70.jpg", name, quality=70)  # re-encoded
        save(photo, f"{name}.png", name)  # converted
        for how, variant in recoloured(photo).items():
            save(variant, f"{name}-{how}.jpg", f"{name}-{how}", quality=92)
    # As an unpacked download leaves them: no camera clock, file times 0.2 s apart (what a burst without EXIF shows).
    for i, path in enumerate(sorted(lib.iterdir())):
        os.utime(path, ns=(1_700_000_000_000_000_000 + i * 200_000_000,) * 2)
    Indexer(store, embedder).run([lib])

    # The tiny random test model cannot judge meaning: real CLIP puts these pairs at ≥ 0.95, so the cosine gate is
    # opened here and the files' check alone decides, as it did in the report.
    finder = DupeFinder(store, near_cosine=-1.0)
    by_name = {Path(p.path).name: p for p in finder.photos().values()}
    warm, radioactive = by_name[WARM.name], by_name[RADIOACTIVE.name]
    assert hamming(warm.phash, radioactive.phash) <= NEAR_BITS  # the hashes alone call them one picture
    assert finder.same_picture(warm, radioactive) is None
    assert finder.relation(warm, by_name["warm-as.jpg"], "near").tier is Tier.SAME_PICTURE
    # Warm dropped on the window: the search labels its hits by the same colour rule ("same picture ★ best" was
    # shown on Radioactive, and the copies banner offered it as a copy).
    alike = _alike_to(Part(path=warm.path))

    def hit(p):
        return SimpleNamespace(path=p.path, sha256=p.sha256, phash=p.phash, score=0.99)  # real CLIP: ≥ 0.95

    assert relation_to_query(hit(radioactive), warm.sha256, warm.phash, alike=alike) is Tier.SIMILAR
    assert relation_to_query(hit(by_name["warm-as.jpg"]), warm.sha256, warm.phash, alike=alike) is Tier.SAME_PICTURE
    for name in photos:
        for how in recoloured(Image.new("RGB", (1, 1))):
            assert finder.relation(by_name[f"{name}.jpg"], by_name[f"{name}-{how}.jpg"], "near") is None, how

    groups = finder.scan("near")
    assert_star(groups, Tier.SAME_PICTURE)
    found = sorted(sorted(Path(m.photo.path).name for m in g.members) for g in groups)
    for g in groups:  # never two pictures in one group
        assert len({picture_of[Path(m.photo.path).name] for m in g.members}) == 1, found
    expected = [sorted([WARM.name, "warm-as.jpg"])] + [
        sorted([f"{n}.jpg", f"{n}-small.jpg", f"{n}-q70.jpg", f"{n}.png"]) for n in photos]
    assert found == sorted(expected)
    # Nor are a picture's colourways frames of one burst (each frame but the pick is pre-ticked for the trash).
    for g in finder.scan(Tier.BURST):
        assert len({picture_of[Path(m.photo.path).name] for m in g.members}) == 1, [m.photo.path for m in g.members]


# ---------------------------------------------------------------- not a duplicate
def test_not_a_duplicate_sticks_after_a_rescan(store, embedder, tmp_path):
    """Issue [B]4: remembered against the whole group, so it cannot link back in through another member."""
    fam = make_family(tmp_path / "lib", 42)
    Indexer(store, embedder).run([tmp_path / "lib"])
    memory_file = tmp_path / "data" / "not-duplicates.json"
    (group,) = DupeFinder(store, not_duplicates=NotDuplicates(memory_file)).scan("near")
    assert len(group.members) == 5
    member = next(m for m in group.members if m.photo.path == fam["resized"])
    mark = NotDuplicates(memory_file).mark(group, member)
    assert mark.path == fam["resized"] and len(mark.others) == 3  # orig and copy share one content

    memory = NotDuplicates(memory_file)  # remembered across runs
    (group,) = DupeFinder(store, not_duplicates=memory).scan("near")
    assert fam["resized"] not in {m.photo.path for m in group.members} and len(group.members) == 4
    assert DupeFinder(store, not_duplicates=memory).scan("similar", threshold=-1.0)[0].members  # still scans
    for g in DupeFinder(store, not_duplicates=memory).scan("similar", threshold=-1.0):
        paths = {m.photo.path for m in g.members}
        assert not (fam["resized"] in paths and paths & {fam["orig"], fam["png"], fam["rotated"]})

    (listed,) = memory.list()
    assert listed.sha256 == member.photo.sha256 and fam["png"] in listed.others.values()
    assert memory.forget(member.photo.sha256) and not memory.forget(member.photo.sha256)
    (group,) = DupeFinder(store, not_duplicates=NotDuplicates(memory_file)).scan("near")
    assert fam["resized"] in {m.photo.path for m in group.members}  # undone


def test_not_duplicates_file_corrupt_or_old(tmp_path):
    path = tmp_path / "not-duplicates.json"
    path.write_text("{not json")
    memory = NotDuplicates(path)
    assert memory.warning and "set aside" in memory.warning and len(memory) == 0
    (aside,) = tmp_path.glob("not-duplicates.json.corrupt-*")
    assert aside.read_text() == "{not json" and not path.exists()
    memory.add("a" * 64, {"b" * 64: "/x/b.jpg"}, "/x/a.jpg")
    assert NotDuplicates(path).vetoes("b" * 64, "a" * 64)

    path.write_text(json.dumps([["c" * 64, "d" * 64]]))  # the first format: pairs
    old = NotDuplicates(path)
    assert old.warning is None and ("d" * 64, "c" * 64) in old and len(old.list()) == 1


# ---------------------------------------------------------------- safe trash
def test_safe_trash(store, embedder, tmp_path, trash_home):
    lib = tmp_path / "lib"
    fam = make_family(lib, 77)
    os.utime(fam["png"], ns=(10**17, 10**17))  # older than the JPEGs: their lossless source (the keeper)
    Indexer(store, embedder).run([lib])
    os.link(fam["orig"], tmp_path / "hardlink.jpg")  # the original again, through a link, indexed separately
    Indexer(store, embedder).run([tmp_path / "hardlink.jpg"])
    (group,) = DupeFinder(store).scan("near")
    assert group.keep.path == fam["png"]
    assert_star([group], Tier.SAME_PICTURE)
    link = str(tmp_path / "hardlink.jpg")
    (orig,) = [m.photo for m in group.members if m.photo.path in (fam["orig"], link)]  # one file, listed once
    assert {orig.path, *orig.aliases} == {fam["orig"], link}
    assert group.wasted_bytes == sum(os.path.getsize(fam[k]) for k in ("orig", "copy", "resized", "rotated"))
    journal = tmp_path / "journal.jsonl"

    report, error = trash_plan([(group, [fam["png"]])], store, journal)
    assert error is None and not report.trashed and "keep" in report.refused[0].reason and os.path.exists(fam["png"])

    report, error = trash_plan([(group, [fam["resized"], fam["rotated"]])], store, journal)
    assert error is None and [o.trashed for o in report] == [True, True]
    assert report.summary().startswith("moved 2 files (")
    assert not os.path.exists(fam["resized"]) and sorted(os.listdir(trash_home / "files")) == ["rotated.jpg",
                                                                                               "small.jpg"]
    remaining = {p.path for p in DupeFinder(store).photos().values()}
    assert fam["resized"] not in remaining and fam["png"] in remaining
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [e["action"] for e in lines] == ["refused", "trashed", "trashed"] and lines[1]["keeper"] == fam["png"]

    # The hard link is the same file as the original: never its duplicate.
    (exact,) = DupeFinder(store).scan("exact")
    assert len(exact.members) == 2 and fam["copy"] in {m.photo.path for m in exact.members}

    # A keeper changed since indexing: nothing of its group is trashed, and the report says so.
    (group,) = DupeFinder(store).scan("near")
    with open(group.keep.path, "ab") as fh:
        fh.write(b"\0")
    victim = next(m.photo.path for m in group.members if m.photo is not group.keep)
    report, error = trash_plan([(group, [victim])], store, journal)
    assert error is None and not report.trashed and "changed" in report.refused[0].reason and os.path.exists(victim)


def test_reference_folder_files_are_never_trashed(store, embedder, tmp_path, trash_home):
    (tmp_path / "ref").mkdir()
    (tmp_path / "in").mkdir()
    picture(3, (400, 300)).save(tmp_path / "ref" / "a.jpg", "JPEG", quality=95)
    shutil.copyfile(tmp_path / "ref" / "a.jpg", tmp_path / "ref" / "b.jpg")
    shutil.copyfile(tmp_path / "ref" / "a.jpg", tmp_path / "in" / "c.jpg")
    Indexer(store, embedder).run([tmp_path])
    (group,) = DupeFinder(store, references=[str(tmp_path / "ref")]).scan("exact")
    others = [m.photo.path for m in group.members if m.photo is not group.keep]
    report, error = trash_plan([(group, others)], store, tmp_path / "j.jsonl", references=[str(tmp_path / "ref")])
    assert error is None
    outcomes = {o.path: o for o in report}
    assert outcomes[str(tmp_path / "in" / "c.jpg")].trashed
    ref_other = next(p for p in others if "/ref/" in p)
    assert not outcomes[ref_other].trashed and "reference" in outcomes[ref_other].reason


def test_reference_folder_through_a_symlinked_folder_is_never_trashed(store, embedder, tmp_path, trash_home):
    """Issue [B]6: ``ln -s /R W/ref_link``, references=[/R]: the reference is recognised by its real path."""
    ref, work = tmp_path / "R", tmp_path / "W"
    ref.mkdir()
    work.mkdir()
    picture(5, (400, 300)).save(ref / "a.jpg", "JPEG", quality=95)
    shutil.copyfile(ref / "a.jpg", work / "b.jpg")
    (work / "ref_link").symlink_to(ref, target_is_directory=True)
    Indexer(store, embedder).run([work])
    linked = str(work / "ref_link" / "a.jpg")
    finder = DupeFinder(store, references=[str(ref)])
    (group,) = finder.scan("exact")
    assert group.keep.path == linked and group.keep_why == "in a reference folder"

    # The user keeps the other copy instead: the reference photo becomes a member, protected and not ticked.
    regrouped = finder.rekeep(group, next(m.photo for m in group.members if m.photo.path == str(work / "b.jpg")))
    member = next(m for m in regrouped.members if m.photo.path == linked)
    assert member.protected and not member.ticked and default_plan([regrouped]) == []
    for refs in ([str(ref)], []):  # refused on the member's protection alone, and on the references given
        (outcome,), error = trash_plan([(regrouped, [linked])], store, tmp_path / "j.jsonl", references=refs)
        assert error is None and not outcome.trashed and "reference" in outcome.reason
    assert (ref / "a.jpg").exists()


def test_an_edit_that_keeps_size_and_mtime_is_caught(store, embedder, tmp_path, trash_home):
    """Issue [B]6: re-checked by content (sha256), not by size + mtime."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    picture(6, (400, 300)).save(tmp_path / "a" / "photo.jpg", "JPEG", quality=95)
    shutil.copyfile(tmp_path / "a" / "photo.jpg", tmp_path / "b" / "photo.jpg")
    os.utime(tmp_path / "a" / "photo.jpg", ns=(10**18, 10**18))  # the older one: the keeper
    Indexer(store, embedder).run([tmp_path])
    (group,) = DupeFinder(store).scan("exact")
    victim = tmp_path / "b" / "photo.jpg"
    assert group.keep.path == str(tmp_path / "a" / "photo.jpg")

    st = victim.stat()
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # now a different, unique photo of the same size
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    (outcome,), error = trash_plan([(group, [str(victim)])], store, tmp_path / "j.jsonl")
    assert error is None and not outcome.trashed and victim.exists()
    assert "changed since it was indexed" in outcome.reason


def test_a_chained_near_group_is_split_and_only_true_copies_go(store, embedder, tmp_path, trash_home):
    """Issue [B]6: 13 images blending X→Y, neighbours a few bits apart, the ends ~120 bits apart. Grey pictures:
    a colour blend's steps differ in colour (ΔE 7–10) and are rightly not the same picture at all since [W]3."""
    x = np.asarray(picture(1, (640, 480)).convert("L").convert("RGB"), dtype=np.float64)
    y = np.asarray(picture(2, (640, 480)).convert("L").convert("RGB"), dtype=np.float64)
    lib = tmp_path / "blend"
    lib.mkdir()
    for i in range(13):
        Image.fromarray(((1 - i / 12) * x + i / 12 * y).astype(np.uint8)).save(lib / f"b{i:02d}.jpg", quality=90)
    Indexer(store, embedder).run([lib])
    finder = DupeFinder(store)
    groups = finder.scan("near")
    by_name = {Path(p.path).name: p for p in finder.photos().values()}
    assert hamming(by_name["b00.jpg"].phash, by_name["b12.jpg"].phash) > 100
    assert finder.stats.linked_sets == 1 and len(groups) >= 2  # one chain, split around keepers
    assert_star(groups, Tier.SAME_PICTURE)

    report, error = trash_plan(default_plan(groups), store, tmp_path / "j.jsonl")
    assert error is None and report.trashed and not report.refused
    for o in report.trashed:
        keep = o.group.keep
        gone = next(m.photo for m in o.group.members if m.photo.path == o.path)
        assert os.path.exists(keep.path) and hamming(keep.phash, gone.phash) <= NEAR_BITS
    assert all(os.path.exists(g.keep.path) for g in groups)


def test_a_partial_failure_reports_what_was_trashed_and_what_was_not(store, embedder, tmp_path, trash_home):
    """Issue [B]6: a later group failing does not hide that earlier groups were trashed (and journaled)."""
    for name, seed in (("x", 7), ("y", 8)):
        (tmp_path / "keep").mkdir(exist_ok=True)
        (tmp_path / "copies").mkdir(exist_ok=True)
        picture(seed, (400, 300 + seed)).save(tmp_path / "keep" / f"{name}.jpg", "JPEG", quality=95)
        shutil.copyfile(tmp_path / "keep" / f"{name}.jpg", tmp_path / "copies" / f"{name}.jpg")
        os.utime(tmp_path / "keep" / f"{name}.jpg", ns=(10**18, 10**18))
    Indexer(store, embedder).run([tmp_path / "keep", tmp_path / "copies"])
    groups = DupeFinder(store).scan("exact")
    assert len(groups) == 2 and all("/keep/" in g.keep.path for g in groups)
    plan = default_plan(groups)
    assert dry_run(plan).startswith("keeps 2, moves 2 files (")
    failing = groups[1].keep.path  # the second group's keeper changes before the action
    with open(failing, "ab") as fh:
        fh.write(b"\0")
    journal = tmp_path / "j.jsonl"
    report, error = trash_plan(plan, store, journal)
    (trashed,), (refused,) = report.trashed, report.refused
    assert error is None
    assert trashed.group is groups[0] and not os.path.exists(trashed.path)
    assert refused.group is groups[1] and "photo to keep changed" in refused.reason and os.path.exists(refused.path)
    assert report.summary().startswith("moved 1 file (") and report.summary().endswith("; kept 1 file")
    actions = [json.loads(line)["action"] for line in journal.read_text().splitlines()]
    assert actions == ["trashed", "refused"]


def test_one_file_through_a_symlinked_root_is_listed_once(store, embedder, tmp_path, trash_home):
    """Issue [B]6: the same inode under two indexed names is one photo, never an "identical file" of itself."""
    lib, link = tmp_path / "lib", tmp_path / "link"
    lib.mkdir()
    picture(9, (400, 300)).save(lib / "a.jpg", "JPEG", quality=95)
    link.symlink_to(lib, target_is_directory=True)
    Indexer(store, embedder).run([lib])
    Indexer(store, embedder).run([link])
    assert len(DupeFinder(store).photos()) == 2
    assert DupeFinder(store).scan("exact") == [] and DupeFinder(store).scan("near") == []

    shutil.copyfile(lib / "a.jpg", tmp_path / "copy.jpg")  # a real second copy
    Indexer(store, embedder).run([tmp_path / "copy.jpg"])
    (group,) = DupeFinder(store).scan("exact")
    assert len(group.members) == 2 and group.wasted_bytes == os.path.getsize(lib / "a.jpg")
    assert_star([group], Tier.EXACT)
    report, error = trash_plan(default_plan([group]), store, tmp_path / "j.jsonl")
    assert error is None and len(report.trashed) == 1 and (lib / "a.jpg").exists() != (tmp_path / "copy.jpg").exists()


# ---------------------------------------------------------------- keep rules
def test_lossless_webp_ranks_as_lossless(store, embedder, tmp_path):
    """Issue [B]7: Pillow says "WEBP" for both kinds; the VP8L chunk tells."""
    pic = picture(12, (480, 360))
    pic.save(tmp_path / "lossless.webp", "WEBP", lossless=True)
    pic.save(tmp_path / "lossy.webp", "WEBP", quality=90)
    pic.save(tmp_path / "photo.jpg", "JPEG", quality=95)
    pic.convert("RGBA").save(tmp_path / "alpha-lossy.webp", "WEBP", quality=80)  # VP8X + ALPH + VP8
    assert webp_is_lossless(str(tmp_path / "lossless.webp"))
    assert not webp_is_lossless(str(tmp_path / "lossy.webp"))
    assert not webp_is_lossless(str(tmp_path / "alpha-lossy.webp"))
    assert not webp_is_lossless(str(tmp_path / "photo.jpg"))
    Indexer(store, embedder).run([tmp_path])
    (group,) = DupeFinder(store).scan("near")
    assert group.keep.path == str(tmp_path / "lossless.webp") and group.keep_why == "lossless before lossy"
    assert is_lossless(group.keep) and group.keep.format == "WEBP"


def photo(path: str, width: int = 100, height: int = 100, size: int = 1000, mtime_ns: int = 0,
          fmt: str = "JPEG") -> Photo:
    return Photo(path, path, "", size, width, height, mtime_ns, fmt, None, np.zeros(2, np.float32))


def test_keep_rules_in_the_users_order(tmp_path):
    big_new, small_old = photo("/p/big.jpg", 200, 200, mtime_ns=2), photo("/p/small.jpg", mtime_ns=1)
    assert KeepPolicy().pick([big_new, small_old]) is big_new
    oldest_first = KeepPolicy([KeepRule.OLDEST, KeepRule.PIXELS])
    assert oldest_first.pick([big_new, small_old]) is small_old
    assert oldest_first.explain(small_old, big_new) == "oldest file"

    raw, jpeg, heic = photo("/p/IMG_1.dng"), photo("/p/IMG_1.jpg", size=5000), photo("/p/IMG_1.heic", fmt="HEIF")
    assert KeepPolicy().pick([jpeg, raw]) is raw and KeepPolicy().pick([jpeg, heic]) is heic
    assert KeepPolicy().explain(raw, jpeg).startswith("original format")

    a, b = photo(str(tmp_path / "a" / "x.jpg"), mtime_ns=1), photo(str(tmp_path / "b" / "x.jpg"), mtime_ns=2)
    by_folder = KeepPolicy([KeepRule.FOLDER, *KeepPolicy().rules], folders=[str(tmp_path / "b")])
    assert KeepPolicy().pick([a, b]) is a and by_folder.pick([a, b]) is b
    assert KeepPolicy(references=[str(tmp_path / "b")]).pick([a, b]) is b


def test_plurals_and_levels():
    assert Tier.parse("near") is Tier.SAME_PICTURE  # the tier table's columns: tests/fast/test_fast_dupes.py
    assert (plural(1, "group"), plural(2, "group"), plural(1, "file"), plural(0, "file")) == (
        "1 group", "2 groups", "1 file", "0 files")
    assert dry_run([]) == "keeps 0, moves 0 files (0.0 MB) to the trash"
    with pytest.raises(ValueError, match="level must be one of"):
        Tier.parse("fuzzy")


def test_a_linked_file_is_never_trashed_through_its_link(store, embedder, tmp_path, trash_home):
    """A member that is a symlink to a file outside the library: its target must stay where it is."""
    lib, archive = tmp_path / "lib", tmp_path / "archive"
    keep = write_photo(lib / "export" / "x.jpg", seed=4242, size=(320, 240))
    outside = archive / "x.jpg"
    outside.parent.mkdir(parents=True)
    shutil.copyfile(keep, outside)
    (lib / "album").mkdir()
    (lib / "album" / "x.jpg").symlink_to(outside)
    Indexer(store, embedder).run([lib])
    groups = DupeFinder(store).scan("exact", 0.9)
    assert len(groups) == 1 and len(groups[0].members) == 2
    report, error = trash_plan(default_plan(groups), store, tmp_path / "journal.jsonl", [])
    assert error is None and outside.exists() and keep.exists() and not report.trashed
    assert any("symbolic link" in o.reason for o in report.refused)


def test_trashing_a_selection_never_removes_the_last_copy(store, embedder, tmp_path, trash_home):
    """Issue [W]: photos picked in a grid go to the trash by the duplicates' rules — only when another indexed copy
    of the same content stays (a distinct file, not a hard link to it, never one in a reference folder)."""
    lib = tmp_path / "lib"
    a, b = write_photo(lib / "a.jpg", 31), write_photo(lib / "b.jpg", 32)
    (lib / "copies").mkdir()
    a2, b2 = lib / "copies" / "a.jpg", lib / "copies" / "b.jpg"
    shutil.copyfile(a, a2)
    shutil.copyfile(b, b2)
    lone, linked = write_photo(lib / "lone.jpg", 33), lib / "lone-link.jpg"
    os.link(lone, linked)  # the same file under a second name: not a copy that could stay
    refs = lib / "ref"
    kept_ref = write_photo(refs / "r.jpg", 34)
    shutil.copyfile(kept_ref, lib / "r-copy.jpg")
    Indexer(store, embedder).run([lib])
    journal = tmp_path / "journal.jsonl"
    policy = KeepPolicy(references=[str(refs)])
    picked = [str(p) for p in (a, b, b2, lone, linked, kept_ref, lib / "gone.jpg")]

    plan = selection_plan(picked, store, policy)
    assert last_copies(plan) == 2  # b + copies/b.jpg both picked; lone.jpg (+ its link) has no other copy
    report, error = trash_plan(plan, store, journal, [str(refs)])
    fate = {o.path: (o.trashed, o.reason) for o in report}
    assert error is None and set(fate) == set(picked)
    assert fate[str(a)][0] and not a.exists() and a2.exists()  # its copy stays
    assert [fate[str(p)][0] for p in (b, b2)].count(True) == 1 and b.exists() != b2.exists()  # one of the two stays
    assert not fate[str(lone)][0] and not fate[str(linked)][0] and lone.exists() and linked.exists()
    assert "last copy" in fate[str(lone)][1] or "last copy" in fate[str(linked)][1]
    assert not fate[str(kept_ref)][0] and "reference folder" in fate[str(kept_ref)][1] and kept_ref.exists()
    assert not fate[str(lib / "gone.jpg")][0] and "not in the index" in fate[str(lib / "gone.jpg")][1]
    assert sorted(os.listdir(trash_home / "files")) == ["a.jpg", "b.jpg"]
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert sorted(e["action"] for e in lines) == ["refused"] * 5 + ["trashed"] * 2
    gone = {p.path for p in DupeFinder(store).photos().values()}
    assert str(a) not in gone and str(a2) in gone  # the index follows


def test_an_identical_copy_of_a_similar_shot_is_an_identical_file_ticked(store, embedder, tmp_path):
    """Issue [W]: in "Similar shots too" the identical copy of a similar shot was shown as one more "similar shot",
    unticked, in the group around another keeper. It stays in that star (judged against the keeper: its score is
    the member's), but as what it is: an identical file of that member, pre-ticked, while the member stays unticked."""
    orig = picture(31, (640, 480))
    orig.save(tmp_path / "shot.jpg", "JPEG", quality=92)
    orig.crop((32, 24, 608, 456)).save(tmp_path / "crop.jpg", "JPEG", quality=92)
    shutil.copyfile(tmp_path / "crop.jpg", tmp_path / "crop-copy.jpg")
    os.utime(tmp_path / "crop-copy.jpg", ns=(2 * 10**18, 2 * 10**18))  # the newer of the two identical files
    Indexer(store, embedder).run([tmp_path])
    finder = DupeFinder(store)
    shot, crop = (next(p for p in finder.photos().values() if p.path == str(tmp_path / n)) for n in
                  ("shot.jpg", "crop.jpg"))
    threshold = min(0.9, float(shot.vector @ crop.vector) - 0.01)
    (group,) = finder.scan("similar", threshold)
    assert_star([group], Tier.SIMILAR, threshold)
    assert group.keep.path == str(tmp_path / "shot.jpg")
    by_name = {Path(m.photo.path).name: m for m in group.members}
    member, copy = by_name["crop.jpg"], by_name["crop-copy.jpg"]
    assert member.relation == "similar shot" and not member.ticked
    assert copy.relation == "identical file" and copy.ticked and copy.copy_of is member.photo
    assert copy.why == "identical to crop.jpg" and copy.score == pytest.approx(member.score)


CAMERA_JPEG = Path("/usr/share/backgrounds/mate/nature/Blinds.jpg")  # a Canon EOS 350D photograph, EXIF and all


@pytest.mark.skipif(not CAMERA_JPEG.exists(), reason="needs mate-backgrounds' camera photographs")
def test_a_png_made_from_the_camera_jpeg_never_beats_it(store, embedder, tmp_path):
    """Issue [W]: "lossless before lossy" kept a PNG saved from the JPEG (9× larger) and ticked the camera original.
    A lossless decode of a lossy file holds nothing more than it: the original is kept, by every rule order, while a
    lossless original with a JPEG made from it later keeps the lossless file."""
    (tmp_path / "Camera").mkdir()
    (tmp_path / "Edited").mkdir()
    jpeg = Path(shutil.copy2(CAMERA_JPEG, tmp_path / "Camera" / "IMG_0042.jpg"))
    png = tmp_path / "Edited" / "IMG_0042.png"
    Image.open(jpeg).save(png)  # what an editor's "export as PNG" does: the decoded pixels, no EXIF
    assert png.stat().st_size > 2 * jpeg.stat().st_size and png.stat().st_mtime_ns > jpeg.stat().st_mtime_ns
    other = CAMERA_JPEG.with_name("Dune.jpg")  # another photograph: a lossless original, then a JPEG made of it
    source = Image.open(other if other.exists() else CAMERA_JPEG).convert("RGB").rotate(180).resize((800, 500))
    source.save(tmp_path / "scan.png")
    source.save(tmp_path / "scan.jpg", "JPEG", quality=98)
    os.utime(tmp_path / "scan.png", ns=(10**18, 10**18))
    Indexer(store, embedder).run([tmp_path])

    for rules in (DEFAULT_KEEP_RULES, (KeepRule.LEAST_COMPRESSED, KeepRule.LOSSLESS, KeepRule.PIXELS)):
        groups = {Path(g.keep.path).stem: g for g in DupeFinder(store, keep_rules=rules).scan("near")}
        camera, scan = groups["IMG_0042"], groups["scan"]
        assert camera.keep.path == str(jpeg), rules
        assert camera.keep_why == "the original before a lossless copy made from it"
        (copy,) = camera.members[1:]
        assert copy.photo.path == str(png) and copy.ticked and copy.photo.derived_from is camera.keep
        assert scan.keep.path == str(tmp_path / "scan.png") and scan.keep.derived_from is None, rules
