"""The scan: candidate pairs from the vectors (an exact in-memory join, or a kNN query per photo above
``EXACT_JOIN_MAX``), union-find into linked sets, then star groups around keepers, each member checked against its
keeper by its tier's rule (``DupeFinder.relation``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imgsearch_desktop.core import bursts, images
from imgsearch_desktop.core.dupes.groups import Group, Member, Photo, Relation
from imgsearch_desktop.core.dupes.keep import DEFAULT_KEEP_RULES, KeepPolicy, KeepRule, mark_derived
from imgsearch_desktop.core.dupes.marks import NotDuplicates
from imgsearch_desktop.core.dupes.similarity import near_match, same_colours
from imgsearch_desktop.core.dupes.tiers import (
    ASPECT_TOLERANCE,
    COLOUR_DELTA,
    MIN_SPREAD,
    NEAR_BITS,
    NEAR_COSINE,
    SIMILAR_COSINE,
    Tier,
)
from imgsearch_desktop.core.paths import identity, inside
from imgsearch_desktop.core.progress import Progress
from imgsearch_desktop.core.store import Filters, path_from_source, root_from_source
from imgsearch_desktop.core.vector_store import VectorStore

# Photos up to which candidates come from the exact in-memory join: its cost grows with N², a kNN query per photo
# with N·log N; where the two cross on two cores is measured by benchmarks/dupes.py (README, Duplicates).
EXACT_JOIN_MAX = 300_000
JOIN_BLOCK_FLOATS = 50_000_000  # one block of the join's score matrix: 200 MB of float32
JOIN_PER_ROW = 50  # partners a photo keeps from the join at most (the kNN path asks for 10 neighbours)


@dataclass
class ScanStats:
    """What a scan did, for the benchmark and the log."""

    photos: int = 0
    candidate_pairs: int = 0
    linked_sets: int = 0  # sets linked by candidate pairs, before the split (what union-find alone would show)
    groups: int = 0  # star groups after the split
    off_keeper: int = 0  # photos of linked sets that failed the rule against the set's best photo
    files_checked: int = 0  # files read for the strict same-picture check (a finder remembers them)
    check_seconds: float = 0.0
    low_content: int = 0  # files refused "same picture": too flat for a hash to say anything
    gone: int = 0  # indexed files no longer on disk (left out)
    seconds: float = 0.0


def cosine_pairs(vectors: np.ndarray, floor: float, per_row: int = JOIN_PER_ROW,
                 progress: Progress | None = None) -> Iterator[tuple[int, int]]:
    """(i, j), i < j, of unit ``vectors`` whose cosine is ≥ ``floor``: the upper triangle of the similarity matrix, a
    block of rows at a time (a block holds ``JOIN_BLOCK_FLOATS`` scores at most). Each row keeps its ``per_row``
    best partners at most, so a low threshold cannot ask for N²/2 pairs: union-find still links a larger group
    through them, and the star split then judges every member against its keeper."""
    n = len(vectors)
    rows = max(16, min(1024, JOIN_BLOCK_FLOATS // max(n, 1)))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        scores = vectors[start:stop] @ vectors[start:].T  # columns from ``start``: only the diagonal block has j ≤ i
        scores[np.tril_indices(stop - start)] = -np.inf  # the photo itself, and pairs seen from an earlier row
        hits = scores >= floor
        dense = np.flatnonzero(hits.sum(axis=1) > per_row)
        for r in dense:  # a row above its budget keeps its best partners only
            row = scores[r]
            hits[r] = False
            hits[r, np.argpartition(-row, per_row)[:per_row]] = True
            hits[r] &= row >= floor
        ii, jj = np.nonzero(hits)
        yield from zip((ii + start).tolist(), (jj + start).tolist(), strict=True)
        if progress and not progress(stop, n, "comparing"):
            return


class DupeFinder:
    def __init__(self, store: VectorStore, near_bits: int = NEAR_BITS, near_cosine: float = NEAR_COSINE,
                 references: Sequence[str] = (), not_duplicates: NotDuplicates | None = None,
                 batch: int = 100, neighbours: int = 10, keep_rules: Sequence[KeepRule] = DEFAULT_KEEP_RULES,
                 folder_priority: Sequence[str] = (), min_spread: float = MIN_SPREAD,
                 exact_join_max: int = EXACT_JOIN_MAX, colour_delta: float = COLOUR_DELTA,
                 policy: KeepPolicy | None = None, burst_picks: bursts.BurstPicks | None = None) -> None:
        """``policy`` (from ``keep_policy(settings)``) replaces ``references``/``keep_rules``/``folder_priority``;
        ``burst_picks``: the user's burst picks (a burst scan honours them, a rekeep of a burst remembers it)."""
        self.store = store
        self.colour_delta = colour_delta
        self.exact_join_max = exact_join_max
        self.near_bits = near_bits
        self.near_cosine = near_cosine
        self.policy = policy or KeepPolicy(keep_rules, references, folder_priority)
        self.references = [os.path.realpath(r) for r in self.policy.references]
        self.not_duplicates = not_duplicates
        self.batch = batch
        self.neighbours = neighbours
        self.min_spread = min_spread
        self.stats = ScanStats()
        self._views: dict[tuple[str, int, int], images.PictureViews | None] = {}  # kept between scans
        self._flat: set[str] = set()  # photos of this scan too flat to hash
        self._library: list[str] = []  # real paths of the folders this scan's photos were indexed under
        self.burst_picks = burst_picks
        self._burst_shas: set[str] = set()  # this scan's burst frames (by content): never a near/similar member

    # ----- reading the index -----
    def photos(self, folders: Sequence[str] = ()) -> dict[str, Photo]:
        fields = ["path", "path_b64", "sha256", "size", "width", "height", "mtime_ns", "format", "phash",
                  "image_embedding", "root", "relative_path", "taken_at"]
        out = {}
        for doc, s in self.store.documents(Filters(folders=list(folders)), fields, page=500):
            out[doc] = Photo(doc, path_from_source(s), s.get("sha256", ""), s.get("size") or 0,
                             s.get("width") or 0, s.get("height") or 0, s.get("mtime_ns") or 0,
                             s.get("format") or "", s.get("phash"), np.asarray(s["image_embedding"], dtype=np.float32),
                             root=root_from_source(s) if s.get("root") else "", taken=s.get("taken_at"))
        return out

    # ----- the scan -----
    def scan(self, level: str | Tier = Tier.SAME_PICTURE, threshold: float = SIMILAR_COSINE,
             folders: Sequence[str] = (), progress: Progress | None = None) -> list[Group]:
        """Duplicate groups of the library (or of these folders), largest wasted space first."""
        started = time.perf_counter()
        tier = Tier.parse(level)
        folders = [os.path.abspath(f) for f in folders]
        self.stats, self._flat = ScanStats(), set()
        photos = self.photos(folders)
        self._library = sorted({os.path.realpath(p.root) for p in photos.values() if p.root})
        self.stats.photos = len(photos)
        if tier is Tier.BURST:
            groups = bursts.scan(self, list(photos.values()), self.burst_picks, progress)
            self.stats.groups, self.stats.seconds = len(groups), time.perf_counter() - started
            return groups
        # The one place bursts are kept out of the duplicate tiers: their frames are judged in their own tier.
        self._burst_shas = bursts.member_shas(photos.values(), self.views_of) if tier is not Tier.EXACT else set()
        pairs = self._candidate_pairs(photos, tier, threshold, folders, progress)
        self.stats.candidate_pairs = len(pairs)
        sets = self._linked_sets(photos, pairs)
        self.stats.linked_sets = len(sets)
        if tier is not Tier.EXACT:
            self._prefetch(sets, tier, progress)
        groups = []
        for done, members in enumerate(sets, 1):
            groups += self._split(members, tier, threshold)
            if progress and not progress(done, len(sets), "checking groups"):
                break
        groups.sort(key=lambda g: (-g.wasted_bytes, g.keep.path))
        self.stats.groups, self.stats.low_content = len(groups), len(self._flat)
        self.stats.seconds = time.perf_counter() - started
        return groups

    def _candidate_pairs(self, photos: dict[str, Photo], tier: Tier, threshold: float, folders: Sequence[str],
                         progress: Progress | None) -> set[tuple[str, str]]:
        """Pairs worth a closer look: same sha256, and vector neighbours that pass the cheap (indexed) checks."""
        pairs: set[tuple[str, str]] = set()
        by_sha: dict[str, list[str]] = {}
        for p in photos.values():
            if p.sha256:
                by_sha.setdefault(p.sha256, []).append(p.doc_id)
        for same in by_sha.values():
            pairs |= {_pair(same[0], other) for other in same[1:]}
        if tier is Tier.EXACT:
            return pairs
        if len(photos) <= self.exact_join_max:
            return pairs | self._joined_pairs(photos, tier, threshold, progress)
        ids = list(photos)
        for start in range(0, len(ids), self.batch):
            chunk = [photos[i] for i in ids[start:start + self.batch]]
            for photo, found in zip(chunk, self._neighbours(chunk, tier, threshold, folders), strict=True):
                for other in (photos.get(i) for i in found):
                    if other is not None and other is not photo and self._plausible(photo, other, tier, threshold):
                        pairs.add(_pair(photo.doc_id, other.doc_id))
            if progress and not progress(min(start + self.batch, len(ids)), len(ids), "comparing"):
                break
        return pairs

    def _joined_pairs(self, photos: dict[str, Photo], tier: Tier, threshold: float,
                      progress: Progress | None) -> set[tuple[str, str]]:
        """The pairs at or above the tier's cosine (``cosine_pairs``) that then pass ``_plausible``."""
        ids = list(photos)
        if len(ids) < 2:
            return set()
        vectors = np.stack([photos[i].vector for i in ids], dtype=np.float32)  # one copy, normalised in place
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        floor = (threshold if tier is Tier.SIMILAR else self.near_cosine) - 1e-4  # float32 rounding: _plausible decides
        pairs = set()
        for i, j in cosine_pairs(vectors, floor, progress=progress):
            a, b = photos[ids[i]], photos[ids[j]]
            if self._plausible(a, b, tier, threshold):
                pairs.add(_pair(a.doc_id, b.doc_id))
        return pairs

    def _plausible(self, a: Photo, b: Photo, tier: Tier, threshold: float) -> bool:
        cos = float(a.vector @ b.vector)
        if tier is Tier.SIMILAR:
            return cos >= threshold
        return self.near(a, b, cos)

    def near(self, a: Photo, b: Photo, score: float) -> bool:
        """The cheap same-picture test (``near_match``) and the same aspect ratio: worth reading the files for."""
        return near_match(a.phash, b.phash, score, self.near_bits, self.near_cosine) and _same_aspect(a, b)

    def _neighbours(self, chunk: Sequence[Photo], tier: Tier, threshold: float,
                    folders: Sequence[str]) -> list[list[str]]:
        """One kNN per photo, sent together (the store's knn_many): on the phash for same picture, CLIP for similar."""
        filters = Filters(folders=list(folders))
        if tier is Tier.SAME_PICTURE:
            return self.store.knn_many("phash", [p.phash or None for p in chunk], self.neighbours, filters)
        return self.store.knn_many("image_embedding", [p.vector for p in chunk], self.neighbours, filters,
                                   min_score=threshold)

    def _linked_sets(self, photos: dict[str, Photo], pairs: set[tuple[str, str]]) -> list[list[Photo]]:
        """Union-find over the pairs, after resolving names to files: gone files are left out, and every name of
        one (st_dev, st_ino) becomes one photo (its aliases), so a file is never its own duplicate."""
        canonical = self._resolve(photos, {i for pair in pairs for i in pair})
        uf = _UnionFind()
        for a, b in pairs:
            ca, cb = canonical.get(a), canonical.get(b)
            if ca and cb and ca is not cb and not self.vetoed(ca, cb):
                uf.union(ca.doc_id, cb.doc_id)
        by_id = {p.doc_id: p for p in canonical.values()}
        sets: dict[str, list[Photo]] = {}
        for doc in uf.parent:
            sets.setdefault(uf.find(doc), []).append(by_id[doc])
        return [members for members in sets.values() if len(members) > 1]

    def _resolve(self, photos: dict[str, Photo], ids: set[str]) -> dict[str, Photo]:
        by_inode: dict[tuple[int, int], list[Photo]] = {}
        for doc in sorted(ids):
            p = photos[doc]
            found = identity(p.path)
            if found is None:
                self.stats.gone += 1
                continue
            p.real, p.inode = found
            by_inode.setdefault(p.inode, []).append(p)
        canonical: dict[str, Photo] = {}
        for names in by_inode.values():
            names.sort(key=lambda p: (p.path != p.real, len(p.path), p.path))  # the real name first
            head = names[0]
            head.aliases = [p.path for p in names[1:]]
            head.alias_ids = [p.doc_id for p in names[1:]]
            canonical.update((p.doc_id, head) for p in names)
        return canonical

    # ----- keepers -----
    def may_keep(self, p: Photo) -> bool:
        """A keeper must be a real file inside the library: not a symlink, nor a file whose real path lies outside
        every indexed folder (and every reference folder the user named). Kept in favour of such a link, the
        library's own copy would be trashed, and the file that stays is one the user never put in the library."""
        if os.path.islink(p.path):
            return False
        real = p.real or os.path.realpath(p.path)
        return not self._library or any(inside(real, f) for f in (*self._library, *self.references))

    def _rank(self, p: Photo) -> tuple:
        """Keeper order: any real file inside the library before any other, then the keep rules."""
        return self.may_keep(p), *self.policy.key(p)

    # ----- star groups -----
    def _split(self, photos: list[Photo], level: Tier, threshold: float) -> list[Group]:
        """Star groups of one linked set. At the same-picture level a photo too flat to hash (or unreadable) can
        only be an identical file: it is grouped by sha256 alone, so a folder of blank icons costs no N² checks."""
        known: dict[tuple[int, int], Relation | None] = {}  # (keeper, photo) → relation: each pair judged once

        def relate(keep: Photo, p: Photo) -> Relation | None:
            pair = (id(keep), id(p))
            if pair not in known:
                known[pair] = self.relation(keep, p, level, threshold)
            return known[pair]

        mark_derived(photos)  # a lossless decode of a lossy file ranks below it: before any keeper is chosen
        best = max(photos, key=self._rank)  # what union-find alone would have shown: one group around the best
        self.stats.off_keeper += sum(p is not best and not relate(best, p) for p in photos)
        if level is not Tier.SAME_PICTURE:
            return self._stars(photos, level, threshold, relate)  # its first keeper is `best`: reuses those
        hashable = [p for p in photos if self._hashable(p)]
        by_sha: dict[str, list[Photo]] = {}
        for p in photos:
            if not self._hashable(p):
                by_sha.setdefault(p.sha256, []).append(p)
        groups = self._stars(hashable, level, threshold, relate)
        for same in by_sha.values():
            groups += self._stars(same, level, threshold, relate)
        return groups

    def _stars(self, photos: list[Photo], level: Tier, threshold: float,
               relate: Callable[[Photo, Photo], Relation | None]) -> list[Group]:
        """The best photo left keeps every photo that meets the rule against it (``relate``: the level's rule) and
        against no one it was marked "not a duplicate" of; repeat with what is left. No chains: A~B, B~C never puts
        C with A."""
        left = sorted(photos, key=self._rank, reverse=True)
        groups = []
        while len(left) > 1:
            keep, rest = left[0], left[1:]
            related = [(r, p) for p in rest if (r := relate(keep, p))]
            related.sort(key=lambda rp: (rp[0].tier.order, -rp[0].score, rp[1].path))
            chosen: list[tuple[Relation, Photo]] = []
            for rel, p in related:
                if not any(self.vetoed(p, q) for _, q in chosen):
                    chosen.append((rel, p))
            if chosen:
                groups.append(self._group(keep, chosen, level, threshold))
            taken = {id(p) for _, p in chosen}
            left = [p for p in rest if id(p) not in taken]
        return groups

    def _hashable(self, p: Photo) -> bool:
        views = self.views_of(p)
        return views is not None and views.most_spread >= self.min_spread

    def relation(self, keep: Photo, other: Photo, level: str | Tier = Tier.SIMILAR,
                 threshold: float = SIMILAR_COSINE) -> Relation | None:
        """How ``other`` relates to ``keep`` at this level, or None: the one rule every group member meets."""
        level = Tier.parse(level)
        if self.vetoed(keep, other):
            return None
        score = float(keep.vector @ other.vector)
        if keep.sha256 and keep.sha256 == other.sha256:
            return Relation(Tier.EXACT, score, 0)
        if level is Tier.EXACT or level is Tier.BURST:
            return None  # (a burst's frames are related by core/bursts.burst_pair)
        if self._burst_shas and (keep.sha256 in self._burst_shas or other.sha256 in self._burst_shas):
            return None  # a frame of a burst: in its burst, not a same-picture or similar-shot group
        if level is Tier.SIMILAR and score < threshold:
            return None  # every member's score ≥ the level's threshold, whatever its tier
        bits = self.same_picture(keep, other, score)
        if bits is not None:
            return Relation(Tier.SAME_PICTURE, score, bits)
        return Relation(Tier.SIMILAR, score) if level is Tier.SIMILAR else None

    def same_picture(self, a: Photo, b: Photo, score: float | None = None) -> int | None:
        """The hash distance when ``a`` and ``b`` are the same picture, else None. Needs all of: CLIP ≥ near_cosine,
        indexed hashes ≤ near_bits, the same aspect ratio, the files' hashes on a white and a black background
        within near_bits wherever the image carries enough to hash (never for a blank or near-flat image), and
        the same colours (the hashes see brightness only: one design in two colourways hashes alike)."""
        score = float(a.vector @ b.vector) if score is None else score
        if not self.near(a, b, score):
            return None
        va, vb = self.views_of(a), self.views_of(b)
        if not same_colours(va, vb, self.colour_delta):
            return None
        bits = []
        for ha, hb, sa, sb in ((va.on_white, vb.on_white, va.spread_white, vb.spread_white),
                               (va.on_black, vb.on_black, va.spread_black, vb.spread_black)):
            flat_a, flat_b = sa < self.min_spread, sb < self.min_spread
            if flat_a != flat_b:
                return None  # blank on this background for one, not the other: different pictures
            if not flat_a:
                bits.append((ha ^ hb).bit_count())
        if not bits or max(bits) > self.near_bits:
            return None
        return max(bits)

    def views_of(self, p: Photo) -> images.PictureViews | None:
        """The file's own hashes and colours, read once a scan (None: unreadable); a near-blank one is counted."""
        key = _views_key(p)
        if key not in self._views:
            self._views[key], seconds = _read_views(p)
            self.stats.files_checked += 1
            self.stats.check_seconds += seconds
        views = self._views[key]
        if views and views.most_spread < self.min_spread:
            self._flat.add(p.doc_id)
        return views

    def _prefetch(self, sets: list[list[Photo]], level: Tier, progress: Progress | None) -> None:
        """Read the files the strict same-picture check will need, on a few threads (decoding releases the GIL):
        at the same-picture level every photo of a linked set; at the similar level only photos with a
        same-picture candidate (indexed hash and CLIP close enough) in their set."""
        todo: dict[tuple[str, int, int], Photo] = {}
        for photos in sets:
            for p in photos if level is Tier.SAME_PICTURE else _near_candidates(photos, self):
                if _views_key(p) not in self._views:
                    todo.setdefault(_views_key(p), p)
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            for done, (key, (views, seconds)) in enumerate(zip(todo, pool.map(_read_views, todo.values()),
                                                               strict=True), 1):
                self._views[key] = views
                self.stats.files_checked += 1
                self.stats.check_seconds += seconds
                if progress and not progress(done, len(todo), "reading candidate files"):
                    return

    def vetoed(self, a: Photo, b: Photo) -> bool:
        """The user said one of these is not a duplicate of the other (their burst too)."""
        return bool(self.not_duplicates and self.not_duplicates.vetoes(a.sha256, b.sha256))

    def _group(self, keep: Photo, chosen: list[tuple[Relation, Photo]], level: Tier, threshold: float) -> Group:
        runner_up = self.policy.pick(p for _, p in chosen)
        keep_why = (self.policy.explain(keep, runner_up) if self.policy.key(keep) >= self.policy.key(runner_up)
                    else "a real file inside the library")  # the rules' favourite is a link or lies outside it
        members = [Member(keep, 1.0, why=f"keep: {keep_why}")]
        outside = not self.may_keep(keep)  # only when the user chose it: the library's own copies stay unticked
        copies = self._copies_of_members(keep, [p for _, p in chosen])
        for rel, p in sorted(chosen, key=lambda rp: rp[1].path):
            protected = "in a reference folder" if any(inside(p.real or os.path.realpath(p.path), r)
                                                       for r in self.references) else ""
            copy_of = copies.get(id(p))
            why = f"identical to {Path(copy_of.path).name}" if copy_of is not None else rel.why
            m = Member(p, rel.score, rel.tier, rel.bits, False, protected, why, copy_of)
            m.ticked = m.pre_ticked and not protected and not (outside and self.may_keep(p))
            members.append(m)
        return Group(keep, members, level, threshold, keep_why)

    def _copies_of_members(self, keep: Photo, photos: list[Photo]) -> dict[int, Photo]:
        """id(photo) → the member it is an identical copy of: among members with the same bytes (not the keeper's:
        those are identical files of the keeper already), the best by the keep rules is the one it copies. Every
        member is still judged against the keeper (identical bytes score alike); this only says what it is."""
        by_sha: dict[str, list[Photo]] = {}
        for p in photos:
            if p.sha256 and p.sha256 != keep.sha256:
                by_sha.setdefault(p.sha256, []).append(p)
        out: dict[int, Photo] = {}
        for same in by_sha.values():
            head = max(same, key=self._rank)
            out.update((id(p), head) for p in same if p is not head)
        return out

    def rekeep(self, group: Group, photo: Photo) -> Group:
        """The group with ``photo`` as its keeper (the user chose it): every other member is judged again against
        it, and one that no longer meets the group's rule is left out (a rescan shows it where it belongs)."""
        if group.level is Tier.BURST:
            return bursts.rekeep(self, group, photo, self.burst_picks)
        others = [m.photo for m in group.members if m.photo is not photo]
        chosen = [(r, p) for p in others if (r := self.relation(photo, p, group.level, group.threshold))]
        if not chosen:
            return Group(photo, [Member(photo, 1.0, why="keep: chosen by you")], group.level, group.threshold,
                         "chosen by you")
        regrouped = self._group(photo, chosen, group.level, group.threshold)
        regrouped.keep_why = "chosen by you"
        regrouped.members[0].why = "keep: chosen by you"
        return regrouped


