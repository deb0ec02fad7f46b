"""People: the faces of the library grouped into persons, and what the user said about them.

Incremental, in one pass over faces in a fixed order: a face joins the person whose mean descriptor is nearest
within ``THRESHOLD`` (never one that already has a face of the same photo, never one the user said it is not),
else it starts a new group; a group is shown as a person from ``MIN_FACES`` faces on (or once named). ``recluster``
redoes every group the user has not touched, and gives the new groups the ids of the old ones they overlap most,
so ids stay stable. What the user says — a name, a merge, "not this person" — lives in a small JSON file in the
data dir and wins over every re-cluster: named or merged persons keep their faces, a rejected face never rejoins.

Faces are read from the store (the faces analysis's nested ``faces``); a face is known by its photo's document id
and its box, so a changed photo's new faces are new faces.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imgsearch_desktop.core import private
from imgsearch_desktop.errors import UsageError

# Euclidean distance between a face's descriptor and a person's mean. DESIGN.md: on 520 labelled pairs, 0.6 decided
# 518 right, 0.55 515 with no false "same"; the stricter one, since merging two people is worse than splitting one
# (a merge is one click, untangling is many). dlib is known to be weaker on children: they split more, not merge.
THRESHOLD = 0.55
MIN_FACES = 2  # unnamed people with one face are not shown as people
STATE_VERSION = 1


def people_path(data_dir: Path, index: str) -> Path:
    """The people file of an index (the CLI and the window share it)."""
    return Path(data_dir) / f"people-{index}.json"


@dataclass
class FaceRow:
    key: str  # "<document id>/<x>,<y>,<w>,<h>"
    doc: str
    descriptor: np.ndarray


def face_key(doc: str, box: Iterable[int]) -> str:
    return f"{doc}/" + ",".join(str(int(v)) for v in box)


def doc_of(key: str) -> str:
    return key.split("/", 1)[0]


def read_faces(store) -> Iterator[FaceRow]:
    """Every face of this library's photos, in a stable order (document id, then position in the photo)."""
    rows = [FaceRow(face_key(doc, face["box"]), doc, np.asarray(face["descriptor"], dtype=np.float32))
            for doc, faces in store.faces_of() for face in faces]
    rows.sort(key=lambda r: r.key)
    yield from rows


@dataclass
class Person:
    id: str
    name: str | None
    faces: list[str]  # face keys

    @property
    def photos(self) -> list[str]:
        return list(dict.fromkeys(doc_of(k) for k in self.faces))


@dataclass
class _State:
    next_id: int = 1
    members: dict[str, list[str]] = field(default_factory=dict)  # person id → face keys
    names: dict[str, str] = field(default_factory=dict)  # person id → the user's name for them
    confirmed: set[str] = field(default_factory=set)  # ids the user named or merged into: kept by a re-cluster
    merged: dict[str, str] = field(default_factory=dict)  # an id merged away → the id it went into
    rejected: dict[str, list[str]] = field(default_factory=dict)  # face key → ids it is not ("not this person")


