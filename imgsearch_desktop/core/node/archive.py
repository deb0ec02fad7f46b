"""Getting the Elasticsearch distribution: find, fetch and verify it, unpack it safely.

Where it comes from, without ``--from``: the engine bundled with the packaged app (Elastic's distribution + a
jlinked Java runtime in ``resources/engine``: no network, no Java needed); else, with Maven on the PATH (developers,
CI), Elastic's test distribution from Maven Central (pinned SHA-512); else Elastic's official distribution for this
OS and CPU, checked against the ``.sha512`` Elastic publishes beside it.

Unpacking accepts regular files and directories only — no symbolic or hard links, devices or FIFOs, no absolute
or ``..`` names — and writes them into a directory it has just created itself, with plain modes (no setuid, no
group/other write). Nothing in the archive can make a later step touch a file outside that directory.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from imgsearch_desktop.core import private
from imgsearch_desktop.core.progress import Progress
from imgsearch_desktop.errors import LocalEsError
from imgsearch_desktop.frozen import resource_dir

ES_VERSION = "8.19.7"
OFFICIAL_BASE = "https://artifacts.elastic.co/downloads/elasticsearch"  # IMGSEARCH_ES_DOWNLOAD_BASE overrides it
ENGINE_DIR = "engine"  # resources/engine in the packaged app: the distribution's archive, engine.json, java/
MAVEN_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
# What the app runs of a distribution: the scripts it calls, the config it copies, the node's code. An archive without
# one is refused at install, rather than found wanting at the first start.
REQUIRED_SCRIPTS = ("elasticsearch", "elasticsearch-keystore")
REQUIRED_FOLDERS = ("config", "lib")
# SHA-512 of archives we fetch without a published checksum beside them (Maven's copy of the test distribution).
PINNED_SHA512 = {
    "elasticsearch-8.19.7.zip": "80469a18f7cbc5c73f81815f30235edb7a89f56d7ead20048bf07b6a1469b1f33ee67619a3fb49d85"
                                "cb0b3e866fca8b63f04ff07daab4790240e1c0abb30fdf4",
}


# ---------------------------------------------------------------- fetch and verify
def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected: str | None) -> None:
    if expected is None:
        raise LocalEsError(f"no checksum known for {path.name}: pass --sha512 HEX")
    actual = _sha512(path)
    if actual.lower() != expected.lower():
        raise LocalEsError(f"checksum mismatch for {path.name}: expected {expected[:16]}…, got {actual[:16]}…")


# ---------------------------------------------------------------- downloads that cannot stall
@dataclass(frozen=True)
class Limits:
    """How long a download may wait: to connect, for any one read, and how slow it may be over a window."""

    connect: float = 15.0  # seconds to connect (TCP and TLS)
    read: float = 30.0  # seconds one read may wait for a byte
    min_rate: float = 10_000.0  # bytes a second, averaged over each window, or the mirror counts as stalled
    window: float = 30.0  # seconds

    @classmethod
    def from_env(cls) -> Limits:
        """``IMGSEARCH_DOWNLOAD_LIMITS=connect,read,min_rate,window`` (tests make them small), else the defaults."""
        text = os.environ.get("IMGSEARCH_DOWNLOAD_LIMITS")
        if not text:
            return cls()
        try:
            return cls(*(float(v) for v in text.split(",")))
        except (TypeError, ValueError):
            raise LocalEsError(f"IMGSEARCH_DOWNLOAD_LIMITS={text!r}: give connect,read,min_rate,window in seconds "
                               "and bytes a second, e.g. 15,30,10000,30") from None


class Stalled(OSError):
    """The server sends, but too slowly to ever finish."""


class _ReadTimeout:
    """A urllib handler whose connections wait ``connect`` seconds to connect (urllib's timeout), then ``read``
    seconds for each read (urllib alone has one timeout for both). Proxies and TLS stay urllib's own."""

    read_timeout: float

    def do_open(self, http_class: type[http.client.HTTPConnection], req: urllib.request.Request,
                **kwargs: object) -> http.client.HTTPResponse:
        read_timeout = self.read_timeout

        class Connection(http_class):
            def connect(self) -> None:
                super().connect()
                self.sock.settimeout(read_timeout)

        return super().do_open(Connection, req, **kwargs)  # type: ignore[misc]


class _HTTPHandler(_ReadTimeout, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_ReadTimeout, urllib.request.HTTPSHandler):
    pass


def _open(url: str, limits: Limits) -> http.client.HTTPResponse:
    handlers = [cls() for cls in (_HTTPHandler, _HTTPSHandler)]
    for handler in handlers:
        handler.read_timeout = limits.read
    return urllib.request.build_opener(*handlers).open(url, timeout=limits.connect)


def _chunks(resp: http.client.HTTPResponse, limits: Limits, most: int | None = None) -> Iterator[bytes]:
    """The body as it arrives (each read returns what one receive brought), raising Stalled when a window
    brought less than ``limits.min_rate`` a second; at most ``most`` bytes."""
    left = most
    start, got = time.monotonic(), 0
    while left is None or left > 0:
        chunk = resp.read1(1 << 16 if left is None else min(left, 1 << 16))
        if not chunk:
            return
        yield chunk
        got += len(chunk)
        left = None if left is None else left - len(chunk)
        now = time.monotonic()
        if now - start >= limits.window:
            if got < limits.min_rate * (now - start):
                raise Stalled(f"the server sent {got} bytes in {now - start:.0f} s, under the "
                              f"{limits.min_rate:.0f} bytes a second a download needs")
            start, got = now, 0


def _why(exc: BaseException, limits: Limits) -> str:
    """A failed request in words."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return f"the server did not answer within {max(limits.connect, limits.read):.0f} s"
    if isinstance(reason, Stalled):
        return str(reason)
    return f"{reason} (offline?)" if isinstance(exc, urllib.error.URLError) else str(reason)


def _read_published_sha512(url: str, limits: Limits) -> str | None:
    """Elastic publishes ``<archive>.sha512`` beside each archive ("<hex>  <name>"); None if it is not one.
    LocalEsError when it cannot be read."""
    try:
        with _open(url + ".sha512", limits) as resp:  # an http(s) URL the user gave
            text = b"".join(_chunks(resp, limits, most=4096)).decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        raise LocalEsError(f"no checksum for {url.rsplit('/', 1)[-1]}: could not read {url}.sha512: "
                           f"{_why(exc, limits)}; pass --sha512 HEX, or install from a downloaded file: "
                           "imgsearch-desktop es install --from PATH") from None
    digest = (text.split() or [""])[0]
    return digest if re.fullmatch(r"[0-9a-fA-F]{128}", digest) else None


def download(url: str, dest_dir: Path, sha512: str | None = None, progress: Progress | None = None,
             limits: Limits | None = None) -> Path:
    """Download ``url`` into ``dest_dir``, verify its SHA-512, and only then give it its final name (atomic).

    Every request has a connect and a read timeout and a minimum rate (``limits``, default Limits.from_env()):
    a mirror that trickles ends in one sentence instead of a download that never finishes."""
    limits = limits or Limits.from_env()
    name = url.rstrip("/").rsplit("/", 1)[-1]
    dest = dest_dir / name
    expected = sha512 or PINNED_SHA512.get(name) or _read_published_sha512(url, limits)
    if expected is None:
        raise LocalEsError(f"no checksum for {name}: {url}.sha512 holds none; pass --sha512 HEX, or "
                           "install from a downloaded file: imgsearch-desktop es install --from PATH")
    if dest.exists():
        verify(dest, expected)
        return dest
    private.make_dir(dest_dir)
    fd, part_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest_dir)
    part = Path(part_name)
    try:
        with _open(url, limits) as resp, os.fdopen(fd, "wb") as out:
            total, done = int(resp.headers.get("Content-Length") or 0), 0
            for chunk in _chunks(resp, limits):
                out.write(chunk)
                done += len(chunk)
                if progress is not None and not progress(done, total, name):
                    raise LocalEsError(f"download of {name} cancelled")
        if total and done != total:
            raise LocalEsError(f"download of {name} ended early ({done} of {total} bytes)")
        verify(part, expected)
        part.replace(dest)
    except (urllib.error.URLError, OSError) as exc:
        raise LocalEsError(f"could not download {url}: {_why(exc, limits)}; try again later, or download it "
                           "yourself and run: imgsearch-desktop es install --from PATH") from None
    finally:
        part.unlink(missing_ok=True)
    return dest


def official_url(version: str = ES_VERSION, system: str | None = None, machine: str | None = None) -> str:
    """Elastic's own distribution for this OS and CPU (it bundles its Java)."""
    system, machine = (system or platform.system()).lower(), (machine or platform.machine()).lower()
    os_name = {"linux": "linux", "darwin": "darwin", "windows": "windows"}.get(system)
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(machine)
    if os_name is None or arch is None:
        raise LocalEsError(f"Elastic publishes no Elasticsearch for {system} on {machine}: run one elsewhere and "
                           "point the app at it with --es-url")
    base = (os.environ.get("IMGSEARCH_ES_DOWNLOAD_BASE") or OFFICIAL_BASE).rstrip("/")
    return f"{base}/elasticsearch-{version}-{os_name}-{arch}.{'zip' if os_name == 'windows' else 'tar.gz'}"


def bundled_engine() -> tuple[Path, str | None] | None:
    """The packaged app's own engine: (its distribution archive, that archive's SHA-512 as recorded at build)."""
    root = resource_dir() / ENGINE_DIR
    if not root.is_dir():
        return None
    archives = sorted(root.glob("elasticsearch-*.zip")) + sorted(root.glob("elasticsearch-*.tar.gz"))
    if not archives:
        return None
    try:
        recorded = json.loads((root / "engine.json").read_text(encoding="utf-8")).get("sha512")
    except (OSError, ValueError):
        recorded = None
    return archives[0], PINNED_SHA512.get(archives[0].name) or recorded


def bundled_java() -> Path | None:
    """The packaged app's Java runtime (jlinked with the modules Elasticsearch needs), or None."""
    java = resource_dir() / ENGINE_DIR / "java"
    return java if (java / "bin" / ("java.exe" if os.name == "nt" else "java")).is_file() else None


def copy_runtime(src: Path, dst: Path, root: Path | None = None) -> None:
    """Copy the bundled Java runtime to ``dst`` (new): plain files and folders with plain modes; a link inside the
    runtime (jlink links license files) becomes a copy of the file it names, which must lie inside the runtime."""
    src = Path(os.path.realpath(src))
    root = root or src
    _mkdir(dst)
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        target = Path(os.path.realpath(entry.path))
        if root not in target.parents or (entry.is_symlink() and target.is_dir()):
            raise LocalEsError(f"the bundled Java runtime links outside itself or to a folder: {entry.path}")
        if target.is_dir():
            copy_runtime(target, dst / entry.name, root)
        elif target.is_file():
            perm = 0o755 if os.stat(target).st_mode & 0o111 else 0o644
            fd = os.open(dst / entry.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, perm)
            with os.fdopen(fd, "wb") as out, target.open("rb") as inp:
                shutil.copyfileobj(inp, out, 1 << 20)
            os.chmod(dst / entry.name, perm)


def fetch_with_maven(dest_dir: Path, version: str = ES_VERSION) -> Path:
    """Developers and CI: Elastic's test distribution (no bundled JDK) from Maven Central, through ``mvn``."""
    dest = dest_dir / f"elasticsearch-{version}.zip"
    if dest.exists():
        verify(dest, PINNED_SHA512.get(dest.name))
        return dest
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalEsError(
            "Elasticsearch is not installed and Maven is not available to fetch it. Download Elastic's archive for "
            "your platform and run: imgsearch-desktop es install --from PATH_OR_URL")
    private.make_dir(dest_dir)
    staging = dest_dir / "maven-staging"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={MAVEN_ARTIFACT.format(version=version)}",
           f"-DoutputDirectory={staging}"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=dest_dir)
    fetched = staging / dest.name
    if result.returncode != 0 or not fetched.exists():
        raise LocalEsError(f"mvn could not fetch Elasticsearch {version}: {result.stdout[-500:]}{result.stderr[-500:]}")
    verify(fetched, PINNED_SHA512.get(dest.name))
    os.chmod(fetched, private.FILE_MODE)  # Maven wrote it with the umask's mode; the cache is private
    fetched.replace(dest)
    shutil.rmtree(staging, ignore_errors=True)
    return dest


