"""How and where the node runs: Java, the unprivileged user (when we are root) and that user's directories.

As root, everything root later writes or reads sits in a tree root created itself and nobody else can change:
``ROOT_BASE`` (default ``/var/lib/imgsearch-desktop/es``, every ancestor root-owned and not writable by others)
→ one root-owned 0755 directory per app data dir → the ES home (root-owned, read-only to the node) and four
directories owned by the node's user (config, data, logs, run). Anything already there that root did not make
(checked with lstat by owner and mode, never by name; links refused) stops the start with a clear message. Files
root writes into the node's directories are created beside their target and renamed over it, files it reads or
appends to are opened without following links: the node's user cannot turn root's writes onto other files.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import subprocess
from pathlib import Path

from imgsearch_desktop.core.node.identity import current_uid
from imgsearch_desktop.errors import LocalEsError

# Not following a link at the last component (POSIX); Windows has no such flags and no root mode.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

DEFAULT_ROOT_BASE = "/var/lib/imgsearch-desktop/es"
# Never "nobody": a user shared with other daemons (and any attacker running as it) would own the node and could
# pass for it. The node's user must be dedicated to it.
RUN_AS_USER = "imgsearch-es"
ROOT_HINT = "remove it if you trust it, or set IMGSEARCH_ES_ROOT_BASE to a directory only root can write"


def run_as() -> tuple[int, int] | None:
    """(uid, gid) to run the node as when we are root; None when we are not root."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    name = os.environ.get("IMGSEARCH_ES_RUN_AS") or RUN_AS_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise LocalEsError(f"Elasticsearch refuses to run as root and the user {name!r} does not exist: create it "
                           "(useradd --system --no-create-home imgsearch-es) or set IMGSEARCH_ES_RUN_AS") from None
    if entry.pw_uid == 0 or name == "nobody":
        raise LocalEsError(f"IMGSEARCH_ES_RUN_AS={name}: the node needs an unprivileged user of its own")
    return entry.pw_uid, entry.pw_gid


def find_java(es_home: Path) -> str | None:
    """The JAVA home for ES: ES_JAVA_HOME, the distribution's bundled JDK (None = let ES use it), or a JDK 17+."""
    if os.environ.get("ES_JAVA_HOME"):
        return os.environ["ES_JAVA_HOME"]
    if (es_home / "jdk").is_dir():
        return None
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    if shutil.which("java"):
        candidates.append(Path(shutil.which("java")).resolve())  # type: ignore[arg-type]
    for java in candidates:
        try:
            out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
        except OSError:
            continue
        match = re.search(r'version "(\d+)', out)
        if match and int(match.group(1)) >= 17:
            return str(java.resolve().parent.parent)
    raise LocalEsError("Java 17 or newer is needed to run this Elasticsearch distribution and none was found. "
                       "Install it (Debian/Ubuntu: sudo apt install openjdk-17-jre-headless), set ES_JAVA_HOME, "
                       "or install Elastic's full distribution, which bundles Java: "
                       "imgsearch-desktop es install --from URL")


# ---------------------------------------------------------------- directories nobody else made
def _refuse(path: Path, st: os.stat_result, why: str) -> LocalEsError:
    return LocalEsError(f"refusing to use {path}: {why} (owner uid {st.st_uid}, mode {stat.filemode(st.st_mode)}), "
                        f"so imgsearch-desktop did not create it — {ROOT_HINT}")


def check_dir(path: Path, uid: int) -> None:
    """``path`` is a real directory (not a link) owned by ``uid`` that no other user can write.

    (Group-writable passes when we are not root: a desktop user's umask 002 with a group of their own.)
    """
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(path, st, "it is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(path, st, "it is not a directory")
    if uid >= 0 and st.st_uid != uid:
        raise _refuse(path, st, f"it belongs to uid {st.st_uid}, not {uid}")
    if os.name == "posix" and st.st_mode & (0o022 if current_uid() == 0 else 0o002):
        raise _refuse(path, st, "other users can write to it")


def _check_ancestor(path: Path) -> None:
    """Root-owned and writable by root only; a sticky directory (/tmp) is fine: others cannot replace our entries."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        if st.st_uid != 0:
            raise _refuse(path, st, "it is a symbolic link another user owns")
        return  # a root-owned link: its target's chain is checked on the resolved path
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0:
        raise _refuse(path, st, "an ancestor of the node's directory must be a root-owned directory")
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise _refuse(path, st, "an ancestor of the node's directory is writable by other users")


def secure_root_base(base: Path, create: bool = True) -> Path:
    """Create (root:root 0755) or accept the root-mode base; returns its resolved path, used from then on.

    ``create=False`` only checks (what exists of) the chain.
    """
    base = Path(os.path.abspath(base))
    for chain in (base, Path(os.path.realpath(base))):  # the path as given (links too), and where links lead
        for part in [*reversed(chain.parents), chain]:
            if os.path.lexists(part):
                _check_ancestor(part)
    real = Path(os.path.realpath(base))
    if not create:
        if os.path.lexists(real):
            check_dir(real, 0)
        return real
    for part in [*reversed(real.parents)][1:]:
        if not os.path.lexists(part):
            make_dir(part, None, 0o755)
    make_dir(real, None, 0o755)  # made now, or checked: root's, no link, writable by root only
    return real


def make_dir(path: Path, owner: tuple[int, int] | None, mode: int) -> bool:
    """Create ``path`` (one level) for ``owner`` (None: ourselves), or accept it only if lstat shows it is ours.

    Returns whether it was created now.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        check_dir(path, owner[0] if owner else current_uid())
        return False
    if owner is not None:  # just made, in a directory only we can write: no link can stand here
        os.chown(path, *owner, follow_symlinks=False)
    os.chmod(path, mode)
    return True


# ---------------------------------------------------------------- files in directories the node's user owns
def write_file(path: Path, data: bytes, owner: tuple[int, int] | None, mode: int = 0o600) -> None:
    """Write beside ``path`` (new file, no link followed) and rename over it: never writes through a planted link."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb", closefd=False) as fh:
            fh.write(data)
        if owner is not None:
            os.fchown(fd, *owner)
        if hasattr(os, "fchmod"):  # not on Windows
            os.fchmod(fd, mode)
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        os.close(fd)
    os.replace(tmp, path)


def open_append(path: Path, owner: tuple[int, int] | None) -> int:
    """An fd appending to a regular file of ours at ``path`` (created if missing); links and hard links refused."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW, 0o600)
    st = os.fstat(fd)
    allowed = {current_uid()} | ({owner[0]} if owner else set())
    foreign = current_uid() >= 0 and st.st_uid not in allowed  # (Windows has no uids)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or foreign:
        os.close(fd)
        raise _refuse(path, st, "it is not a plain file of the node")
    if owner is not None and st.st_uid != owner[0]:
        os.fchown(fd, *owner)
    return fd


def read_text(path: Path) -> str | None:
    """A regular file's text, without following a link at ``path``; None when absent or not a plain file."""
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return fh.read().decode(errors="replace")


def copy_tree(src: Path, dst: Path, owner: tuple[int, int] | None) -> None:
    """Copy our own (root-owned) tree into a new ``dst``, handing each entry to ``owner`` before its parent."""
    os.mkdir(dst, 0o700)
    for entry in os.scandir(src):
        if entry.is_dir(follow_symlinks=False):
            copy_tree(Path(entry.path), dst / entry.name, owner)
        elif entry.is_file(follow_symlinks=False):
            write_file(dst / entry.name, Path(entry.path).read_bytes(), owner, 0o600)
    if owner is not None:
        os.chown(dst, *owner, follow_symlinks=False)
