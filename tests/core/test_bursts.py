"""Bursts on real photographs (Debian's mate-backgrounds and tests/faces), indexed for real: frames made from each
photo with measured damage (tests/burst_frames.py), the pick is the undamaged frame, bursts of different scenes
taken a second apart stay apart, no burst frame is in a duplicate group, the trash keeps the pick, the user's pick
wins and is remembered; the eye aspect ratio on the real faces' own landmarks."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgsearch_desktop.core import bursts, shot_quality
from imgsearch_desktop.core.dupes import DupeFinder, Tier
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.trash import default_plan, trash_plan
from tests import burst_frames as bf

pytestmark = pytest.mark.skipif(not bf.PHOTOS[0].exists(), reason="mate-backgrounds not installed")
SOURCES = [*bf.PHOTOS, bf.FACES / "obama.jpg", bf.FACES / "biden.jpg", bf.FACES / "astronaut.png"]
PER_SOURCE = 3
DAMAGES_PER_BURST = 3  # + the clean frame: 4 frames a burst


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """PER_SOURCE bursts of each photo, every burst a second after the one before (another scene in between, so
    only the content can tell two bursts apart), each frame 0.25 s after the last, one Canon camera."""
    root = tmp_path_factory.mktemp("bursts") / "lib"
    rng = np.random.default_rng(2028)
    names = list(bf.DAMAGES)
    expected: list[tuple[set[str], str]] = []  # (the burst's frames, its clean frame)
    when = datetime(2024, 5, 1, 10, 0, 0)
    for round_ in range(PER_SOURCE):
        for k, source_path in enumerate(SOURCES):
            source = bf.load(source_path)
            damages = [names[i] for i in rng.choice(len(names), DAMAGES_PER_BURST, replace=False)]
            clean_at = int(rng.integers(DAMAGES_PER_BURST + 1))
            frames, clean = bf.write_burst(root / f"r{round_}-{k:02d}-{source_path.stem}", source, when, damages,
                                           rng, clean_at=clean_at)
            expected.append(({str(p) for p in frames}, str(clean)))
            when += timedelta(seconds=0.25 * len(frames) + 1.0)
    return root, expected


@pytest.fixture(scope="module")
def indexed(library, es_client, embedder):
    import uuid

    from imgsearch_desktop.core.store import Store

    store = Store(es_client, f"test-{uuid.uuid4().hex[:10]}", retry_for=5)
    store.use_index(embedder.image_model_name, embedder.dims)
    root, expected = library
    assert Indexer(store, embedder).run([root]).indexed == sum(len(f) for f, _ in expected)
    yield store, expected
    for name in es_client.indices.get(index=f"{store.alias}-*"):
        es_client.indices.delete(index=name)


@pytest.fixture(scope="module")
def burst_groups(indexed):
    store, _ = indexed
    return DupeFinder(store).scan(Tier.BURST)


def test_each_burst_is_one_group_and_scenes_a_second_apart_stay_apart(indexed, burst_groups):
    _, expected = indexed
    found = sorted(sorted(m.photo.path for m in g.members) for g in burst_groups)
    assert found == sorted(sorted(frames) for frames, _ in expected)
    for g in burst_groups:  # a star around the pick: every frame meets the rule against it
        assert g.members[0].photo is g.keep and g.level is Tier.BURST and g.why == g.keep_why
        assert all(m.tier is Tier.BURST and m.score >= bursts.BURST_COSINE for m in g.members[1:])


def test_the_pick_is_the_undamaged_frame_in_95_percent_of_bursts(indexed, burst_groups):
    _, expected = indexed
    clean_of = {frozenset(frames): clean for frames, clean in expected}
    right = 0
    for g in burst_groups:
        clean = clean_of[frozenset(m.photo.path for m in g.members)]
        right += g.keep.path == clean
        if g.keep.path != clean:  # the misses, frame by frame, for the log
            print(f"missed: picked {g.keep.path}")
            for m in g.members:
                print(f"    {'clean ' if m.photo.path == clean else '      '}{Path(m.photo.path).name} "
                      f"{m.quality.as_json()} {m.quality.why}")
    print(f"pick = the undamaged frame in {right}/{len(expected)} bursts")
    assert len(burst_groups) == len(expected) == len(SOURCES) * PER_SOURCE
    assert right >= 0.95 * len(expected)
    for g in burst_groups:
        assert g.keep_why and g.members[0].why.startswith("keep: ")
        assert all(m.quality is not None and m.why for m in g.members)
        assert all(m.ticked for m in g.members[1:]) and not g.members[0].ticked


def test_no_burst_frame_is_in_a_duplicate_group(indexed):
    store, expected = indexed
    frames = set().union(*(f for f, _ in expected))
    finder = DupeFinder(store)
    for level, threshold in ((Tier.SAME_PICTURE, 0.9), (Tier.SIMILAR, 0.5)):
        groups = finder.scan(level, threshold)
        assert not {m.photo.path for g in groups for m in g.members} & frames, level
    # without the rule the same frames are similar shots of each other: the exclusion is what keeps them out
    finder._burst_shas = set()
    g = next(iter(DupeFinder(store).scan(Tier.BURST)))
    assert any(finder.relation(g.keep, m.photo, Tier.SIMILAR, 0.5) for m in g.members[1:])


def test_json_scores(burst_groups):
    g = burst_groups[0]
    data = g.as_json()
    assert data["level"] == "burst" and data["keep"] == g.keep.path and data["why"] == g.keep_why
    for f in data["files"]:
        assert {"sharpness", "exposure", "eyes", "faces", "noise", "total"} <= set(f["scores"]), f
        assert 0 <= f["scores"]["exposure"] <= 1 and f["why"]
    assert json.loads(json.dumps(data)) == data


# ---------------------------------------------------------------- one small burst, changed on disk
@pytest.fixture
def small_burst(tmp_path, store, embedder):
    """One burst of Dune.jpg (clean first, then blurred and noisy), plus two copies that are not frames of it: the
    same bytes, and the clean frame recompressed with its EXIF (the same instant)."""
    rng = np.random.default_rng(5)
    folder = tmp_path / "burst"
    frames, clean = bf.write_burst(folder, bf.load(bf.BACKGROUNDS / "nature" / "Dune.jpg"),
                                   datetime(2024, 6, 1, 12, 0, 0), ["blur σ2.5", "noise σ20"], rng)
    shutil.copyfile(clean, tmp_path / "burst" / "copy.jpg")
    with Image.open(clean) as im:
        im.save(folder / "recompressed.jpg", "JPEG", quality=80, exif=im.info["exif"])
    os.utime(folder / "copy.jpg")
    Indexer(store, embedder).run([folder])
    return store, [str(p) for p in frames], str(clean), folder


def test_copies_of_a_frame_are_not_frames(small_burst):
    store, frames, clean, folder = small_burst
    (group,) = DupeFinder(store).scan(Tier.BURST)
    assert sorted(m.photo.path for m in group.members) == sorted(frames)
    near = DupeFinder(store).scan(Tier.SAME_PICTURE)  # the same bytes stay an identical file of the clean frame
    assert {frozenset(m.photo.path for m in g.members) for g in near} == {frozenset({clean, str(folder / "copy.jpg")})}


def test_the_trash_keeps_the_pick(small_burst, trash_home):
    store, frames, clean, _ = small_burst
    (group,) = DupeFinder(store).scan(Tier.BURST)
    assert group.keep.path == clean
    report, error = trash_plan(default_plan([group]), store, Path(frames[0]).parent.parent / "journal.jsonl")
    assert error is None and sorted(o.path for o in report.trashed) == sorted(p for p in frames if p != clean)
    assert os.path.exists(clean) and not any(os.path.exists(p) for p in frames if p != clean)


def test_the_users_pick_wins_and_is_remembered(small_burst, tmp_path):
    store, frames, clean, _ = small_burst
    picks = bursts.BurstPicks(tmp_path / "burst-picks.json")
    finder = DupeFinder(store, burst_picks=picks)
    (group,) = finder.scan(Tier.BURST)
    other = next(m.photo for m in group.members if m.photo.path != clean)
    regrouped = finder.rekeep(group, other)
    assert regrouped.keep is other and regrouped.keep_why.startswith("chosen by you")
    assert sorted(m.photo.path for m in regrouped.members) == sorted(frames)
    again = DupeFinder(store, burst_picks=bursts.BurstPicks(tmp_path / "burst-picks.json"))
    (group,) = again.scan(Tier.BURST)
    assert group.keep.path == other.path and group.keep_why.startswith("chosen by you")
    (tmp_path / "burst-picks.json").write_text("{not json")
    broken = bursts.BurstPicks(tmp_path / "burst-picks.json")
    assert broken.warning and len(broken) == 0 and list(tmp_path.glob("burst-picks*"))


@pytest.fixture
def trash_home():
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash"
    shutil.rmtree(trash, ignore_errors=True)
    return trash


# ---------------------------------------------------------------- eyes: the real faces' own landmarks
@pytest.mark.parametrize("name", ["obama.jpg", "obama2.jpg", "biden.jpg", "astronaut.png"])
def test_eye_aspect_ratio_on_real_open_eyes(name):
    """No photo of these faces with eyes closed is available under a licence the repo can carry, so the closed
    eye is the same real landmarks with each lid brought to the line between the eye's corners."""
    model = shot_quality.default_eye_model()
    image = shot_quality.load_frame(str(bf.FACES / name))
    (_box, points), *_ = sorted(model.faces(np.asarray(image)), key=lambda f: -f[0][2])
    left, right = shot_quality.eyes_of(points)
    # 0.18, not EAR_OPEN: obama.jpg's open eyes measure 0.196 here, why rank() also calls open 70% of the burst's best
    assert 0.18 <= min(left, right) <= 0.45, (left, right)
    closed = list(points)
    for eye in (range(36, 42), range(42, 48)):
        i = list(eye)
        corner_y = (points[i[0]][1] + points[i[3]][1]) / 2
        for j in (i[1], i[2], i[4], i[5]):
            closed[j] = (points[j][0], corner_y + (points[j][1] - corner_y) * 0.15)
    assert max(shot_quality.eyes_of(closed)) < shot_quality.EAR_OPEN * 0.5
    open_frame = shot_quality.measure(image, model)
    shut = shot_quality.measure(image, model)
    shut.faces[0].eyes = max(shot_quality.eyes_of(closed))
    pick = shot_quality.rank([shut, open_frame])
    assert pick == 1 and "eyes closed" in shut.why and "eyes open" in open_frame.why


