"""Duplicate tiers on generated copies, indexed for real; the similar tier on known vector clusters; safe trash."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgsearch_desktop.core.dupes import DupeFinder, NotDuplicates, hamming
from imgsearch_desktop.core.errors import UserError
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import Store, doc_id
from imgsearch_desktop.core.trash import trash_group
from tests.conftest import TINY_DIMS
from tests.photos import picture

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


def pairs(groups) -> set[frozenset]:
    out = set()
    for g in groups:
        out |= {frozenset(p) for p in itertools.combinations([m.photo.path for m in g.members], 2)}
    return out


def precision_recall(found: set, expected: set) -> tuple[float, float]:
    hit = len(found & expected)
    return (hit / len(found) if found else 1.0), (hit / len(expected) if expected else 1.0)


def test_exact_tier_precision_and_recall_are_one(indexed):
    store, families, _ = indexed
    groups = DupeFinder(store).scan("exact")
    expected = {frozenset((f["orig"], f["copy"])) for f in families}
    assert precision_recall(pairs(groups), expected) == (1.0, 1.0)
    assert all(g.level == "exact" and {m.relation for m in g.members[1:]} == {"identical file"} for g in groups)


def test_near_tier_finds_the_same_picture_and_nothing_else(indexed):
    store, families, unrelated = indexed
    groups = DupeFinder(store).scan("near")
    same = ("orig", "copy", "png", "resized", "rotated")
    expected = {frozenset(p) for f in families for p in itertools.combinations([f[k] for k in same], 2)}
    precision, recall = precision_recall(pairs(groups), expected)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    grouped = {m.photo.path for g in groups for m in g.members}
    assert not grouped & set(unrelated)
    assert not grouped & {f["crop"] for f in families}  # a 90% crop is not "the same picture"
    for g, f in ((g, f) for g in groups for f in families if g.keep.path in f.values()):
        assert g.keep.path == f["png"]  # most pixels, then least compressed: the lossless copy
        assert g.members[0].relation == "keeper" and g.members[0].score == 1.0


def test_a_crop_is_a_similar_shot_not_the_same_picture(indexed):
    store, families, _ = indexed
    finder = DupeFinder(store)
    by_path = {p.path: p for p in finder.photos().values()}
    for f in families:
        orig, crop, resized = by_path[f["orig"]], by_path[f["crop"]], by_path[f["resized"]]
        assert hamming(orig.phash, resized.phash) <= finder.near_bits < hamming(orig.phash, crop.phash)
        assert finder._relation(orig, resized, 0.99) == "near"
        assert finder._relation(orig, crop, 0.99) == "similar"


def test_similar_tier_on_known_clusters(es_client):
    """Random tiny models cannot judge meaning, so clusters of vectors are written straight into the index."""
    store = Store(es_client, f"sim-{uuid.uuid4().hex[:8]}")
    store.open("synthetic", TINY_DIMS)
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(5, TINY_DIMS))
    docs, truth = [], {}
    for c in range(5):
        for j in range(4):
            vec = centres[c] + 0.08 * rng.normal(size=TINY_DIMS)
            path = f"/synthetic/c{c}/shot{j}.jpg"
            truth[path] = c
            docs.append({"_id": doc_id(path), "image_id": doc_id(path), "path": path, "image_name": f"shot{j}.jpg",
                         "relative_path": path, "image_embedding": (vec / np.linalg.norm(vec)).tolist(),
                         "sha256": f"{c}-{j}", "size": 1000 + j, "width": 100, "height": 100, "mtime_ns": j,
                         "format": "JPEG", "phash": os.urandom(32).hex()})
    assert store.write(docs) == []
    store.refresh()
    try:
        groups = DupeFinder(store).scan("similar", threshold=0.9)
        found = sorted(sorted(m.photo.path for m in g.members) for g in groups)
        expected = sorted(sorted(p for p, c in truth.items() if c == k) for k in range(5))
        assert found == expected
        assert all(m.relation == "similar shot" for g in groups for m in g.members[1:])
        assert DupeFinder(store).scan("near") == []  # random phashes: nothing is "the same picture"
    finally:
        store.drop()


def test_reference_folder_keeper_and_not_a_duplicate(store, embedder, tmp_path):
    ref, inbox = tmp_path / "archive", tmp_path / "inbox"
    ref.mkdir()
    inbox.mkdir()
    picture(1, (800, 600)).save(ref / "master.jpg", "JPEG", quality=80)
    picture(1, (800, 600)).save(inbox / "bigger-file.jpg", "JPEG", quality=98)  # same picture, less compressed
    Indexer(store, embedder).run([tmp_path])
    (group,) = DupeFinder(store).scan("near")
    assert group.keep.path == str(inbox / "bigger-file.jpg")
    (group,) = DupeFinder(store, references=[str(ref)]).scan("near")
    assert group.keep.path == str(ref / "master.jpg")
    memory = NotDuplicates(tmp_path / "data" / "not-duplicates.json")
    memory.add(group.members[0].photo.sha256, group.members[1].photo.sha256)
    reloaded = NotDuplicates(tmp_path / "data" / "not-duplicates.json")  # remembered across runs
    assert DupeFinder(store, not_duplicates=reloaded).scan("near") == []


@pytest.fixture
def trash_home():
    """The home trash, under the temporary XDG_DATA_HOME that conftest sets before send2trash is imported."""
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash"
    shutil.rmtree(trash, ignore_errors=True)
    return trash


def test_safe_trash(store, embedder, tmp_path, trash_home):
    lib = tmp_path / "lib"
    fam = make_family(lib, 77)
    Indexer(store, embedder).run([lib])
    os.link(fam["orig"], tmp_path / "hardlink.jpg")  # the keeper again, through a link, indexed separately
    Indexer(store, embedder).run([tmp_path / "hardlink.jpg"])
    (group,) = DupeFinder(store).scan("near")
    assert group.keep.path == fam["png"]
    journal = tmp_path / "journal.jsonl"

    with pytest.raises(UserError, match="every copy"):
        trash_group(group, [m.photo.path for m in group.members], store, journal)

    outcomes = trash_group(group, [fam["resized"], fam["rotated"]], store, journal)
    assert [o.trashed for o in outcomes] == [True, True]
    assert not os.path.exists(fam["resized"]) and sorted(os.listdir(trash_home / "files")) == ["rotated.jpg",
                                                                                               "small.jpg"]
    assert os.path.exists(fam["png"])
    remaining = {p.path for p in DupeFinder(store).photos().values()}
    assert fam["resized"] not in remaining and fam["png"] in remaining
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [entry["action"] for entry in lines] == ["trashed", "trashed"] and lines[0]["keeper"] == fam["png"]

    # The hard link is the same file as the original: trashing "one of them" keeps it when it is the keeper.
    (exact,) = DupeFinder(store).scan("exact")
    link = str(tmp_path / "hardlink.jpg")
    assert exact.keep.path in (fam["orig"], link)
    other = link if exact.keep.path == fam["orig"] else fam["orig"]
    (outcome,) = trash_group(exact, [other], store, journal)
    assert not outcome.trashed and "same file" in outcome.reason and os.path.exists(other)

    # A keeper changed since indexing: nothing is trashed.
    (group,) = DupeFinder(store).scan("near")
    with open(group.keep.path, "ab") as fh:
        fh.write(b"\0")
    victim = next(m.photo.path for m in group.members if m.photo is not group.keep)
    with pytest.raises(UserError, match="changed"):
        trash_group(group, [victim], store, journal)
    assert os.path.exists(victim)


def test_reference_folder_files_are_never_trashed(store, embedder, tmp_path, trash_home):
    (tmp_path / "ref").mkdir()
    (tmp_path / "in").mkdir()
    picture(3, (400, 300)).save(tmp_path / "ref" / "a.jpg", "JPEG", quality=95)
    shutil.copyfile(tmp_path / "ref" / "a.jpg", tmp_path / "ref" / "b.jpg")
    shutil.copyfile(tmp_path / "ref" / "a.jpg", tmp_path / "in" / "c.jpg")
    Indexer(store, embedder).run([tmp_path])
    (group,) = DupeFinder(store, references=[str(tmp_path / "ref")]).scan("exact")
    others = [m.photo.path for m in group.members if m.photo is not group.keep]
    outcomes = {o.path: o for o in trash_group(group, others, store, tmp_path / "j.jsonl",
                                               references=[str(tmp_path / "ref")])}
    assert outcomes[str(tmp_path / "in" / "c.jpg")].trashed
    ref_other = next(p for p in others if "/ref/" in p)
    assert not outcomes[ref_other].trashed and "reference" in outcomes[ref_other].reason

