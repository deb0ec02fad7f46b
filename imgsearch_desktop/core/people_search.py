"""Searching by face or person, and the window's side of people: a person's faces and their crops, the faces of a
query photo, person and face queries. The persons themselves and the user's decisions are core/people.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from imgsearch_desktop.core.people import People, Person, face_key
from imgsearch_desktop.core.query import Query, QueryResult, run_query
from imgsearch_desktop.errors import UsageError, UserError

# ----- searching by face or person -----
SAME_PERSON = 0.6  # a query face matches a photo's face within this distance (dlib's own verification threshold)
COMPOSED_CANDIDATES = 1000  # a face composed with other parts: the photos of that face the other parts rank


def query_face(path: str) -> np.ndarray:
    """The descriptor of the largest face in a photo file (the query's face)."""
    from imgsearch_desktop.core import images
    from imgsearch_desktop.core.analyses.faces import FacesAnalysis, largest_face

    analysis = FacesAnalysis()
    try:
        loaded = images.decode(images.read_file(path), analysis.decode_side, name=path)
    except images.ImageSkipped as exc:
        raise UserError(f"Cannot search with this image: {path}: {exc}") from None
    face = largest_face(analysis.analyse(loaded.image, (loaded.width, loaded.height))["faces"])
    if face is None:
        raise UserError(f"no face found in {path}")
    return np.asarray(face["descriptor"], dtype=np.float32)


def face_filter(store, people: People | None, filters, person: str | None, face_file: str | None, k: int,
                composed: bool):
    """``--person`` narrows the filters to the person's photos; ``--face`` finds the photos with that face (nearest
    first): alone they are the answer, composed with other parts they are what those parts rank. Returns the
    filters and the face hits."""
    from dataclasses import replace

    if people is None:
        raise UsageError("faces are off (setting faces = false, or --no-faces): no --person or --face")
    if person:
        photos = people.resolve(person).photos
        if filters.photo_ids is not None:
            photos = [p for p in photos if p in set(filters.photo_ids)]
        filters = replace(filters, photo_ids=photos)
    hits = []
    if face_file:
        descriptor = query_face(face_file)
        found = store.face_knn(descriptor, k=COMPOSED_CANDIDATES if composed else k, max_distance=SAME_PERSON,
                               filters=filters)
        hits = [hit for hit, _distance, _which in found]
        if composed:
            filters = replace(filters, photo_ids=[h.image_id for h in hits])
    return filters, hits


# ----- the window's side: a person's faces, face crops, the faces of a query photo, person and face queries -----
@dataclass
class PersonFace:
    key: str
    doc: str
    path: str
    box: tuple[int, int, int, int]
    descriptor: np.ndarray

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


def box_of(key: str) -> tuple[int, int, int, int]:
    x, y, w, h = (int(v) for v in key.split("/", 1)[1].split(","))
    return x, y, w, h


def person_faces(store, person: Person) -> list[PersonFace]:
    """A person's faces with their photo's path and descriptor, the most typical first (nearest to the person's
    mean descriptor): the first is the face that stands for them, and their photos are shown in this order."""
    from imgsearch_desktop.core.store import Filters, path_from_source

    wanted = set(person.faces)
    out: list[PersonFace] = []
    docs = store.documents(Filters(photo_ids=person.photos), ["path", "path_b64", "faces.box", "faces.descriptor"])
    for doc, source in docs:
        path = path_from_source(source)
        for face in source.get("faces") or []:
            key = face_key(doc, face["box"])
            if key in wanted:
                out.append(PersonFace(key, doc, path, tuple(int(v) for v in face["box"]),
                                      np.asarray(face["descriptor"], dtype=np.float32)))
    if out:
        mean = np.mean([f.descriptor for f in out], axis=0)
        out.sort(key=lambda f: (float(np.linalg.norm(f.descriptor - mean)), -f.area, f.key))
    return out


FACE_MARGIN = 0.35  # a face thumbnail shows this much of the box's size around it (hair, chin)


def face_crop(path: str, box: Iterable[int], side: int = 160):
    """A square RGB thumbnail of the face at ``box`` (the photo's pixels) in the photo file at ``path``, decoded
    only as large as the thumbnail needs. Raises images.ImageSkipped when the photo cannot be read."""
    import io

    from PIL import Image

    from imgsearch_desktop.core import images

    x, y, w, h = (int(v) for v in box)
    reach = max(w, h) * (1 + 2 * FACE_MARGIN)
    data = images.read_file(path)
    with images.pillow_reasons(), Image.open(io.BytesIO(images.viewable(data, path))) as im:
        shortest = min(im.size)  # the same before and after an EXIF rotation
    target = max(1, min(shortest, int(shortest * side / max(reach, 1)) + 1))
    loaded = images.decode(data, target, name=path)
    f = loaded.image.width / max(1, loaded.width)
    cx, cy, half = (x + w / 2) * f, (y + h / 2) * f, reach * f / 2
    crop = loaded.image.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
    return crop.resize((side, side), Image.Resampling.LANCZOS)


@dataclass
class PhotoFaces:
    """The faces of a query photo: boxes in its pixels, with its size and each face's descriptor."""

    width: int
    height: int
    faces: list[dict]  # {"box": [x, y, w, h], "descriptor": [...]}
    indexed: bool  # read from the index (else found now)


def photo_faces(store, path: str | None = None, data: bytes | None = None) -> PhotoFaces:
    """The faces of a query photo: the stored ones when the file is indexed as it is now (and has been analysed),
    else found now with the faces analysis (about half a second: call it off the main thread)."""
    from imgsearch_desktop.core import images
    from imgsearch_desktop.core.analyses.faces import FacesAnalysis
    from imgsearch_desktop.core.query import unchanged_source

    analysis = FacesAnalysis()
    if path is not None and store is not None:
        source = unchanged_source(store, path)
        if source is not None and (source.get("analyses") or {}).get("faces") == analysis.version:
            faces = [{"box": list(f["box"]), "descriptor": list(f["descriptor"])} for f in source.get("faces") or []]
            return PhotoFaces(int(source.get("width") or 0), int(source.get("height") or 0), faces, True)
    raw = images.read_file(path) if path is not None else (data or b"")
    loaded = images.decode(raw, analysis.decode_side, name=path or "pasted image")
    found = analysis.analyse(loaded.image, (loaded.width, loaded.height))["faces"]
    return PhotoFaces(loaded.width, loaded.height, [{"box": f["box"], "descriptor": f["descriptor"]} for f in found],
                      False)


@dataclass
class PeopleQuery(Query):
    """A query with a person filter and/or a face part (the window's composer; the CLI's --person / --face)."""

    person: str | None = None  # only this person's photos (an id)
    person_name: str = ""
    face: tuple[float, ...] | None = None  # a positive part: photos with this face, nearest first
    face_source: str = ""  # where the face is from, in words

    def describe(self) -> str:
        words = [Query.describe(self)] if self.all_parts() else []
        if self.face is not None:
            words.insert(0, f"face in {self.face_source or 'the photo'}")
        text = " + ".join(w for w in words if w)
        if self.person:
            text = (self.person_name or f"person {self.person}") + (f" · {text}" if text else "")
        return text


PERSON_PHOTOS = 1000  # a person alone: up to this many of their photos, best face first


def run_people_query(embedder, store, people: People, query, keep=None):
    """The window's ``run_query`` for a ``PeopleQuery``: the person narrows the filters (inside kNN); a face alone
    finds the photos with that face, nearest first; composed with other parts, those parts rank that face's
    photos (as `search --face`); a person alone is their photos, the most typical face first."""
    import time
    from dataclasses import replace

    started = time.perf_counter()
    filters = query.filters
    person = None
    if query.person:
        person = people.resolve(query.person)
        photos = person.photos
        if filters.photo_ids is not None:
            photos = [p for p in photos if p in set(filters.photo_ids)]
        filters = replace(filters, photo_ids=photos)
    composed = any(p.weight > 0 for p in query.all_parts())
    if query.face is not None:
        found = store.face_knn(list(query.face), k=COMPOSED_CANDIDATES if composed else query.k,
                               max_distance=SAME_PERSON, filters=filters)
        if not composed:
            return QueryResult(query, [hit for hit, _d, _w in found], time.perf_counter() - started)
        filters = replace(filters, photo_ids=[hit.image_id for hit, _d, _w in found])
    if composed:
        result = run_query(embedder, store, replace(query, filters=filters), keep)
        result.query = query
        return result
    if person is None:
        raise UsageError("a query needs a photo, a sentence, a face or a person")
    faces = person_faces(store, person)
    if not faces:
        return QueryResult(query, [], time.perf_counter() - started)
    # Their photos ranked by the face nearest to the person's mean: the most typical face first (a photo is the
    # person's by that face; the filter keeps the kNN to their photos).
    mean = np.mean([f.descriptor for f in faces], axis=0)
    found = store.face_knn([float(v) for v in mean], k=min(len(person.photos), PERSON_PHOTOS), filters=filters)
    return QueryResult(query, [hit for hit, _d, _w in found], time.perf_counter() - started)
