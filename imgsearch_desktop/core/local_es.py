"""The managed local Elasticsearch node: install, start, stop, status, logs.

One node per app data dir, bound to loopback, security on with a generated password (kept in a 0600 file), absolute
disk watermarks (a 95%-full laptop disk must not turn the index read-only), a small heap. The HTTP port is whatever
free port of a range the node bound, read back from ``node.portsfile`` (no free-port race).

Elasticsearch refuses to run as root. When we are root (CI, containers) the node runs as an unprivileged user, with
its home, config, data and logs in a directory that user owns outside root's home.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.errors import ElasticsearchUnavailable, UserError

ES_VERSION = "8.19.7"
MAVEN_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
# SHA-512 of archives we fetch without a published checksum beside them (Maven's copy of the test distribution).
PINNED_SHA512 = {
    "elasticsearch-8.19.7.zip": "80469a18f7cbc5c73f81815f30235edb7a89f56d7ead20048bf07b6a1469b1f33ee67619a3fb49d85"
                                "cb0b3e866fca8b63f04ff07daab4790240e1c0abb30fdf4",
}
HTTP_PORTS = "9200-9299"
TRANSPORT_PORTS = "9300-9399"
HEAP = "-Xms512m -Xmx1g"
RUN_AS_CANDIDATES = ("imgsearch-es", "nobody")


class LocalEsError(UserError):
    pass


def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, expected: str | None) -> None:
    if expected is None:
        raise LocalEsError(f"no checksum known for {path.name}: pass --sha512 HEX")
    actual = _sha512(path)
    if actual.lower() != expected.lower():
        raise LocalEsError(f"checksum mismatch for {path.name}: expected {expected[:16]}…, got {actual[:16]}…")


def _read_published_sha512(url: str) -> str | None:
    """Elastic publishes ``<archive>.sha512`` beside each archive ("<hex>  <name>")."""
    try:
        with urllib.request.urlopen(url + ".sha512", timeout=30) as resp:  # an http(s) URL the user gave
            return resp.read().decode().split()[0]
    except (urllib.error.URLError, OSError, IndexError):
        return None


def download(url: str, dest_dir: Path, sha512: str | None = None) -> Path:
    """Download ``url`` into ``dest_dir``, verify its SHA-512, and only then give it its final name."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    dest = dest_dir / name
    expected = sha512 or PINNED_SHA512.get(name) or _read_published_sha512(url)
    if expected is None:
        raise LocalEsError(f"no checksum known for {name} (none pinned, no {name}.sha512 published): "
                           "pass --sha512 HEX")
    if dest.exists():
        _verify(dest, expected)
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, part.open("wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
        _verify(part, expected)
        part.replace(dest)
    except (urllib.error.URLError, OSError) as exc:
        raise LocalEsError(f"could not download {url}: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return dest


def fetch_with_maven(dest_dir: Path, version: str = ES_VERSION) -> Path:
    """Developers and CI: Elastic's test distribution (no bundled JDK) from Maven Central, through ``mvn``."""
    dest = dest_dir / f"elasticsearch-{version}.zip"
    if dest.exists():
        _verify(dest, PINNED_SHA512.get(dest.name))
        return dest
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalEsError(
            "Elasticsearch is not installed and Maven is not available to fetch it. Download Elastic's archive for "
            "your platform and run: imgsearch-desktop es install --from PATH_OR_URL")
    dest_dir.mkdir(parents=True, exist_ok=True)
    staging = dest_dir / "maven-staging"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={MAVEN_ARTIFACT.format(version=version)}",
           f"-DoutputDirectory={staging}"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=dest_dir)
    fetched = staging / dest.name
    if result.returncode != 0 or not fetched.exists():
        raise LocalEsError(f"mvn could not fetch Elasticsearch {version}: {result.stdout[-500:]}{result.stderr[-500:]}")
    _verify(fetched, PINNED_SHA512.get(dest.name))
    fetched.replace(dest)
    shutil.rmtree(staging, ignore_errors=True)
    return dest


def obtain_archive(source: str | None, cache_dir: Path, sha512: str | None = None) -> Path:
    """An ES archive on disk, checksum-verified: a local path, an http(s) URL, or (no source) Maven."""
    downloads = cache_dir / "downloads"
    if source is None:
        return fetch_with_maven(downloads)
    if re.match(r"^https?://", source):
        return download(source, downloads, sha512)
    path = Path(source).expanduser()
    if not path.is_file():
        raise LocalEsError(f"no such archive: {path}")
    expected = sha512 or PINNED_SHA512.get(path.name)
    if expected is not None:  # a local file the user picked: verify when we know its checksum
        _verify(path, expected)
    return path


def _extract(archive: Path, into: Path) -> Path:
    """Unpack a .zip / .tar.gz ES distribution; returns its single top-level directory."""
    into.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                target = Path(zf.extract(info, into))
                mode = info.external_attr >> 16
                if mode and not info.is_dir():
                    target.chmod(mode & 0o777)
    elif archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tf:
            tf.extractall(into, filter="tar")
    else:
        raise LocalEsError(f"not an Elasticsearch archive (.zip or .tar.gz): {archive.name}")
    tops = [p for p in into.iterdir() if p.is_dir()]
    if len(tops) != 1 or not (tops[0] / "bin").is_dir():
        raise LocalEsError(f"{archive.name} does not look like an Elasticsearch distribution")
    for script in (tops[0] / "bin").iterdir():  # zips made on some systems lose the executable bits
        if script.is_file() and not script.suffix:
            script.chmod(script.stat().st_mode | 0o755)
    return tops[0]


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run the node as when we are root; None when we are not root."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    names = [os.environ["IMGSEARCH_ES_RUN_AS"]] if os.environ.get("IMGSEARCH_ES_RUN_AS") else RUN_AS_CANDIDATES
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise LocalEsError("Elasticsearch refuses to run as root and no unprivileged user was found: "
                       "create one (useradd --system imgsearch-es) or set IMGSEARCH_ES_RUN_AS")


def _chown_tree(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is None:
        return
    os.chown(path, *owner)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), *owner, follow_symlinks=False)


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


