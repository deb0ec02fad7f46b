"""Faces and people on real face photographs with the real dlib models, on a real node."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imgsearch_desktop.core.analyses.backfill import backfill
from imgsearch_desktop.core.analyses.face_descriptor import DAT_NAME, DlibDescriptor, read_weights
from imgsearch_desktop.core.analyses.faces import DlibFaceModel, FacesAnalysis, default_model, faces_in, models_dir
from imgsearch_desktop.core.images import load_file
from imgsearch_desktop.core.people import People, doc_of, face_key
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.store import doc_id
from imgsearch_desktop.errors import UsageError, UserError
from tests.faces import ASTRONAUT, BIDEN, OBAMA, face_library, two_faces


def analyse(path) -> list[dict]:
    loaded = load_file(path, FacesAnalysis.decode_side).loaded
    return faces_in(default_model(), loaded.image, (loaded.width, loaded.height))


def test_faces_found_with_boxes_in_the_photos_pixels(tmp_path):
    lib = face_library(tmp_path)
    (astronaut,) = analyse(lib[ASTRONAUT])  # 512 px: analysed as it is
    x, y, w, h = astronaut["box"]
    assert 150 < x < 210 and 60 < y < 110 and 70 < w < 110 and 70 < h < 110 and astronaut["score"] > 0.5
    assert len(astronaut["descriptor"]) == 128 and len(astronaut["landmarks"]) == 10
    (portrait,) = analyse(lib["obama.jpg"])  # 910 × 1137, analysed at 800 px: the box is back in 910 × 1137
    x, y, w, h = portrait["box"]
    assert 300 < x < 500 and 100 < y < 300 and 180 < w < 320
    composed = two_faces(tmp_path / "two.jpg")
    assert len(analyse(composed)) == 2


def test_same_person_near_different_people_far(tmp_path):
    lib = face_library(tmp_path)
    vec = {n: np.asarray(analyse(p)[0]["descriptor"]) for n, p in lib.items()}
    same = [np.linalg.norm(vec[a] - vec[b]) for i, a in enumerate(OBAMA) for b in OBAMA[i + 1:]]
    different = [np.linalg.norm(vec[a] - vec[b]) for a in [*OBAMA, BIDEN] for b in [BIDEN, ASTRONAUT] if a != b]
    assert max(same) < 0.5 < 0.7 < min(different)


def test_the_onnx_descriptor_is_dlibs_own_on_every_face(tmp_path):
    """The ResNet read out of dlib's file and run on ONNX Runtime gives dlib's descriptors (the same weights, float32
    rounding apart: within 1e-6), on each real face and on a batch of them; a photo's faces come out of one run in
    detection order."""
    lib = face_library(tmp_path)
    ours = DlibFaceModel()
    theirs = DlibFaceModel(descriptor=DlibDescriptor)
    rgbs = [np.asarray(load_file(p, FacesAnalysis.decode_side).loaded.image) for p in [*lib.values(),
                                                                                      two_faces(tmp_path / "2.jpg")]]
    pairs = [(a, b) for rgb in rgbs for a, b in zip(ours.faces(rgb), theirs.faces(rgb), strict=True)]
    assert len(pairs) == len(lib) + 2
    for a, b in pairs:
        assert a.box == b.box and a.landmarks == b.landmarks
        assert np.abs(a.descriptor - b.descriptor).max() < 1e-6 and a.descriptor.dtype == np.float32


def test_a_damaged_model_file_is_a_clear_error_not_a_wrong_descriptor(tmp_path):
    good = Path(models_dir(), DAT_NAME).read_bytes()
    # cut in the middle of the 256-filter level, and just after a header's first bytes (its sizes cut off)
    for cut in (len(good) // 2, good.index(b"\x01\x02", 19_000) + 2):
        (tmp_path / DAT_NAME).write_bytes(good[:cut])
        with pytest.raises(UserError, match=r"is damaged: a \d+-float tensor was expected and not found; reinstall"):
            read_weights(str(tmp_path / DAT_NAME))


def stored_faces(store) -> dict[str, list]:
    return {src["path"]: src.get("faces") for _id, src in store.documents(None, ["path", "faces"])}


def test_a_library_indexed_without_faces_gets_them_by_the_backfill_without_re_embedding(store, embedder,
                                                                                           counting, tmp_path):
    lib = face_library(tmp_path / "pics")
    first = Indexer(store, embedder).run([str(tmp_path / "pics")])
    assert first.indexed == 5 and sum(counting) == 5 and first.analysed == 0
    assert all(v is None for v in stored_faces(store).values())
    vectors = {i: s["image_embedding"] for i, s in store.documents(None, ["image_embedding"])}

    progress = []
    stats = backfill(store, [FacesAnalysis()], lambda d, t, n: progress.append((d, t)) or True)
    assert stats.analysed == 5 and sum(counting) == 5  # nothing went through CLIP again
    assert progress[0] == (0, 5) and progress[-1] == (5, 5)
    faces = stored_faces(store)
    assert all(len(faces[str(p)]) == 1 for p in lib.values())
    assert {i: s["image_embedding"] for i, s in store.documents(None, ["image_embedding"])} == vectors

    again = Indexer(store, embedder, analyses=[FacesAnalysis()]).run([str(tmp_path / "pics")])
    assert again.analysed == 0 and again.unchanged == 5 and sum(counting) == 5  # resumable: nothing left to do


def test_a_cancelled_backfill_resumes_where_it_stopped(store, embedder, tmp_path):
    face_library(tmp_path / "pics")
    Indexer(store, embedder).run([str(tmp_path / "pics")])
    from imgsearch_desktop.core.analyses import backfill as module

    module.BATCH, old = 2, module.BATCH
    try:
        first = backfill(store, [FacesAnalysis()], lambda d, t, n: d < 2)
    finally:
        module.BATCH = old
    assert first.cancelled and first.analysed == 2
    rest = backfill(store, [FacesAnalysis()])
    assert rest.analysed == 3 and not rest.cancelled


def people_of(people: People, store) -> list[set[str]]:
    paths = store.paths_of([d for p in people.people() for d in p.photos])
    return [{paths[d].rsplit("/", 1)[1] for d in p.photos} for p in people.people()]


def test_one_persons_photos_grouped_different_people_apart(store, embedder, tmp_path):
    lib = face_library(tmp_path / "pics")
    Indexer(store, embedder, analyses=[FacesAnalysis()]).run([str(tmp_path / "pics")])
    people = People(tmp_path / "people.json")
    assert people.update(store) == 5
    (obama,) = people.people()  # Biden and the astronaut: one face each, not shown as people
    assert set(obama.photos) == {doc_id(str(lib[n])) for n in OBAMA}
    assert len(people.people(all_groups=True)) == 3


def test_two_faces_of_one_photo_are_never_one_person(store, embedder, tmp_path):
    """The hardest case: both faces in the photo are of one person (two of his photographs side by side)."""
    face_library(tmp_path / "pics", OBAMA)
    two = two_faces(tmp_path / "pics" / "two.jpg")
    Indexer(store, embedder, analyses=[FacesAnalysis()]).run([str(tmp_path / "pics")])
    people = People(tmp_path / "people.json")
    assert people.update(store) == 5
    groups = people.people(all_groups=True)
    assert all(len(g.photos) == len(g.faces) for g in groups)
    assert sum(doc_id(str(two)) in g.photos for g in groups) == 2
    people.recluster(store)
    assert all(len(g.photos) == len(g.faces) for g in people.people(all_groups=True))


def test_a_name_merge_and_not_this_person_survive_a_recluster_and_a_restart(store, embedder, tmp_path):
    lib = face_library(tmp_path / "pics")
    Indexer(store, embedder, analyses=[FacesAnalysis()]).run([str(tmp_path / "pics")])
    people = People(tmp_path / "people.json")
    people.update(store)
    (obama,) = people.people()
    people.name(obama.id, "Barack")
    groups = {doc_of(g.faces[0]): g for g in people.people(all_groups=True)}
    biden, astronaut = groups[doc_id(str(lib[BIDEN]))], groups[doc_id(str(lib[ASTRONAUT]))]
    merged = people.merge([biden.id, astronaut.id])  # the user says these two are one (wrongly, but theirs to say)
    third = next(k for k in people.resolve("barack").faces if doc_of(k) == doc_id(str(lib["obama3.jpg"])))
    people.not_this_person(third, obama.id)

    for round_ in range(2):
        people.recluster(store)
        people = People(tmp_path / "people.json")  # a restart: everything from the file
        barack = people.resolve("Barack")
        assert barack.id == obama.id and third not in barack.faces and len(barack.faces) == 2, round_
        assert set(people.resolve(merged.id).photos) == {doc_id(str(lib[BIDEN])), doc_id(str(lib[ASTRONAUT]))}
        assert people.resolve(astronaut.id).id == merged.id  # the merged-away id leads to the merge
    assert face_key(doc_of(third), third.split("/")[1].split(",")) == third


def test_split_off_a_faces_look_alikes_holds_through_a_recluster(store, embedder, tmp_path):
    """A wrong merge (Obama's three photos and Biden's) undone by splitting off Biden's face: his face alone goes
    (it is nearer to itself than to the rest), Obama keeps his three; both are the user's word from then on."""
    lib = face_library(tmp_path / "pics", [*OBAMA, BIDEN])
    face_library(tmp_path / "pics" / "copy", [BIDEN])  # a second photo of Biden's face: two faces, one person
    Indexer(store, embedder, analyses=[FacesAnalysis()]).run([str(tmp_path / "pics")])
    people = People(tmp_path / "people.json")
    people.update(store)
    obama = next(p for p in people.people() if doc_id(str(lib["obama.jpg"])) in p.photos)
    biden = next(p for p in people.people() if doc_id(str(lib[BIDEN])) in p.photos)
    merged = people.merge([obama.id, biden.id])
    assert len(merged.faces) == 5
    biden_face = next(k for k in merged.faces if doc_of(k) == doc_id(str(lib[BIDEN])))
    new = people.split(store, merged.id, biden_face)
    assert set(new.photos) == {doc_id(str(lib[BIDEN])), doc_id(str(tmp_path / "pics" / "copy" / BIDEN))}
    assert set(people.resolve(merged.id).photos) == {doc_id(str(lib[n])) for n in OBAMA}
    people.recluster(store)
    people = People(tmp_path / "people.json")
    assert set(people.resolve(new.id).photos) == set(new.photos)
    assert len(people.resolve(merged.id).faces) == 3
    obama_face = people.resolve(merged.id).faces[0]
    with pytest.raises(UsageError):
        people.split(store, new.id, obama_face)  # not one of that person's faces
