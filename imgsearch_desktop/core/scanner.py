"""Walk photo folders → (path, size, mtime) of every supported image, then diff that against the index.

Symlinked folders are followed once (a loop is cut), and a file reachable twice — through a hard link, a symlink or
nested roots — is listed once (same ``(st_dev, st_ino)``). What is left out (hidden, system, the user's excluded
folders) is one rule, ``Exclusions``, shared with the watcher.

A file the walk did not see is not necessarily gone: a folder that cannot be listed (EACCES, I/O error), a missing
root or a dangling symlink (an unplugged drive) hides files that still exist. ``probe`` tells the cases apart, so
an index entry is dropped only when its file is known to be gone.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from imgsearch_desktop.core.filekind import special_kind
from imgsearch_desktop.core.images import is_supported_path
from imgsearch_desktop.core.paths import root_of, under
from imgsearch_desktop.core.store import IndexedFile

EXCLUDED_DIRS = {".git", ".svn", ".hg", "node_modules", "@eaDir", "$RECYCLE.BIN", "System Volume Information",
                 "__pycache__", ".Trash", ".Trashes", "lost+found", "#recycle", ".thumbnails", ".cache"}


@dataclass(frozen=True)
class FileEntry:
    path: str  # absolute, os.fsdecode form
    root: str  # the indexed folder it was found under
    size: int
    mtime_ns: int


@dataclass
class ScanResult:
    files: list[FileEntry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) found while walking
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # (folder, reason): could not be listed


@dataclass(frozen=True)
class Exclusions:
    """The one rule for what indexing leaves out — used by the walk, the watcher and the watcher's change sets.

    Left out: hidden folders and files (a leading dot: `.git`, macOS `._` forks), the system and tool folders of
    EXCLUDED_DIRS, and the user's excluded folders. A bare name matches a folder of that name at any depth *below
    the indexed root* (never above it: a library at /mnt/backup/Pictures with "backup" excluded is not excluded
    itself); an entry with a separator is a folder path.
    """

    names: frozenset[str] = frozenset()
    paths: frozenset[str] = frozenset()

    @classmethod
    def of(cls, excluded: Iterable[str] = ()) -> Exclusions:
        excluded = list(excluded)
        return cls(frozenset(e for e in excluded if os.sep not in e),
                   frozenset(os.path.abspath(e).rstrip(os.sep) or os.sep for e in excluded if os.sep in e))

    def __bool__(self) -> bool:
        """Whether the user excluded anything (the built-in part of the rule always applies)."""
        return bool(self.names or self.paths)

    def skips_folder(self, name: str, path: str) -> bool:
        """The walk meets folder ``name`` at absolute ``path``: leave it out?"""
        return name.startswith(".") or name in EXCLUDED_DIRS or name in self.names or path in self.paths

    @staticmethod
    def skips_file(name: str) -> bool:
        return name.startswith(".")

    def covers(self, path: str, roots: Iterable[str] = ()) -> bool:
        """An absolute file path is left out: hidden itself, or inside a left-out folder below its root (the
        deepest of ``roots`` holding it; with none, every folder above it counts)."""
        if self.skips_file(os.path.basename(path)):
            return True
        root = root_of(path, [os.path.abspath(r) for r in roots]) or ""
        folder = os.path.dirname(path)
        while folder and folder != root and under(folder, root or os.sep) and folder != os.path.dirname(folder):
            if self.skips_folder(os.path.basename(folder), folder):
                return True
            folder = os.path.dirname(folder)
        return False


def scan(roots: Iterable[str | os.PathLike[str]], excluded: Iterable[str] = ()) -> ScanResult:
    """All supported image files under ``roots`` (folders or single files), each physical file once."""
    result = ScanResult()
    seen_files: set[tuple[int, int]] = set()
    seen_dirs: set[tuple[int, int]] = set()
    rule = Exclusions.of(excluded)

    def add_file(path: str, root: str, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if key in seen_files:
            return
        seen_files.add(key)
        result.files.append(FileEntry(path, root, st.st_size, st.st_mtime_ns))

    def listing(folder: str) -> list[os.DirEntry] | None:
        """The folder's entries by name, or None (unreadable, or already walked: a symlink loop, nested roots)."""
        try:
            st = os.stat(folder)
        except OSError as exc:
            result.unreachable.append((folder, f"folder unreadable: {exc.strerror}"))
            return None
        if (st.st_dev, st.st_ino) in seen_dirs:
            return None
        seen_dirs.add((st.st_dev, st.st_ino))
        try:
            return sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            result.unreachable.append((folder, f"folder unreadable: {exc.strerror}"))
            return None

    def walk(top: str, root: str) -> None:
        """Depth first, in name order, with a stack of its own: a 1,500-level tree is no RecursionError."""
        first = listing(top)
        stack: list[Iterator[os.DirEntry]] = [iter(first)] if first is not None else []
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            try:
                if entry.is_dir():  # follows symlinks; loops are cut by seen_dirs
                    if not rule.skips_folder(entry.name, entry.path):
                        sub = listing(entry.path)
                        if sub is not None:
                            stack.append(iter(sub))
                elif entry.is_file() and is_supported_path(entry.name) and not rule.skips_file(entry.name):
                    add_file(entry.path, root, entry.stat())
                elif entry.is_symlink() and not os.path.exists(entry.path) and is_supported_path(entry.name):
                    result.skipped.append((entry.path, "broken symlink or symlink loop"))
            except OSError as exc:
                reason = "symlink loop" if exc.errno == errno.ELOOP else f"unreadable: {exc.strerror}"
                result.skipped.append((entry.path, reason))

    for raw in roots:
        root = os.path.abspath(os.fspath(raw))
        if os.path.isdir(root):
            walk(root, root)
        elif os.path.isfile(root):
            if is_supported_path(root):
                add_file(root, os.path.dirname(root), os.stat(root))
            else:
                result.skipped.append((root, f"unsupported file type {Path(root).suffix or '(none)'}"))
        elif (kind := special_kind(root)) is not None:
            result.skipped.append((root, f"not a photo or a folder: {kind}"))
        else:
            result.unreachable.append((root, "no such file or folder"))
    return result


