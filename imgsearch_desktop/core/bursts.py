"""Bursts: frames a camera took within a few seconds of one scene, grouped apart from duplicates, with the best
frame as the pick (``shot_quality``) and the user's own pick remembered.

Two frames belong to one burst when all of these hold (``burst_pair``):
  * taken within ``BURST_SECONDS`` of each other: EXIF DateTimeOriginal + SubSecTimeOriginal, else the file's
    mtime — never one against the other (a camera clock and a copy's file time say nothing about each other);
  * by the same camera (EXIF Make + Model, both absent counts as the same), in the same format, with the same
    pixel size (a converted or resized copy is a duplicate, not a frame); without EXIF dates, not the same picture
    by the duplicates' cheap test (files that alike saved seconds apart are copies: a recompressed one, a PNG),
    and with the files' own colours alike and enough in them to compare (a file time says nothing about where a file
    came from: an unpacked set of wallpapers in several colourways, or of near-blank images, is no burst);
  * of the same content: perceptual hashes ≤ ``BURST_BITS`` apart (measured) and CLIP cosine ≥ ``BURST_COSINE``;
  * different shots: not the same bytes, and not the same instant (to the sub-second when both files carry it;
    without sub-seconds, the same second and a same-picture hash is a copy of one shot).
Each linked set is split into stars around its pick (every frame meets the rule against the pick, never A~B~C
with A≁C), as the duplicate tiers are. Burst frames are never in a same-picture or similar-shot group: the
duplicate scan asks ``member_shas`` and leaves them out (only identical files of a frame are still duplicates).
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from imgsearch_desktop.config import read_memory
from imgsearch_desktop.core import exif, images, private, shot_quality
from imgsearch_desktop.core.paths import inside
from imgsearch_desktop.core.progress import Progress
from imgsearch_desktop.core.store import readable_path

if TYPE_CHECKING:
    from imgsearch_desktop.core.dupes import Group, Photo

log = logging.getLogger(__name__)
Looks = Callable[["Photo"], "images.PictureViews | None"]  # a file's own hashes and colours (DupeFinder.views_of)

BURST_SECONDS = 3.0  # from the pick: a phone burst is 3–10 frames a second, a few seconds long
# Perceptual hashes (256 bits), measured on the 13 photographs of /usr/share/backgrounds/mate and 4 of tests/faces:
# frames of one burst (each crop moved ≤ 1.5% as a hand-held camera moves, with blur σ 1.5–2.5, motion blur
# 9–13 px, noise σ 10–20 or ±1.5 EV) lie 32 bits apart at the median, 56 at the 90th percentile, 82 at most;
# two different photographs 104 apart at the least (random hashes: 128).
BURST_BITS = 96
# CLIP only rules out the plainly different: the hash decides. Its cosine between frames of one burst was not measured
# on the full model (this machine has none; the tests' tiny random model put damaged frames of one burst as low as
# 0.81 and different photographs as high as 0.9999), so the floor is low and the measured hash does the work.
BURST_COSINE = 0.5
# Without a camera clock the files' colour grids (images.colour_distance, mean ΔE) must agree. Measured on the same
# 13 + 1 photographs: frames blurred, motion-blurred or noisy ≤ 7.1 (median 1.6); an editor's recolouring (hue +20/256,
# a 20% tint, channels swapped) ≥ 5.5. The floor sits below the recolourings (a burst frame lost to the similar-shot
# tier costs a person a look; a recoloured picture pre-ticked as a frame could cost it), and ±1.5 EV (≥ 14.9) parts.
FILE_TIME_COLOUR = 5.0
SUBSEC = 0x9291  # SubSecTimeOriginal
EXPOSURE_BIAS, EXPOSURE_MODE, AUTO_BRACKET = 0x9204, 0xA402, 2  # ExposureBiasValue; ExposureMode 2: auto bracket
PICKS_VERSION = 1


@dataclass(frozen=True)
class Shot:
    """When and with what a frame was taken, read from its file's header."""

    time: float  # seconds (EXIF date as local wall-clock time, or the file's mtime)
    from_exif: bool  # a camera clock: DateTimeOriginal (DateTime is when some program last wrote the file)
    subsec: bool  # the EXIF date carried sub-seconds
    camera: str
    bias: str = ""  # ExposureBiasValue: frames of a bracket differ in it; a burst's do not
    bracket: bool = False  # ExposureMode says auto bracket: an exposure series, never a burst


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()  # wall-clock: only differences matter