def _views_key(p: Photo) -> tuple[str, int, int]:
    return p.real or p.path, p.size, p.mtime_ns


def _read_views(p: Photo) -> tuple[images.PictureViews | None, float]:
    """The photo's views (None when it cannot be read now) and the seconds it took."""
    started = time.perf_counter()
    try:
        views = images.picture_views(p.real or p.path)
    except images.ImageSkipped:
        views = None
    return views, time.perf_counter() - started


def _near_candidates(photos: list[Photo], finder: DupeFinder) -> list[Photo]:
    """Photos of a linked set with a possible same-picture partner in it (the cheap, indexed checks); CLIP first,
    as a matrix product in slices, so a large set costs no N² Python loop."""
    vectors = np.stack([p.vector for p in photos])
    out: set[int] = set()
    for start in range(0, len(photos), 1000):
        scores = vectors[start:start + 1000] @ vectors.T
        for i, j in np.argwhere(scores >= finder.near_cosine):
            a, b = photos[start + i], photos[j]
            if a is not b and finder.near(a, b, float(scores[i, j])):
                out |= {start + int(i), int(j)}
    return [photos[i] for i in sorted(out)]


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _same_aspect(a: Photo, b: Photo) -> bool:
    if not (a.width and a.height and b.width and b.height):
        return False
    ra, rb = a.width / a.height, b.width / b.height
    return abs(ra - rb) <= ASPECT_TOLERANCE * max(ra, rb)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
