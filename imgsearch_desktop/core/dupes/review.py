"""The duplicates review's logic, without Qt (dupeGuru's core/gui split): what the user decided — ticks and
keepers — remembered by file so every redraw and rescan repeats it, the groups redrawn around the keepers chosen,
the texts a group is shown with, and the export. app/dupes_view.py and app/dupes_widgets.py present it."""

from __future__ import annotations

import csv
import itertools
import json
import os
from pathlib import Path

from imgsearch_desktop.core.dupes.finder import DupeFinder
from imgsearch_desktop.core.dupes.groups import Group, Member, Photo, megabytes, plural
from imgsearch_desktop.core.dupes.tiers import Tier
from imgsearch_desktop.core.paths import readable_path

FileKey = tuple[str, str]


def file_key(p: Photo) -> FileKey:
    """A file as the user knows it: where it really is and what it holds (an edited file is a new decision)."""
    return p.real or os.path.realpath(p.path), p.sha256


class Choices:
    """What the user decided in this window — ticks and keepers — by file, so every redraw and rescan repeats it.

    Unticking a file ("keep it") holds wherever the file shows up again. Ticking it holds as long as the same file
    is its keeper: a file checked as a copy of A is not silently checked as a similar shot of B."""

    def __init__(self) -> None:
        self.ticks: dict[FileKey, tuple[bool, FileKey]] = {}  # file → (ticked, the keeper it was judged against)
        self.keepers: dict[FileKey, int] = {}  # → when chosen (the latest choice wins when two meet in one group)
        self.burst_picks: dict[FileKey, int] = {}  # the same for bursts: a burst's pick is no duplicate's keeper
        self._clock = itertools.count()

    def keepers_for(self, level: Tier | str) -> dict[FileKey, int]:
        """The keepers chosen in this tier's kind of group: a burst's pick, or a duplicate group's keeper."""
        return self.burst_picks if Tier.parse(level) is Tier.BURST else self.keepers

    def ticked(self, group: Group, m: Member) -> bool:
        if m.is_keeper or m.protected:
            return False
        default = m.pre_ticked
        on, keeper = self.ticks.get(file_key(m.photo), (default, file_key(group.keep)))
        return on and (keeper == file_key(group.keep) or default)

    def set_ticked(self, group: Group, m: Member, on: bool) -> None:
        self.ticks[file_key(m.photo)] = on, file_key(group.keep)

    def chose_keeper(self, group: Group, photo: Photo) -> None:
        keepers = self.keepers_for(group.tier)
        for m in group.members:  # the group's other photos are no longer the user's keeper
            keepers.pop(file_key(m.photo), None)
        keepers[file_key(photo)] = next(self._clock)

    def keeper_in(self, group: Group) -> Photo | None:
        return chosen_keeper(group, self.keepers_for(group.tier))


def chosen_keeper(group: Group, keepers: dict[FileKey, int]) -> Photo | None:
    """The photo of ``group`` the user chose to keep (the latest choice), or None."""
    chosen = [(keepers[k], m.photo) for m in group.members if (k := file_key(m.photo)) in keepers]
    return max(chosen, key=lambda c: c[0])[1] if chosen else None


def apply_keepers(finder: DupeFinder, groups: list[Group], keepers: dict[FileKey, int]) -> list[Group]:
    """Pool thread, after a scan: each group around the keeper the user chose in it earlier, if any."""
    out = []
    for group in groups:
        photo = chosen_keeper(group, keepers)
        if photo is not None and photo is not group.keep:
            group = finder.rekeep(group, photo)
        if len(group.members) > 1:
            out.append(group)
    return out


def why_text(group: Group) -> str:
    """The group's ``why`` without repeating its tier's name: "hashes 4 bits apart, similarity 0.99"."""
    why, prefix = group.why, f"{group.tier.label}: "
    if why.startswith(prefix):
        why = why[len(prefix):]
        if group.tier is Tier.SIMILAR:
            why = f"similarity {why}"
    return why


def header_text(group: Group) -> str:
    """"Same picture · 4 files · 2.1 MB to free — hashes 4 bits apart, similarity 0.99"."""
    text = (f"{group.tier.label.capitalize()} · {plural(len(group.members), 'file')} · "
            f"{megabytes(group.wasted_bytes)} to free")
    why = why_text(group)
    return f"{text} — {why}" if why else text


def export_groups(groups: list[Group], path: Path) -> None:
    """The groups as JSON Lines (``.json``/``.jsonl``: ``dupes --json``'s shape) or CSV, one row a file."""
    if path.suffix.lower() in (".json", ".jsonl"):
        path.write_text("".join(json.dumps(g.as_json(), ensure_ascii=False) + "\n" for g in groups),
                        encoding="utf-8")
        return
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["group", "level", "role", "path", "size", "width", "height", "score", "checked", "why"])
        for i, g in enumerate(groups, 1):
            for m in g.members:
                p = m.photo
                writer.writerow([i, g.level.value, m.relation, readable_path(p.path), p.size, p.width, p.height,
                                 f"{m.score:.6f}", int(m.ticked), m.why])