def coarse_time(p: Photo) -> tuple[float, bool] | None:
    """From the index alone: the EXIF date to the second (``taken``), else the file's mtime."""
    if getattr(p, "taken", None):
        try:
            return _seconds(p.taken), True
        except ValueError:
            pass
    return (p.mtime_ns / 1e9, False) if p.mtime_ns else None


def shot_of(data: bytes, p: Photo) -> Shot | None:
    """The frame's exact time and camera from its bytes' EXIF header, else its mtime and no camera."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            facts = exif.of_image(im)
            ifd = dict(im.getexif().get_ifd(exif.EXIF_IFD))
    except Exception:  # a header Pillow cannot read has no facts (the decode says why, later)
        facts, ifd = exif.Facts(), {}
    if facts.taken and ifd.get(exif.DATE_TIME_ORIGINAL):
        fraction = 0.0
        sub = ifd.get(SUBSEC)
        digits = str(sub).strip("\x00 ") if sub is not None else ""
        if digits.isdigit():
            fraction = int(digits) / 10 ** len(digits)
        return Shot(_seconds(facts.taken) + fraction, True, bool(digits.isdigit()), facts.camera,
                    str(ifd.get(EXPOSURE_BIAS, "")), ifd.get(EXPOSURE_MODE) == AUTO_BRACKET)
    if not p.mtime_ns:
        return None
    return Shot(p.mtime_ns / 1e9, False, True, facts.camera)


def _same_size(a: Photo, b: Photo) -> bool:
    return bool(a.width and a.height) and sorted((a.width, a.height)) == sorted((b.width or 0, b.height or 0))


def similar_content(a: Photo, b: Photo) -> tuple[float, int | None] | None:
    """(cosine, hash distance) when the two frames show the same scene, else None."""
    from imgsearch_desktop.core.dupes import hamming

    cos = float(a.vector @ b.vector)
    if cos < BURST_COSINE:
        return None
    bits = hamming(a.phash, b.phash) if a.phash and b.phash else None
    if bits is not None and bits > BURST_BITS:
        return None
    return cos, bits


def burst_pair(a: Photo, b: Photo, shots: dict[str, Shot], looks: Looks | None = None
               ) -> tuple[float, int | None] | None:
    """(cosine, hash distance) when ``a`` and ``b`` are two frames of one burst, else None. ``looks`` reads the
    files' colours, needed when no camera clock vouches for the frames (without it such a pair is no burst)."""
    from imgsearch_desktop.core.dupes import NEAR_BITS, near_match

    sa, sb = shots.get(a.doc_id), shots.get(b.doc_id)
    if sa is None or sb is None or a.sha256 == b.sha256 or sa.from_exif != sb.from_exif:
        return None
    if (a.format or "") != (b.format or ""):
        return None  # one camera writes one format; a PNG of a JPEG is a converted copy
    dt = abs(sa.time - sb.time)
    if dt > BURST_SECONDS or sa.camera != sb.camera or not _same_size(a, b):
        return None
    if sa.bracket or sb.bracket or sa.bias != sb.bias:
        return None  # an exposure bracket (for HDR): every frame is meant to be kept
    content = similar_content(a, b)
    if content is None:
        return None
    if dt == 0 and ((sa.subsec and sb.subsec) or (content[1] is not None and content[1] <= NEAR_BITS)):
        return None  # one instant twice: copies of one shot (the duplicate tiers judge them)
    if not sa.from_exif and near_match(a.phash, b.phash, content[0]):
        return None  # no camera clock: files this alike, saved seconds apart, are copies (recompressed, rotated)
    if not sa.from_exif and not _same_colours(a, b, looks):
        return None
    return content


