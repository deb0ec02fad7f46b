"""The app's own files are private: directories 0700, files 0600, under the config, data and cache dirs.

Thumbnails, paths and logs describe a photo library: no other local user may read them. Every file and directory the
app makes there is created through this module with its mode from the start (the process umask is left alone: the
managed node's root-made tree must stay readable by its own user), and ``tighten`` brings an older version's
0755/0644 tree into line once.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_dir(path: Path) -> Path:
    """``path`` and any missing parents, created 0700 (an existing directory is left as it is: see ``tighten``)."""
    path = Path(path)
    missing = []
    for p in (path, *path.parents):
        if os.path.isdir(p):
            break
        missing.append(p)
    for p in reversed(missing):
        try:
            os.mkdir(p, DIR_MODE)
        except FileExistsError:
            if not os.path.isdir(p):
                raise
    return path


def opener(path: str, flags: int) -> int:
    """For ``open(..., opener=opener)``: a file created now is 0600."""
    return os.open(path, flags, FILE_MODE)


def touch(path: Path) -> Path:
    """An empty 0600 file at ``path`` unless one is there (Qt's QSaveFile keeps the mode of the file it replaces)."""
    make_dir(Path(path).parent)
    with contextlib.suppress(FileExistsError):
        os.close(opener(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    return Path(path)


def append_text(path: Path, text: str) -> None:
    """Append to a private file (its directory made private when missing)."""
    make_dir(Path(path).parent)
    with open(path, "a", encoding="utf-8", opener=opener) as fh:
        fh.write(text)


def write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically by a new 0600 file holding ``data``."""
    path = Path(path)
    make_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb", opener=opener) as fh:
            fh.write(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def tighten(root: Path, skip: Iterable[Path] = ()) -> None:
    """Take group and other permissions off everything under ``root`` (an older version's 0755/0644 tree), leaving
    ``skip`` (the managed node's own directory, which has its own rules) and symbolic links alone. Best effort:
    what cannot be changed (another owner's file) stays as it is."""
    skipped = {os.path.abspath(p) for p in skip}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.abspath(os.path.join(folder, d)) not in skipped]
        for path in (folder, *(os.path.join(folder, name) for name in files)):
            _owner_only(path)


def _owner_only(path: str) -> None:
    try:
        st = os.lstat(path)
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077)
    except OSError:
        pass


def is_private(path: Path) -> bool:
    """Whether ``path`` is a directory no one else can enter (the cheap check done at every start)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and not stat.S_IMODE(st.st_mode) & 0o077