class Probe(NamedTuple):
    """What is at an indexed file's path now."""

    stat: os.stat_result | None  # set when it is a regular file
    unreachable: tuple[str, str] | None = None  # (folder, reason) when it cannot be told whether the file is there

    @property
    def gone(self) -> bool:
        return self.stat is None and self.unreachable is None


def probe(path: str, root: str) -> Probe:
    """Is ``path`` (under the indexed folder ``root``) a regular file, known gone, or unreachable?

    Gone: missing while the folders above it can be searched, or no longer a regular file (a folder took its
    name). Unreachable: its root is missing, a folder above it cannot be searched, or the way to it is a dangling
    symlink — the file may well still be there.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        error = exc
    else:
        return Probe(st if stat.S_ISREG(st.st_mode) else None)
    if not os.path.isdir(root):
        return Probe(None, (root, "no such file or folder"))
    # Climb to the deepest ancestor stat() can reach: `top` is the first component below it that it cannot.
    top, parent = path, os.path.dirname(path)
    while parent != top and under(parent, root) and not os.path.exists(parent):
        top, parent = parent, os.path.dirname(parent)
    if os.path.islink(top):
        return Probe(None, (top, "broken symlink (its target is missing)"))
    if isinstance(error, FileNotFoundError | NotADirectoryError):
        return Probe(None)
    return Probe(None, (parent, f"folder unreadable: {error.strerror}"))


@dataclass
class Plan:
    """What an index run must do, from comparing the disk with the index."""

    todo: list[FileEntry]  # new or changed: hash, and embed unless the content is already indexed
    unchanged: int
    gone: list[IndexedFile]  # in the index, no longer on disk


def plan(files: list[FileEntry], indexed: dict[str, IndexedFile]) -> Plan:
    todo, unchanged = [], 0
    on_disk = set()
    for f in files:
        on_disk.add(f.path)
        known = indexed.get(f.path)
        if known is not None and known.size == f.size and known.mtime_ns == f.mtime_ns:
            unchanged += 1
        else:
            todo.append(f)
    gone = [doc for path, doc in indexed.items() if path not in on_disk]
    return Plan(todo=todo, unchanged=unchanged, gone=gone)