def _same_colours(a: Photo, b: Photo, looks: Looks | None) -> bool:
    """Both files carry enough to compare (not near-blank) and their colours agree within FILE_TIME_COLOUR."""
    from imgsearch_desktop.core.dupes import MIN_SPREAD, same_colours

    va, vb = (looks(a), looks(b)) if looks is not None else (None, None)
    if va is None or vb is None or min(va.most_spread, vb.most_spread) < MIN_SPREAD:
        return False
    return same_colours(va, vb, FILE_TIME_COLOUR)


def time_candidates(photos: Iterable[Photo]) -> list[list[Photo]]:
    """Runs of photos whose index times lie within BURST_SECONDS (+1 s: the index keeps whole seconds) of the
    next, by time source and pixel size: the only photos whose headers are read."""
    keyed: dict[tuple, list[tuple[float, Photo]]] = {}
    for p in photos:
        t = coarse_time(p)
        if t is not None and p.width and p.height:
            keyed.setdefault((t[1], *sorted((p.width, p.height))), []).append((t[0], p))
    runs = []
    for items in keyed.values():
        items.sort(key=lambda tp: (tp[0], tp[1].path))
        run = [items[0]]
        for item in items[1:]:
            if item[0] - run[-1][0] <= BURST_SECONDS + 1:
                run.append(item)
            else:
                runs.append(run)
                run = [item]
        runs.append(run)
    return [[p for _, p in run] for run in runs if len(run) > 1]


def read(p: Photo) -> bytes | None:
    try:
        return images.read_file(getattr(p, "real", "") or p.path)
    except images.ImageSkipped:
        return None


def read_shot(p: Photo) -> Shot | None:
    """The frame's Shot from its header alone (the safe open's checks first: a regular file, an image)."""
    path = getattr(p, "real", "") or p.path
    try:
        images.read_file(path, header_only=True)
        with open(path, "rb") as fh:
            return shot_of(fh.read(HEADER_BYTES), p)
    except (images.ImageSkipped, OSError):
        return None


HEADER_BYTES = 256 * 1024  # EXIF sits in the first 64 KB of a JPEG (APP1's limit); HEIC/TIFF may put it later


def linked_sets(photos: Iterable[Photo], shots: dict[str, Shot] | None = None, looks: Looks | None = None
                ) -> list[list[Photo]]:
    """Photos linked by ``burst_pair`` (union-find), sets of two or more. Only photos with a candidate partner by
    the index (time, size, content) have their header read (into ``shots``), and only those without a camera
    clock their pixels (by ``looks``)."""
    shots = {} if shots is None else shots
    out: list[list[Photo]] = []
    for run in time_candidates(photos):
        times = [coarse_time(p)[0] for p in run]
        pairs = []
        for i, a in enumerate(run):
            for j in range(i + 1, len(run)):
                if times[j] - times[i] > BURST_SECONDS + 1:
                    break
                if similar_content(a, run[j]):
                    pairs.append((a, run[j]))
        for p in {id(q): q for pair in pairs for q in pair}.values():
            if p.doc_id not in shots and (shot := read_shot(p)) is not None:
                shots[p.doc_id] = shot
        copies = _copies(pairs, shots)
        parent = {p.doc_id: p.doc_id for p in run}
        for a, b in pairs:
            if a.doc_id not in copies and b.doc_id not in copies and burst_pair(a, b, shots, looks):
                ra, rb = _root(parent, a.doc_id), _root(parent, b.doc_id)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        sets: dict[str, list[Photo]] = {}
        for p in run:
            sets.setdefault(_root(parent, p.doc_id), []).append(p)
        out += [s for s in sets.values() if len(s) > 1]
    return out


