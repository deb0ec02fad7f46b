"""Walk photo folders → (path, size, mtime) of every supported image, then diff that against the index.

Symlinked folders are followed once (a loop is cut), and a file reachable twice — through a hard link, a symlink or
nested roots — is listed once (same ``(st_dev, st_ino)``). Hidden and excluded folders are skipped.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from imgsearch_desktop.core.images import is_supported_path
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


def _excluded(name: str, excluded: set[str]) -> bool:
    return name.startswith(".") or name in EXCLUDED_DIRS or name in excluded


def scan(roots: Iterable[str | os.PathLike[str]], excluded: Iterable[str] = ()) -> ScanResult:
    """All supported image files under ``roots`` (folders or single files), each physical file once."""
    result = ScanResult()
    seen_files: set[tuple[int, int]] = set()
    seen_dirs: set[tuple[int, int]] = set()
    excluded_names = {e for e in excluded if os.sep not in e}
    excluded_paths = {os.path.abspath(e) for e in excluded if os.sep in e}

    def add_file(path: str, root: str, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if key in seen_files:
            return
        seen_files.add(key)
        result.files.append(FileEntry(path, root, st.st_size, st.st_mtime_ns))

    def walk(folder: str, root: str) -> None:
        try:
            st = os.stat(folder)
        except OSError as exc:
            result.skipped.append((folder, f"folder unreadable: {exc.strerror}"))
            return
        if (st.st_dev, st.st_ino) in seen_dirs:
            return  # symlink loop, or a nested root already walked
        seen_dirs.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            result.skipped.append((folder, f"folder unreadable: {exc.strerror}"))
            return
        for entry in entries:
            try:
                if entry.is_dir():  # follows symlinks; loops are cut by seen_dirs
                    if not _excluded(entry.name, excluded_names) and entry.path not in excluded_paths:
                        walk(entry.path, root)
                elif entry.is_file() and is_supported_path(entry.name) and not entry.name.startswith("._"):
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
        else:
            result.skipped.append((root, "no such file or folder"))
    return result


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