@dataclass
class NodeStatus:
    running: bool
    installed: bool
    version: str | None = None
    port: int | None = None
    health: str | None = None
    disk_total: int | None = None
    disk_free: int | None = None
    pid: int | None = None


class LocalNode:
    """The app's own Elasticsearch node, rooted at the app's data dir."""

    def __init__(self, dirs: AppDirs) -> None:
        self.dirs = dirs
        self.owner = _run_as()
        if self.owner is None:
            self.base = dirs.data / "elasticsearch"
        else:
            # The unprivileged user cannot enter root's home or pytest's 0700 temp dirs: keep the node elsewhere.
            tag = hashlib.sha256(str(dirs.data).encode()).hexdigest()[:12]
            self.base = Path(os.environ.get("IMGSEARCH_ES_ROOT_BASE", "/var/tmp/imgsearch-desktop-es")) / tag
        self.password_file = dirs.data / "elasticsearch-password"
        self.state_file = dirs.data / "elasticsearch-state.json"

    # ----- paths -----
    @property
    def home_file(self) -> Path:
        return self.base / "install.json"

    @property
    def conf_dir(self) -> Path:
        return self.base / "config"

    @property
    def logs_dir(self) -> Path:
        return self.base / "logs"

    @property
    def pid_file(self) -> Path:
        return self.base / "run" / "es.pid"

    @property
    def console_log(self) -> Path:
        return self.logs_dir / "console.log"

    def es_home(self) -> Path | None:
        if not self.home_file.exists():
            return None
        home = Path(json.loads(self.home_file.read_text())["home"])
        return home if home.is_dir() else None

    # ----- install -----
    def install(self, source: str | None = None, sha512: str | None = None) -> Path:
        """Install (or keep) the distribution; returns ES home. Idempotent for the same archive."""
        archive = obtain_archive(source, self.dirs.cache, sha512)
        current = self.es_home()
        if current is not None and json.loads(self.home_file.read_text()).get("archive") == archive.name:
            return current
        if self.status().running:
            raise LocalEsError("stop the running node first: imgsearch-desktop es stop")
        self._make_base()
        staging = self.base / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        top = _extract(archive, staging)
        home = self.base / top.name
        if home.exists():
            shutil.rmtree(home)
        top.rename(home)
        shutil.rmtree(staging, ignore_errors=True)
        _chown_tree(home, self.owner)
        self.home_file.write_text(json.dumps({"home": str(home), "archive": archive.name}))
        return home

    def _make_base(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if self.owner is not None:
            self.base.parent.chmod(0o755)  # the node's user must traverse it
            os.chown(self.base, *self.owner)
        self.base.chmod(0o700)

    def uninstall(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)

    # ----- credentials and config -----
    def password(self) -> str:
        if not self.password_file.exists():
            self.dirs.data.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(24))
        return self.password_file.read_text().strip()

    def _es_env(self, home: Path) -> dict[str, str]:
        env = dict(os.environ)  # in the packaged app, with LD_LIBRARY_PATH already the user's (frozen.py)
        java = find_java(home)
        if java:
            env["ES_JAVA_HOME"] = java
        env.pop("JAVA_HOME", None)
        env["ES_PATH_CONF"] = str(self.conf_dir)
        env.setdefault("ES_JAVA_OPTS", HEAP)
        if self.owner is not None:
            env["HOME"] = str(self.base)
        return env

    def _write_config(self, home: Path, env: dict[str, str]) -> None:
        if not self.conf_dir.exists():
            shutil.copytree(home / "config", self.conf_dir)
        settings = {
            "cluster.name": "imgsearch-desktop",
            "node.name": "imgsearch-local",
            "path.data": str(self.base / "data"),
            "path.logs": str(self.logs_dir),
            "network.host": "127.0.0.1",
            "http.port": HTTP_PORTS,
            "transport.port": TRANSPORT_PORTS,
            "discovery.type": "single-node",
            "node.portsfile": True,
            "xpack.security.enabled": True,
            "xpack.security.http.ssl.enabled": False,
            "xpack.security.transport.ssl.enabled": False,
            # Free-space floors, not percentages: a desktop disk is often >90% full and still has room to spare.
            "cluster.routing.allocation.disk.watermark.low": "2gb",
            "cluster.routing.allocation.disk.watermark.high": "1gb",
            "cluster.routing.allocation.disk.watermark.flood_stage": "500mb",
            "action.destructive_requires_name": True,
        }
        lines = [f"{k}: {json.dumps(v)}" for k, v in settings.items()]
        (self.conf_dir / "elasticsearch.yml").write_text("# written by imgsearch-desktop\n" + "\n".join(lines) + "\n")
        keystore = self.conf_dir / "elasticsearch.keystore"
        if not keystore.exists() or not self.password_file.exists():  # a lost password file gets a new keystore
            keystore.unlink(missing_ok=True)
            self._keystore(home, env, ["create"])
            self._keystore(home, env, ["add", "-x", "-f", "bootstrap.password"], stdin=self.password())
        for d in (self.logs_dir, self.pid_file.parent, self.base / "data"):
            d.mkdir(parents=True, exist_ok=True)
        _chown_tree(self.conf_dir, self.owner)
        for d in (self.logs_dir, self.pid_file.parent, self.base / "data"):
            if self.owner is not None:
                os.chown(d, *self.owner)

    def _keystore(self, home: Path, env: dict[str, str], args: list[str], stdin: str | None = None) -> None:
        _chown_tree(self.conf_dir, self.owner)
        result = subprocess.run([str(home / "bin" / _script("elasticsearch-keystore")), *args], env=env,
                                input=stdin, capture_output=True, text=True, **self._user_kwargs())
        if result.returncode != 0:
            raise LocalEsError(f"elasticsearch-keystore {args[0]} failed: {result.stderr.strip()[-400:]}")

    def _user_kwargs(self) -> dict[str, int]:
        return {} if self.owner is None else {"user": self.owner[0], "group": self.owner[1], "extra_groups": []}

    # ----- run -----
    def url(self, port: int, with_password: bool = True) -> str:
        auth = f"elastic:{self.password()}@" if with_password else ""
        return f"http://{auth}127.0.0.1:{port}"

    def _request(self, port: int, path: str, timeout: float = 5.0) -> dict:
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
        token = b64encode(f"elastic:{self.password()}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def running_port(self) -> int | None:
        if not self.state_file.exists():
            return None
        state = json.loads(self.state_file.read_text())
        if not _pid_alive(state.get("pid")):
            return None
        try:
            self._request(state["port"], "/_cluster/health", timeout=3)
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return int(state["port"])

    def start(self, timeout: float = 180.0, source: str | None = None) -> str:
        """Start the node (installing it first if needed) and wait until it is healthy; returns its URL."""
        port = self.running_port()
        if port is not None:
            return self.url(port)
        home = self.es_home() or self.install(source)
        self.dirs.data.mkdir(parents=True, exist_ok=True)
        self._make_base()
        self._stop_orphan(home)
        env = self._es_env(home)
        self._write_config(home, env)
        ports_file = self.logs_dir / "http.ports"
        ports_file.unlink(missing_ok=True)
        self.pid_file.unlink(missing_ok=True)
        log = self.console_log.open("ab")
        if self.owner is not None:
            os.chown(self.console_log, *self.owner)
        proc = subprocess.Popen([str(home / "bin" / _script("elasticsearch")), "-p", str(self.pid_file)], env=env,
                                cwd=self.base, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, **self._user_kwargs())
        log.close()
        self.state_file.write_text(json.dumps({"pid": proc.pid, "port": None}))
        deadline = time.monotonic() + timeout
        port = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise LocalEsError(f"Elasticsearch exited during start (code {proc.returncode}): "
                                   f"{self._failure_reason()} — full log: imgsearch-desktop es logs\n{self.logs(25)}")
            if port is None and ports_file.exists():
                text = ports_file.read_text().strip()
                if text:
                    port = int(text.splitlines()[0].rsplit(":", 1)[1])
                    self.state_file.write_text(json.dumps({"pid": proc.pid, "port": port}))
            if port is not None:
                try:
                    health = self._request(port, "/_cluster/health?wait_for_status=yellow&timeout=2s", timeout=5)
                    if health.get("status") in ("green", "yellow"):
                        return self.url(port)
                except (urllib.error.URLError, OSError, ValueError):
                    pass
            time.sleep(0.5)
        self.stop()
        raise ElasticsearchUnavailable(f"Elasticsearch did not become healthy within {timeout:.0f}s:\n{self.logs(25)}")

    def _stop_orphan(self, home: Path, timeout: float = 60.0) -> None:
        """A node of ours still running without its state file (app data wiped, a killed run): stop it first.

        Ours = its pid file, or (Linux) a JVM started with this very ES home, which only this app dir uses.
        """
        pids = {p for p in [_read_pid(self.pid_file)] if _pid_alive(p)} | set(_pids_with_arg(f"-Des.path.home={home}"))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(_pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the node this app started (and only that one). Returns whether one was running."""
        if not self.state_file.exists():
            return False
        state = json.loads(self.state_file.read_text())
        launcher = state.get("pid")
        server = _read_pid(self.pid_file)
        targets = [p for p in (server, launcher) if _pid_alive(p)]
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_pid_alive(p) for p in targets):
            time.sleep(0.2)
        for pid in targets:
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
        return bool(targets)

    def status(self) -> NodeStatus:
        installed = self.es_home() is not None
        port = self.running_port()
        if port is None:
            return NodeStatus(running=False, installed=installed)
        health = self._request(port, "/_cluster/health")
        nodes = self._request(port, "/_nodes/_local/stats/fs")["nodes"]
        info = self._request(port, "/_nodes/_local?filter_path=nodes.*.version")["nodes"]
        fs = next(iter(nodes.values()))["fs"]["total"]
        return NodeStatus(running=True, installed=installed, version=next(iter(info.values()))["version"], port=port,
                          health=health["status"], disk_total=fs.get("total_in_bytes"),
                          disk_free=fs.get("available_in_bytes"), pid=_read_pid(self.pid_file))

    def _failure_reason(self) -> str:
        """The line of the console log that says why the node died (ES prints a stack trace after it)."""
        for line in self.logs(200).splitlines():
            if "fatal exception" in line or "ERROR:" in line or "Exception:" in line:
                return line.split("]")[-1].strip()[:300]
        return "see the log"

    def logs(self, lines: int = 50) -> str:
        """The last lines of the node's console output (where start-up errors land)."""
        if not self.console_log.exists():
            return "(no log yet)"
        return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])


def _script(name: str) -> str:
    return name + ".bat" if sys.platform == "win32" else name


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _pids_with_arg(arg: str) -> list[int]:
    """Processes whose command line holds ``arg`` exactly (Linux /proc; elsewhere none)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc/self/cmdline").exists() else []:
        try:
            if arg.encode() in entry.joinpath("cmdline").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours (already exited) is not alive.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True