def _copies(pairs: list[tuple[Photo, Photo]], shots: dict[str, Shot]) -> set[str]:
    """Photos that are another file of a frame's very instant (a recompressed or edited copy keeps its EXIF): the
    least compressed of each such pair (most bytes, then the path) is the frame, the other is no frame at all
    (the duplicate tiers judge it against that frame)."""
    out: set[str] = set()
    for a, b in pairs:
        sa, sb = shots.get(a.doc_id), shots.get(b.doc_id)
        if sa and sb and sa.from_exif and sb.from_exif and sa.time == sb.time and sa.camera == sb.camera \
                and a.sha256 != b.sha256:
            out.add(min((a, b), key=lambda p: (p.size or 0, p.path)).doc_id)
    return out


def _root(parent: dict[str, str], x: str) -> str:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def member_shas(photos: Iterable[Photo], looks: Looks | None = None) -> set[str]:
    """The content (sha256) of every photo that is a frame of a burst: the duplicate tiers leave these out."""
    return {p.sha256 for s in linked_sets(photos, looks=looks) for p in s if p.sha256}


# ---------------------------------------------------------------- the user's picks, remembered
def _parse_picks(data) -> dict[str, dict]:
    return {str(p["sha256"]): {"path": str(p.get("path", "")), "time": str(p.get("time", "")),
                               "others": {str(k): str(v) for k, v in p["others"].items()}}
            for p in data["picks"]}


class BurstPicks:
    """Frames the user chose as their burst's pick, by content: ``sha256`` → the other frames' sha256 → name. A
    later scan makes the latest such frame its burst's pick. Unreadable JSON is set aside with a warning."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.warning: str | None = None
        self._picks: dict[str, dict] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        picks, self.warning = read_memory(self.path, "burst picks", _parse_picks)
        self._picks = picks or {}

    def choose(self, group: Group, photo: Photo) -> None:
        """``photo`` is the pick of ``group``'s burst: remembered against every other frame of it."""
        others = {m.photo.sha256: readable_path(m.photo.path) for m in group.members if m.photo is not photo}
        for sha in others:  # a frame the user chose before in this burst no longer is the pick
            self._picks.pop(sha, None)
        self._picks[photo.sha256] = {"path": readable_path(photo.path), "others": others,
                                     "time": datetime.now(UTC).isoformat(timespec="microseconds")}
        self._save()

    def pick_in(self, photos: Sequence[Photo]) -> Photo | None:
        """The frame of ``photos`` the user chose against at least one other of them (the latest choice)."""
        shas = {p.sha256 for p in photos}
        chosen = [(self._picks[p.sha256]["time"], p) for p in photos
                  if p.sha256 in self._picks and shas & set(self._picks[p.sha256]["others"])]
        return max(chosen, key=lambda c: c[0])[1] if chosen else None

    def __len__(self) -> int:
        return len(self._picks)

    def _save(self) -> None:
        data = {"version": PICKS_VERSION, "picks": [{"sha256": k, **v} for k, v in self._picks.items()]}
        private.write_text(self.path, json.dumps(data, ensure_ascii=False, indent=1))


# ---------------------------------------------------------------- the scan
def scan(finder, photos: Sequence[Photo], picks: BurstPicks | None = None, progress: Progress | None = None,
         eye_model: shot_quality.EyeModel | None = None) -> list[Group]:
    """Burst groups of ``photos``: every frame scored, stars around the pick (the user's, else the best)."""
    shots: dict[str, Shot] = {}
    sets = linked_sets(photos, shots, finder.views_of)
    model = eye_model if eye_model is not None else shot_quality.default_eye_model()
    total = sum(len(s) for s in sets)
    done = 0
    groups: list[Group] = []
    for frames in sets:
        by_sha: dict[str, list[Photo]] = {}
        for p in frames:
            by_sha.setdefault(p.sha256, []).append(p)
        # One file per content is the frame (by the keep rules); its identical copies are identical files of it.
        frames = [finder.policy.pick(same) if len(same) > 1 else same[0] for same in by_sha.values()]
        scores: dict[str, shot_quality.FrameScore] = {}
        for p in frames:
            data = read(p)
            score = None
            if data is not None:
                try:
                    image = images.decode(data, shot_quality.ANALYSIS_SHORT, name=p.path).image
                    score = shot_quality.measure(image, model)
                except images.ImageSkipped:
                    score = None
                except Exception:  # one odd frame (a 1 px strip, a face model's error) is left out, not the scan
                    log.warning("cannot score %s as a burst frame", readable_path(p.path), exc_info=True)
                    score = None
            if score is not None:
                scores[p.doc_id] = score
            done += 1
            if progress and not progress(done, total, "scoring burst frames"):
                return groups
        frames = [p for p in frames if p.doc_id in scores]
        if len(frames) < 2:
            continue
        ranked = [scores[p.doc_id] for p in frames]
        shot_quality.rank(ranked)
        groups += _stars(finder, frames, scores, shots, picks)
    groups.sort(key=lambda g: (g.keep.path,))
    return groups