def _locked(method: Callable) -> Callable:
    """One People object is shared by the window's indexer thread and its pool (the People view's decisions): one
    call at a time. The file is read again first when something else (a CLI `people name`) changed it meanwhile,
    so a decision made there is not overwritten by this object's older state."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            if self._stamp != self._file_stamp():
                self.state = self._load()
            return method(self, *args, **kwargs)

    return wrapper


class People:
    """The library's people, kept in ``path`` (JSON, private to the user). Thread-safe (see ``_locked``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._stamp: tuple[int, int] | None = None
        self.state = self._load()

    # ----- the state file -----
    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _load(self) -> _State:
        self._stamp = self._file_stamp()
        try:
            raw = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return _State()
        except (OSError, ValueError) as exc:
            raise UsageError(f"the people file {self.path} cannot be read ({exc}): move it aside") from None
        return _State(next_id=int(raw.get("next_id", 1)), members={k: list(v) for k, v in raw["members"].items()},
                      names=dict(raw.get("names", {})), confirmed=set(raw.get("confirmed", [])),
                      merged=dict(raw.get("merged", {})), rejected={k: list(v) for k, v in
                                                                    raw.get("rejected", {}).items()})

    def save(self) -> None:
        s = self.state
        data = {"version": STATE_VERSION, "next_id": s.next_id, "members": s.members, "names": s.names,
                "confirmed": sorted(s.confirmed), "merged": s.merged, "rejected": s.rejected}
        private.write_text(self.path, json.dumps(data, ensure_ascii=False))
        self._stamp = self._file_stamp()

    @_locked
    def forget(self) -> None:
        """Faces switched off: every person and decision goes with the face data."""
        self.path.unlink(missing_ok=True)
        self.state = _State()
        self._stamp = None

    # ----- reading -----
    @_locked
    def people(self, all_groups: bool = False) -> list[Person]:
        """The persons shown (named, or with at least MIN_FACES faces), most faces first."""
        out = [Person(pid, self.state.names.get(pid), list(keys)) for pid, keys in self.state.members.items()
               if keys and (all_groups or pid in self.state.names or len(keys) >= MIN_FACES)]
        return sorted(out, key=lambda p: (-len(p.faces), int(p.id)))

    @_locked
    def resolve(self, name_or_id: str) -> Person:
        """A person by id (a merged-away id leads to the one it went into) or by name (case-insensitive)."""
        pid = self._current(name_or_id.strip())
        if pid not in self.state.members:
            wanted = name_or_id.strip().casefold()
            pid = next((p for p, n in self.state.names.items() if n.casefold() == wanted), "")
        if not self.state.members.get(pid):
            raise UsageError(f"no such person: {name_or_id} (see `people`)")
        return Person(pid, self.state.names.get(pid), list(self.state.members[pid]))

    @_locked
    def person_of(self) -> dict[str, str]:
        """Face key → the shown person it belongs to."""
        return {k: p.id for p in self.people() for k in p.faces}

    def _current(self, pid: str) -> str:
        seen = set()
        while pid in self.state.merged and pid not in seen:
            seen.add(pid)
            pid = self.state.merged[pid]
        return pid

    # ----- the user's decisions -----
    @_locked
    def name(self, pid: str, name: str) -> Person:
        person = self.resolve(pid)
        if not name.strip():
            raise UsageError("a person's name cannot be empty")
        self.state.names[person.id] = name.strip()
        self.state.confirmed.add(person.id)
        self.save()
        return self.resolve(person.id)

    @_locked
    def merge(self, ids: list[str], faces: dict[str, FaceRow] | None = None) -> Person:
        """Merge into the first: its id and name stay (else the first name among the others). A photo with a face
        in two of them keeps the first's face; the other is marked "not this person" (one photo, one face each)."""
        people = [self.resolve(i) for i in ids]
        target, others = people[0], [p for p in people[1:] if p.id != people[0].id]
        keys, docs = list(target.faces), {doc_of(k) for k in target.faces}
        for other in others:
            for key in other.faces:
                if doc_of(key) in docs:
                    self.state.rejected.setdefault(key, []).append(target.id)
                    continue
                keys.append(key)
                docs.add(doc_of(key))
            self.state.members.pop(other.id, None)
            self.state.merged[other.id] = target.id
            self.state.confirmed.discard(other.id)
            if other.name and target.id not in self.state.names:
                self.state.names[target.id] = other.name
            self.state.names.pop(other.id, None)
        self.state.members[target.id] = keys
        self.state.confirmed.add(target.id)
        self.save()
        return self.resolve(target.id)

    @_locked
    def not_this_person(self, key: str, pid: str) -> None:
        """This face is not this person: it leaves them for good (the next update places it elsewhere)."""
        person = self.resolve(pid)
        if key not in person.faces:
            raise UsageError(f"that face is not one of person {person.id}'s")
        self.state.members[person.id] = [k for k in person.faces if k != key]
        self.state.rejected.setdefault(key, []).append(person.id)
        self.save()

    def split(self, store, pid: str, key: str) -> Person:
        """Split off a face's look-alikes: this face and the person's faces nearer to it than to the rest (two
        means, seeded by this face and by the others' mean) become a new person. Both are the user's word from
        then on: a re-cluster keeps them, and the split-off faces never rejoin the first. Returns the new person."""
        from imgsearch_desktop.core.people_search import person_faces  # (it reads persons: imported here)

        faces = {f.key: f.descriptor for f in person_faces(store, self.resolve(pid))}
        if key not in faces:
            raise UsageError(f"that face is not one of person {pid}'s")
        return self._split(pid, key, faces)

    @_locked
    def _split(self, pid: str, key: str, faces: dict[str, np.ndarray]) -> Person:
        person = self.resolve(pid)
        keys = [k for k in person.faces if k in faces]
        if len(keys) < 2:
            raise UsageError("a person with one face cannot be split")
        vectors = np.stack([faces[k] for k in keys])
        seed = keys.index(key)
        near = np.zeros(len(keys), dtype=bool)
        near[seed] = True
        for _ in range(10):
            a = vectors[near].mean(axis=0)
            b = vectors[~near].mean(axis=0) if (~near).any() else None
            if b is None:
                break
            now = np.linalg.norm(vectors - a, axis=1) < np.linalg.norm(vectors - b, axis=1)
            now[seed] = True
            if now.all():  # everything looks like it: only the face itself goes
                now = np.zeros(len(keys), dtype=bool)
                now[seed] = True
            if (now == near).all():
                break
            near = now
        moved = [k for k, n in zip(keys, near, strict=True) if n]
        new = str(self.state.next_id)
        self.state.next_id += 1
        self.state.members[new] = moved
        self.state.members[person.id] = [k for k in person.faces if k not in set(moved)]
        for k in moved:
            self.state.rejected.setdefault(k, []).append(person.id)
        self.state.confirmed.update({new, person.id})
        self.save()
        return self.resolve(new)

    # ----- clustering -----
    def update(self, store) -> int:
        """Place the faces not yet in a group (new photos); drop faces whose photo is gone or changed.
        Returns the number of faces placed."""
        rows = list(read_faces(store))  # outside the lock: the view's decisions need not wait for the read
        return self._cluster(rows, touched_only=False)

    def recluster(self, store) -> int:
        """Group every face again; the persons the user named or merged keep their faces, every decision holds,
        and new groups take the ids of the old groups they share most faces with."""
        rows = list(read_faces(store))
        return self._cluster(rows, touched_only=True)

    @_locked
    def _cluster(self, rows: list[FaceRow], touched_only: bool) -> int:
        s = self.state
        keep = set(s.confirmed) if touched_only else set(s.members)
        by_key = {r.key: r for r in rows}
        old = {pid: [k for k in keys if k in by_key] for pid, keys in s.members.items()}
        groups = _Groups(by_key, s.rejected)
        for pid in sorted(keep, key=int):
            if old.get(pid) or pid in s.confirmed:
                groups.seed(pid, old.get(pid, []))
        todo = [row for row in rows if row.key not in groups.group_of]
        groups.place_all(todo)
        placed = len(todo)
        members = self._stable_ids(groups, old, keep)
        s.members = {pid: keys for pid, keys in members.items() if keys or pid in s.confirmed}
        self.save()
        return placed

    def _stable_ids(self, groups: _Groups, old: dict[str, list[str]], keep: set[str]) -> dict[str, list[str]]:
        """Kept groups have their ids; each new group takes the id of the not-kept old group it overlaps most
        (each id once), else a new id."""
        owner = {k: pid for pid, keys in old.items() if pid not in keep for k in keys}
        out: dict[str, list[str]] = {pid: keys for pid, keys in groups.members.items() if not pid.startswith("new")}
        taken = set(out)
        fresh = sorted((g for g in groups.members if g.startswith("new")), key=lambda g: -len(groups.members[g]))
        for g in fresh:
            keys = groups.members[g]
            votes: dict[str, int] = {}
            refused = {pid for k in keys for pid in self.state.rejected.get(k, ())}
            for k in keys:
                if k in owner and owner[k] not in taken and owner[k] not in refused:
                    votes[owner[k]] = votes.get(owner[k], 0) + 1
            if votes:
                pid = max(votes, key=lambda p: (votes[p], -int(p)))
            else:
                pid = str(self.state.next_id)
                self.state.next_id += 1
            taken.add(pid)
            out[pid] = keys
        return out