def obtain_archive(source: str | None, cache_dir: Path, sha512: str | None = None,
                   progress: Progress | None = None) -> Path:
    """An ES archive on disk, checksum-verified: a local path or an http(s) URL; without one, the bundled engine,
    else Maven's test distribution where ``mvn`` is on the PATH, else Elastic's official download."""
    downloads = cache_dir / "downloads"
    if source is None:
        bundled = bundled_engine()
        if bundled is not None:
            verify(bundled[0], bundled[1])
            return bundled[0]
        if shutil.which("mvn"):
            return fetch_with_maven(downloads)
        return download(official_url(), downloads, sha512, progress)
    if re.match(r"^https?://", source):
        return download(source, downloads, sha512, progress)
    path = Path(source).expanduser()
    if not path.is_file():
        raise LocalEsError(f"no such archive: {path}")
    expected = sha512 or PINNED_SHA512.get(path.name)
    if expected is not None:  # a local file the user picked: verify when we know its checksum
        verify(path, expected)
    return path


# ---------------------------------------------------------------- safe extraction
Entry = tuple[str, bool, int, "IO[bytes] | None"]  # name, is a directory, permission bits, content


def _refused(archive: Path, name: str, why: str) -> LocalEsError:
    return LocalEsError(f"refusing {archive.name}: entry {name!r} {why}; an Elasticsearch archive holds only "
                        "plain files and folders")