def _stars(finder, frames: list[Photo], scores: dict[str, shot_quality.FrameScore], shots: dict[str, Shot],
           picks: BurstPicks | None) -> list[Group]:
    def order(p: Photo) -> tuple:
        s = scores[p.doc_id]
        return s.good_faces, s.score, finder.may_keep(p), p.path

    left = sorted(frames, key=order, reverse=True)
    chosen = picks.pick_in(left) if picks else None
    if chosen is not None:
        left.remove(chosen)
        left.insert(0, chosen)
    out = []
    while len(left) > 1:
        pick, rest = left[0], left[1:]
        members = [(p, r) for p in rest
                   if not finder.vetoed(pick, p) and (r := burst_pair(pick, p, shots, finder.views_of))]
        if members:
            out.append(group_of(finder, pick, members, scores, user=pick is chosen, clocked=_clocked(pick, shots)))
        taken = {id(p) for p, _ in members}
        left = [p for p in rest if id(p) not in taken]
    return out


def group_of(finder, pick: Photo, members: list[tuple[Photo, tuple[float, int | None]]],
             scores: dict[str, shot_quality.FrameScore], user: bool = False, clocked: bool = True) -> Group:
    """The burst as a group: the pick first (its reasons as the group's ``why``), every other frame pre-ticked
    (a person keeps one frame of a burst) unless it lies in a reference folder or no camera clock vouches for the
    burst (``clocked`` False: frames linked by file times, as screenshots or scanned pages can be, wait for the
    person to tick them)."""
    from imgsearch_desktop.core.dupes import Group, Member, Tier

    mine = scores[pick.doc_id]
    keep_why = ("chosen by you; " if user else "") + mine.why
    out = [Member(pick, 1.0, why=f"keep: {keep_why}", quality=mine)]
    for p, (cos, bits) in sorted(members, key=lambda pr: pr[0].path):
        real = getattr(p, "real", "") or os.path.realpath(p.path)
        protected = "in a reference folder" if any(inside(real, r) for r in finder.references) else ""
        m = Member(p, cos, Tier.BURST, bits, protected=protected, why=scores[p.doc_id].why, quality=scores[p.doc_id])
        m.ticked = m.pre_ticked and not protected and clocked
        out.append(m)
    return Group(pick, out, Tier.BURST, keep_why=keep_why)


def rekeep(finder, group: Group, photo: Photo, picks: BurstPicks | None = None) -> Group:
    """``group`` with the user's pick ``photo`` (remembered in ``picks``): the other frames judged again against
    it (one taken too long before or after it leaves the group; a rescan shows it where it belongs)."""
    others = [m.photo for m in group.members if m.photo is not photo]
    shots = {p.doc_id: s for p in [photo, *others] if (s := read_shot(p)) is not None}
    scores = {m.photo.doc_id: m.quality for m in group.members if m.quality is not None}
    members = [(p, r) for p in others if p.doc_id in scores and not finder.vetoed(photo, p)
               and (r := burst_pair(photo, p, shots, finder.views_of))]
    if picks is not None:
        picks.choose(group, photo)
    return group_of(finder, photo, members, scores, user=True, clocked=_clocked(photo, shots))


def _clocked(pick: Photo, shots: dict[str, Shot]) -> bool:
    """The burst's times come from a camera clock (every frame's does as its pick's: ``burst_pair``)."""
    shot = shots.get(pick.doc_id)
    return shot is not None and shot.from_exif