# ---------------------------------------------------------------- what a burst is not
def _resave(frames: list[Path], folder: Path, exif_of) -> list[Path]:
    """The frames saved again into ``folder`` with the EXIF ``exif_of(i, exif)`` makes, file times 0.25 s apart."""
    folder.mkdir(parents=True)
    out = []
    for i, path in enumerate(frames):
        with Image.open(path) as im:
            target = folder / path.name
            im.save(target, "JPEG", quality=92, exif=exif_of(i, im.getexif()).tobytes())
        os.utime(target, ns=(1_717_243_200_000_000_000 + i * 250_000_000,) * 2)
        out.append(target)
    return out


def test_what_no_camera_clock_vouches_for_is_never_pre_ticked_and_a_bracket_is_no_burst(tmp_path, store, embedder):
    """Frames linked by file times (a scanner's pages, screenshots: DateTime is when a program wrote the file, not a
    camera clock) wait for the person to tick them; an exposure bracket (ExposureBiasValue differs) is kept whole."""
    from imgsearch_desktop.core import exif as exif_tags

    rng = np.random.default_rng(11)
    source = bf.load(bf.BACKGROUNDS / "nature" / "Dune.jpg")
    frames, _ = bf.write_burst(tmp_path / "camera", source, datetime(2024, 6, 1, 12, 0, 0), ["blur σ1.5"], rng)

    def written_by_a_program(i, ex):
        ex.get_ifd(exif_tags.EXIF_IFD).clear()
        ex[exif_tags.DATE_TIME] = "2024:06:01 12:00:00"
        return ex

    def bracketed(i, ex):  # a minute later (else these would be copies of the camera's frames: the same instants)
        ex.get_ifd(exif_tags.EXIF_IFD)[exif_tags.DATE_TIME_ORIGINAL] = "2024:06:01 12:01:00"
        ex.get_ifd(exif_tags.EXIF_IFD)[bursts.EXPOSURE_BIAS] = (-2.0, 2.0)[i]
        return ex

    program = _resave(frames, tmp_path / "program", written_by_a_program)
    bracket = _resave(frames, tmp_path / "bracket", bracketed)
    Indexer(store, embedder).run([tmp_path])
    groups = {Path(g.keep.path).parent.name: g for g in DupeFinder(store).scan(Tier.BURST)}
    assert set(groups) == {"camera", "program"}, {k: [m.photo.path for m in g.members] for k, g in groups.items()}
    assert [m.ticked for m in groups["camera"].members[1:]] == [True]
    assert [m.ticked for m in groups["program"].members[1:]] == [False]
    assert {m.photo.path for m in groups["program"].members} == {str(p) for p in program}
    assert not {str(p) for p in bracket} & {m.photo.path for g in groups.values() for m in g.members}