def _parts(archive: Path, name: str) -> tuple[str, ...]:
    """The entry's path components, refusing absolute, drive-letter, backslash and ``..`` names."""
    if name.startswith("/") or "\\" in name or "\0" in name or re.match(r"^[A-Za-z]:", name):
        raise _refused(archive, name, "has an absolute or non-portable path")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if not parts or ".." in parts:
        raise _refused(archive, name, "points outside the archive's folder")
    return parts


def _tar_entries(archive: Path, tf: tarfile.TarFile) -> Iterator[Entry]:
    for member in tf:
        if member.isdir():
            yield member.name, True, member.mode, None
        elif member.isreg():
            yield member.name, False, member.mode, tf.extractfile(member)
        else:
            kind = "is a hard link" if member.islnk() else "is a symbolic link" if member.issym() else \
                "is a device or FIFO"
            raise _refused(archive, member.name, kind)


def _zip_entries(archive: Path, zf: zipfile.ZipFile) -> Iterator[Entry]:
    for info in zf.infolist():
        mode = info.external_attr >> 16  # Unix mode when made on Unix; 0 from other systems
        kind = stat.S_IFMT(mode)
        if info.is_dir() and kind in (0, stat.S_IFDIR):
            yield info.filename, True, mode, None
        elif not info.is_dir() and kind in (0, stat.S_IFREG):
            with zf.open(info) as content:
                yield info.filename, False, mode, content
        else:
            raise _refused(archive, info.filename, "is a symbolic link" if kind == stat.S_IFLNK else
                           "is not a plain file or folder")