class _Groups:
    """Groups with running mean descriptors; a face goes to the nearest allowed group within THRESHOLD.

    The means sit in one float32 matrix with their squared norms beside it: distances are |m|² − 2 m·v + |v|², one
    matrix product per chunk of faces (benchmarks/faces.py --cluster: 100,000 faces into 22,000 groups in about
    30 s on one busy core; one face at a time took 500 s)."""

    def __init__(self, rows: dict[str, FaceRow], rejected: dict[str, list[str]]) -> None:
        self.rows = rows
        self.rejected = rejected
        self.ids: list[str] = []
        self.index_of: dict[str, int] = {}
        self.sums = np.zeros((64, 128), dtype=np.float64)
        self.means = np.zeros((64, 128), dtype=np.float32)
        self.squares = np.zeros(64, dtype=np.float32)
        self.counts = np.zeros(64, dtype=np.int64)
        self.members: dict[str, list[str]] = {}
        self.group_of: dict[str, str] = {}
        self.docs: dict[str, set[int]] = {}  # photo → the groups (by position) holding one of its faces
        self._new = 0

    def _add_group(self, pid: str) -> int:
        if len(self.ids) == len(self.counts):
            self.sums, self.means, self.squares, self.counts = (
                np.concatenate([a, np.zeros_like(a)]) for a in (self.sums, self.means, self.squares, self.counts))
        self.index_of[pid] = len(self.ids)
        self.ids.append(pid)
        self.members[pid] = []
        return len(self.ids) - 1

    def _join(self, index: int, row: FaceRow) -> None:
        pid = self.ids[index]
        self.members[pid].append(row.key)
        self.group_of[row.key] = pid
        self.sums[index] += row.descriptor
        self.counts[index] += 1
        self.means[index] = self.sums[index] / self.counts[index]
        self.squares[index] = float(self.means[index] @ self.means[index])
        self.docs.setdefault(row.doc, set()).add(index)

    def seed(self, pid: str, keys: list[str]) -> None:
        index = self._add_group(pid)
        for k in keys:
            self._join(index, self.rows[k])

    def place_all(self, rows: list[FaceRow], chunk: int = 512) -> None:
        """Place faces in order. Distances to the groups that exist when a chunk starts come from one matrix
        product for the whole chunk (those means move a little as the chunk's faces join: the incremental order
        decides anyway); groups the chunk itself starts are measured exactly, face by face."""
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            n0 = len(self.ids)
            vectors = np.stack([r.descriptor for r in part]).astype(np.float32)
            far = (self.squares[:n0][None, :] - 2.0 * (vectors @ self.means[:n0].T)
                   + np.einsum("ij,ij->i", vectors, vectors)[:, None]) if n0 else np.zeros((len(part), 0))
            if n0:
                far[:, self.counts[:n0] == 0] = np.inf
            for i, row in enumerate(part):
                self._place(row, far[i].copy(), n0)

    def _place(self, row: FaceRow, dist: np.ndarray, n0: int) -> None:
        v = row.descriptor
        n = len(self.ids)
        if n > n0:  # groups started within this chunk
            near = self.squares[n0:n] - 2.0 * (self.means[n0:n] @ v) + float(v @ v)
            dist = np.concatenate([dist, near])
        if n:
            for index in self.docs.get(row.doc, ()):  # one photo, one face per person
                dist[index] = np.inf
            for pid in self.rejected.get(row.key, ()):
                if pid in self.index_of:
                    dist[self.index_of[pid]] = np.inf
            best = int(np.argmin(dist))
            if dist[best] < THRESHOLD * THRESHOLD:
                self._join(best, row)
                return
        self._new += 1
        self._join(self._add_group(f"new{self._new}"), row)