def test_a_not_a_duplicate_mark_and_an_odd_frame_part_a_frame_from_its_burst(small_burst, tmp_path, monkeypatch):
    from imgsearch_desktop.core.dupes import NotDuplicates

    store, frames, clean, _ = small_burst
    marks = NotDuplicates(tmp_path / "not-duplicates.json")
    (group,) = DupeFinder(store, not_duplicates=marks).scan(Tier.BURST)
    marked = next(m for m in group.members if m.photo.path != clean)
    marks.mark(group, marked)
    (group,) = DupeFinder(store, not_duplicates=marks).scan(Tier.BURST)
    assert marked.photo.path not in {m.photo.path for m in group.members}

    measure = shot_quality.measure

    def odd(image, model):  # what a 1 px strip did to the scorer: one frame's error, not the scan's
        odd.calls += 1
        if odd.calls == 1:
            raise ValueError("cannot pad an empty axis")
        return measure(image, model)

    odd.calls = 0
    monkeypatch.setattr(shot_quality, "measure", odd)
    groups = DupeFinder(store).scan(Tier.BURST)
    assert odd.calls == len(frames) and len(groups) == 1 and len(groups[0].members) == len(frames) - 1


def test_picks_that_are_not_utf8_are_set_aside(tmp_path):
    (tmp_path / "burst-picks.json").write_bytes(b"\xff\xfe{\x00")
    picks = bursts.BurstPicks(tmp_path / "burst-picks.json")
    assert picks.warning and len(picks) == 0 and not (tmp_path / "burst-picks.json").exists()