def _mkdir(path: Path) -> None:
    if not os.path.isdir(path):
        os.mkdir(path)
        os.chmod(path, 0o755)  # whatever the umask: the node's user reads the distribution


def _place(root: Path, parts: tuple[str, ...], is_dir: bool, mode: int, content: IO[bytes] | None) -> None:
    """Create one entry under ``root`` (ours, fresh, holding only what we made: no link can be on the way)."""
    parent = root
    for part in parts[:-1]:
        parent = parent / part
        _mkdir(parent)
    target = parent / parts[-1]
    if is_dir:
        _mkdir(target)
        return
    perm = 0o755 if mode & 0o111 else 0o644  # plain modes: no setuid/setgid, nothing writable by others
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), perm)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(content, out, 1 << 20)  # type: ignore[arg-type]
    os.chmod(target, perm)  # whatever the umask


def _unpack(archive: Path, into: Path) -> None:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            entries: Iterator[Entry] = _zip_entries(archive, zf)
            _place_all(archive, into, entries)
    elif archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive, "r:gz") as tf:
            _place_all(archive, into, _tar_entries(archive, tf))
    else:
        raise LocalEsError(f"not an Elasticsearch archive (.zip or .tar.gz): {archive.name}")


def _place_all(archive: Path, into: Path, entries: Iterator[Entry]) -> None:
    for name, is_dir, mode, content in entries:
        parts = _parts(archive, name)
        try:
            _place(into, parts, is_dir, mode, content)
        except FileExistsError:
            raise _refused(archive, name, "appears twice") from None
        except (NotADirectoryError, FileNotFoundError):
            raise _refused(archive, name, "lies under a file") from None


def script(name: str) -> str:
    """A distribution's ``bin/`` script by its Unix name, as this platform has it."""
    return name + ".bat" if sys.platform == "win32" else name


def missing_parts(home: Path) -> list[str]:
    """The REQUIRED_SCRIPTS and REQUIRED_FOLDERS the distribution at ``home`` lacks ("bin/elasticsearch-keystore")."""
    missing = [f"bin/{script(s)}" for s in REQUIRED_SCRIPTS if not (home / "bin" / script(s)).is_file()]
    return missing + [f"{folder}/" for folder in REQUIRED_FOLDERS if not (home / folder).is_dir()]


def extract(archive: Path, parent: Path) -> tuple[Path, Path]:
    """Unpack into a new directory made here under ``parent``; returns (that directory, the distribution in it).

    The caller moves the distribution where it belongs and removes the directory.
    """
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=parent))  # 0700, ours alone
    try:
        _unpack(archive, staging)
        tops = os.listdir(staging)
        top = staging / tops[0] if len(tops) == 1 else None
        if top is None or not top.is_dir() or not (top / "bin").is_dir():
            raise LocalEsError(f"{archive.name} does not look like an Elasticsearch distribution")
        missing = missing_parts(top)
        if missing:
            raise LocalEsError(f"refusing {archive.name}: it has no {', '.join(missing)}, which Elasticsearch needs "
                               "to run; use Elastic's full distribution")
        for tool in (top / "bin").iterdir():  # zips made on some systems lose the executable bits
            if tool.is_file() and not tool.suffix:
                tool.chmod(0o755)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise LocalEsError(f"could not unpack {archive.name}: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, top
