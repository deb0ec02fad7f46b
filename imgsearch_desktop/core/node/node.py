"""The managed local Elasticsearch node: install, start, stop, status, logs — and proof that it is ours.

One node per app data dir, bound to loopback, security on with a generated password (kept in a 0600 file), absolute
disk watermarks (a 95%-full laptop disk must not turn the index read-only), a small heap. The HTTP port is whatever
free port of a range the node bound, read back from ``node.portsfile`` (no free-port race).

Identity: a pid (in the state file or the node's pid file) is only a hint. The node is a process running as the
node's user whose argv holds ``-Des.path.home=<our ES home>``, and its port is ours only while the kernel shows
that process holding the socket listening there (identity.py). Nothing is signalled, and the password is sent
nowhere, without that proof. Where there is no /proc (macOS), the cluster UUID recorded at start is compared,
asked only of the port the state file names.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core import private
from imgsearch_desktop.core.node import identity, runtime
from imgsearch_desktop.core.node.archive import (
    Progress,
    bundled_java,
    copy_runtime,
    extract,
    missing_parts,
    obtain_archive,
    script,
)
from imgsearch_desktop.errors import LocalEsError, NodeNotHealthy, NodeStartFailed

HTTP_PORTS = "9200-9299"
TRANSPORT_PORTS = "9300-9399"
HEAP = "-Xms512m -Xmx1g"
PASSWORD = re.compile(r"[!-~]{6,256}")  # printable ASCII without spaces; what we generate (token_urlsafe) fits
REFUSED_FOR = 5.0  # seconds of 401s from our own, proven node before its password counts as refused


class PasswordRefused(LocalEsError):
    """Our own node answers 401 to the password in the file and to the keystore's copy."""


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

    def __init__(self, dirs: AppDirs, overrides: Mapping[str, object] | None = None, heap: str = HEAP) -> None:
        """``overrides``: elasticsearch.yml settings on top of the desktop node's (a value of None removes one), so
        the same code runs one member of a cluster (tests/cluster.py); ``heap``: its ES_JAVA_OPTS default."""
        self.dirs = dirs
        self.overrides = dict(overrides or {})
        self.heap = heap
        self.owner = runtime.run_as()
        self.uid = self.owner[0] if self.owner else identity.current_uid()  # whom the node's processes must run as
        if self.owner is None:
            self.root_base: Path | None = None
            self.base = dirs.node_dir
        else:
            # The node's user cannot enter root's home or pytest's 0700 temp dirs, and a world-writable place
            # (/var/tmp) can be squatted: a root-only tree, one directory per app data dir.
            self.root_base = Path(os.environ.get("IMGSEARCH_ES_ROOT_BASE") or runtime.DEFAULT_ROOT_BASE)
            self.base = Path(os.path.realpath(self.root_base)) / _tag(dirs.data)
        self.password_file = dirs.data / "elasticsearch-password"
        self.state_file = dirs.data / "elasticsearch-state.json"
        self._proc: subprocess.Popen | None = None
        self._uuid_checked: tuple[int, str] | None = None
        self._unsyncable: str | None = None  # a refused password the keystore could not replace

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
        try:  # install.json is trusted only in a directory of ours, reached through directories only root controls
            if self.root_base is not None:
                runtime.secure_root_base(self.root_base, create=False)
            runtime.check_dir(self.base, identity.current_uid())
        except (OSError, LocalEsError):
            return None
        text = runtime.read_text(self.home_file)
        if not text:
            return None
        home = Path(json.loads(text)["home"])
        return home if home.parent == self.base and home.is_dir() and not home.is_symlink() else None

    # ----- directories -----
    def _make_base(self) -> None:
        """The node's directory: ours or refused (see runtime.py for the rules as root)."""
        if self.root_base is not None:
            self.base = runtime.secure_root_base(self.root_base) / self.base.name
            runtime.make_dir(self.base, None, 0o755)
        else:
            private.make_dir(self.dirs.data)
            runtime.make_dir(self.base, None, 0o700)

    def _node_dirs(self) -> None:
        """config is seeded in _write_config; the others are created for (or checked to belong to) the node."""
        for d in (self.base / "data", self.logs_dir, self.pid_file.parent):
            runtime.make_dir(d, self.owner, 0o700)

    # ----- install -----
    def install(self, source: str | None = None, sha512: str | None = None,
                progress: Progress | None = None) -> Path:
        """Install (or keep) the distribution; returns ES home. Idempotent for the same archive.

        A distribution without its own Java gets the packaged app's runtime as its ``jdk/`` (where Elastic's full
        distribution keeps its bundled JDK), so the node needs no Java on the machine.
        """
        self._make_base()  # refuse a directory that is not ours before fetching anything
        archive = obtain_archive(source, self.dirs.cache, sha512, progress)
        java = bundled_java()
        current = self.es_home()
        installed = json.loads(runtime.read_text(self.home_file) or "{}").get("archive") if current else None
        if current is not None and installed == archive.name and (java is None or (current / "jdk").is_dir()):
            return current
        if self.status().running:
            raise LocalEsError("stop the running node first: imgsearch-desktop es stop")
        staging, top = extract(archive, self.base)
        try:
            if java is not None and not os.path.lexists(top / "jdk"):
                copy_runtime(java, top / "jdk")
            home = self.base / top.name
            if os.path.lexists(home):
                runtime.check_dir(home, identity.current_uid())  # an earlier install of ours, never something planted
                shutil.rmtree(home)
            top.rename(home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        runtime.write_file(self.home_file, json.dumps({"home": str(home), "archive": archive.name}).encode(),
                           None, 0o644)
        return home

    def uninstall(self) -> None:
        self.stop()
        try:
            runtime.check_dir(self.base, identity.current_uid())
        except (OSError, LocalEsError):
            pass  # not there, or not ours: leave it alone
        else:
            shutil.rmtree(self.base, ignore_errors=True)  # fd-based on Linux: links inside are not followed
        self.state_file.unlink(missing_ok=True)

    # ----- credentials and config -----
    def password(self) -> str:
        """The elastic user's password, from its 0600 file.

        A missing, empty or damaged file is restored from the node's keystore (the copy the node started with:
        no restart); without a readable keystore it gets a new password and the keystore goes (the next start
        makes one holding it).
        """
        stored = self._stored_password()
        if stored is not None:
            return stored
        private.make_dir(self.dirs.data)
        with FileLock(str(self.dirs.data / "elasticsearch-password.lock"), mode=private.FILE_MODE):  # one repairer
            stored = self._stored_password() or self._keystore_password()
            if stored is None:
                stored = secrets.token_urlsafe(24)
                self._keystore_file.unlink(missing_ok=True)  # it holds another password, or none we can read
            if stored != self._stored_password():
                runtime.write_file(self.password_file, stored.encode(), None, 0o600)
        return stored

    def _stored_password(self) -> str | None:
        """The password file's text when it can be one (printable ASCII, as we write it); None if missing or not."""
        try:
            text = self.password_file.read_bytes().decode("ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return text if PASSWORD.fullmatch(text) else None

    @property
    def _keystore_file(self) -> Path:
        return self.conf_dir / "elasticsearch.keystore"

    def _keystore_password(self) -> str | None:
        """bootstrap.password as the node's keystore holds it (a JVM run, a few seconds); None if unreadable."""
        home = self.es_home()
        if home is None or not self._keystore_file.is_file():
            return None
        try:
            text = self._keystore(home, self._es_env(home), ["show", "bootstrap.password"]).strip()
        except (LocalEsError, OSError):
            return None
        return text if PASSWORD.fullmatch(text) else None

    def _resync_password(self, refused: str) -> bool:
        """Our node refused ``refused``: take the keystore's password if it is another one (the file was damaged
        or replaced). Returns whether the password changed; asks the keystore once per refused password."""
        if self._unsyncable == refused:
            return False
        with FileLock(str(self.dirs.data / "elasticsearch-password.lock"), mode=private.FILE_MODE):
            current = self._stored_password()
            if current is not None and current != refused:  # another process repaired it meanwhile
                return True
            kept = self._keystore_password()
            if kept is None or kept == refused:
                self._unsyncable = refused
                return False
            runtime.write_file(self.password_file, kept.encode(), None, 0o600)
        return True

    def _reset_password(self) -> None:
        """Stop the node and drop its password and keystore: the next launch makes both anew (the app owns them)."""
        self.stop()
        self.password_file.unlink(missing_ok=True)
        self._keystore_file.unlink(missing_ok=True)

    def _es_env(self, home: Path) -> dict[str, str]:
        env = dict(os.environ)  # in the packaged app, with LD_LIBRARY_PATH already the user's (frozen.py)
        java = runtime.find_java(home)
        if java:
            env["ES_JAVA_HOME"] = java
        env.pop("JAVA_HOME", None)
        env["ES_PATH_CONF"] = str(self.conf_dir)
        env.setdefault("ES_JAVA_OPTS", self.heap)
        if self.owner is not None:
            env["HOME"] = str(self.pid_file.parent)  # a directory the node's user owns
        return env

    def _settings(self) -> dict[str, object]:
        settings = self._desktop_settings()
        for key, value in self.overrides.items():
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
        return settings

    def _desktop_settings(self) -> dict[str, object]:
        return {
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

    def _write_config(self, home: Path, env: dict[str, str]) -> None:
        if not os.path.lexists(self.conf_dir):
            try:
                runtime.copy_tree(home / "config", self.conf_dir, self.owner)
            except BaseException:
                shutil.rmtree(self.conf_dir, ignore_errors=True)
                raise
        runtime.check_dir(self.conf_dir, self.uid)
        lines = [f"{k}: {json.dumps(v)}" for k, v in self._settings().items()]
        text = "# written by imgsearch-desktop\n" + "\n".join(lines) + "\n"
        runtime.write_file(self.conf_dir / "elasticsearch.yml", text.encode(), self.owner, 0o600)
        password = self.password()  # first: a lost password without a readable keystore drops the keystore
        if not os.path.lexists(self._keystore_file):  # add -f creates it (one JVM run, not two)
            self._keystore(home, env, ["add", "-x", "-f", "bootstrap.password"], stdin=password)

    def _keystore(self, home: Path, env: dict[str, str], args: list[str], stdin: str | None = None) -> str:
        try:
            result = subprocess.run([str(home / "bin" / script("elasticsearch-keystore")), *args], env=env,
                                    input=stdin, capture_output=True, text=True, timeout=120, **self._user_kwargs())
        except subprocess.TimeoutExpired:
            raise LocalEsError(f"elasticsearch-keystore {args[0]} did not finish within 120 s") from None
        if result.returncode != 0:
            raise LocalEsError(f"elasticsearch-keystore {args[0]} failed: {result.stderr.strip()[-400:]}")
        return result.stdout

    def _user_kwargs(self) -> dict[str, object]:
        return {} if self.owner is None else {"user": self.owner[0], "group": self.owner[1], "extra_groups": []}

    # ----- identity -----
    def _marks(self, home: Path) -> set[str]:
        """The argv element only our node's processes carry (as given, and resolved: ES may print either)."""
        return {f"-Des.path.home={home}", f"-Des.path.home={os.path.realpath(home)}"}

    def _state(self) -> dict:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _save_state(self, **changes: object) -> None:
        state = {**self._state(), **changes}
        private.write_text(self.state_file, json.dumps(state))

    def _is_ours(self, pid: int, home: Path | None = None) -> bool:
        home = home or self.es_home()
        return home is not None and identity.is_node_process(pid, self._marks(home), self.uid)

    def node_pids(self, thorough: bool = False) -> list[int]:
        """The live processes proven to be this node (launcher and server).

        The pid files are hints checked first; ``thorough`` (or no proven hint) also scans /proc.
        """
        home = self.es_home()
        if home is None:
            return []
        hints = [p for p in (_read_pid(self.pid_file), self._state().get("pid")) if isinstance(p, int) and p > 0]
        found = {p for p in hints if self._is_ours(p, home)}
        if thorough or not found:
            found |= set(identity.find_node_processes(self._marks(home), self.uid))
        return sorted(found)

    def check_port(self, port: int) -> None:
        """Raise unless 127.0.0.1:``port`` is the port the state file names and our node holds it.

        Called before anything carrying the password is sent (every new connection of the guarded client).
        """
        if self._state().get("port") != port:
            raise LocalEsError(f"127.0.0.1:{port} is not the port of the running local node (it moved or stopped)")
        pids = self.node_pids()
        if not pids:
            raise LocalEsError("the local Elasticsearch node is not running")
        if identity.has_proc():
            # The pid files may name only the launcher (the server has not written its own yet): then scan.
            if not identity.port_held_by(port, pids, self.uid) and \
                    not identity.port_held_by(port, self.node_pids(thorough=True), self.uid):
                raise LocalEsError(f"127.0.0.1:{port} is held by another process, not the local Elasticsearch node")
        elif not self._uuid_matches(port, tuple(pids)):
            raise LocalEsError(f"127.0.0.1:{port} answers as another cluster, not the local Elasticsearch node")

    def _uuid_matches(self, port: int, pids: tuple[int, ...]) -> bool:
        """No /proc: the cluster UUID recorded at start, asked of the state file's port (cached per port + pids)."""
        expected = self._state().get("cluster_uuid")
        key = (port, repr(pids))
        if self._uuid_checked == key:
            return True
        try:
            ok = bool(expected) and self._cluster_uuid(port) == expected
        except (urllib.error.URLError, OSError, ValueError):
            ok = False
        self._uuid_checked = key if ok else None
        return ok

    def _cluster_uuid(self, port: int) -> str:
        return self._fetch(port, "/_cluster/state/metadata?filter_path=metadata.cluster_uuid")["metadata"][
            "cluster_uuid"]

    # ----- run -----
    def url(self, port: int, with_password: bool = True) -> str:
        auth = f"elastic:{self.password()}@" if with_password else ""
        return f"http://{auth}127.0.0.1:{port}"

    def _request(self, port: int, path: str, timeout: float = 5.0) -> dict:
        """An authenticated request, sent only once ``port`` is proven to be our node's (LocalEsError if not)."""
        if identity.has_proc():
            self.check_port(port)
        elif self._state().get("port") != port:
            raise LocalEsError(f"127.0.0.1:{port} is not the port of the running local node")
        return self._fetch(port, path, timeout)

    def _fetch(self, port: int, path: str, timeout: float = 5.0) -> dict:
        """GET as elastic; a 401 (the password file damaged or replaced) takes the keystore's password once."""
        password = self.password()
        try:
            return self._get(port, path, timeout, password)
        except urllib.error.HTTPError as exc:
            if exc.code != 401 or not self._resync_password(password):
                raise
        return self._get(port, path, timeout, self.password())

    @staticmethod
    def _get(port: int, path: str, timeout: float, password: str) -> dict:
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
        token = b64encode(f"elastic:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def running_port(self) -> int | None:
        """The port of our running, healthy node — proven, never just read from the state file."""
        port = self._state().get("port")
        if not isinstance(port, int):
            return None
        try:
            self.check_port(port)
            self._fetch(port, "/_cluster/health", timeout=3)
        except (LocalEsError, urllib.error.URLError, OSError, ValueError):
            return None
        return port

    def start(self, timeout: float = 180.0, source: str | None = None, progress: Progress | None = None) -> str:
        """Start the node (installing it first if needed) and wait until it is healthy; returns its URL.

        One process at a time (a lock in the data dir): a second `es start`, a `search` that auto-starts or the
        window waits for the first one's node instead of stopping it to start its own. A node of ours that holds
        its port but answers slowly (busy indexing) is waited for, never replaced.
        """
        port = self.running_port()
        if port is not None:
            return self.url(port)
        private.make_dir(self.dirs.data)
        with FileLock(str(self.dirs.data / "elasticsearch-start.lock"), mode=private.FILE_MODE):
            port = self.running_port()
            if port is not None:  # another process started it while we waited for the lock
                return self.url(port)
            return self._start_locked(timeout, source, progress)

    def _start_locked(self, timeout: float, source: str | None, progress: Progress | None) -> str:
        """Launch (unless our node already holds its port) and wait; a node refusing its password is restarted
        once with a new one (the app owns its keystore), then the refusal is explained."""
        for attempt in range(2):
            if attempt or not self._holds_its_port():
                self.launch(source, progress)
            try:
                return self.wait_healthy(timeout)
            except PasswordRefused:
                if attempt:
                    raise LocalEsError(
                        "the local Elasticsearch node refuses even a new password, so its elastic user's password "
                        f"was changed in Elasticsearch itself: write that password into {self.password_file} and "
                        "run the command again") from None
                self._reset_password()
        raise AssertionError("unreachable")

    def _holds_its_port(self) -> bool:
        port = self._state().get("port")
        if not isinstance(port, int):
            return False
        try:
            self.check_port(port)
        except LocalEsError:
            return False
        return True

    def launch(self, source: str | None = None, progress: Progress | None = None) -> None:
        """Start the node's processes without waiting (the members of a cluster start together: none is healthy
        until enough of them are up to elect a master)."""
        self._make_base()
        home = self.es_home() or self.install(source, progress=progress)
        missing = missing_parts(home)
        if missing:  # installed before install refused such archives
            raise LocalEsError(f"the installed Elasticsearch at {home} has no {', '.join(missing)}: install Elastic's "
                               "full distribution (imgsearch-desktop es install --from ARCHIVE)")
        private.make_dir(self.dirs.data)
        self._node_dirs()
        self._stop_orphans(home)
        env = self._es_env(home)
        self._write_config(home, env)
        (self.logs_dir / "http.ports").unlink(missing_ok=True)
        self.pid_file.unlink(missing_ok=True)
        self._launch(home, env)

    def wait_healthy(self, timeout: float = 180.0) -> str:
        """Wait until the launched node is healthy and proven ours; returns its URL."""
        ports_file = self.logs_dir / "http.ports"
        deadline = time.monotonic() + timeout
        refused_since: float | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise NodeStartFailed(f"Elasticsearch exited during start (code {self._proc.returncode}): "
                                   f"{self._failure_reason()} — full log: imgsearch-desktop es logs\n{self.logs(25)}")
            port = self._state().get("port") or self._read_port(ports_file)
            try:
                if port is not None and self._healthy(port):
                    return self.url(port)
                refused_since = None
            except PasswordRefused:  # a 401 that lasts: waiting will not help (a restarting node may flicker)
                refused_since = refused_since or time.monotonic()
                if time.monotonic() - refused_since >= REFUSED_FOR:
                    raise
            time.sleep(0.5)
        self.stop()
        raise NodeNotHealthy(f"Elasticsearch did not become healthy within {timeout:.0f}s:\n{self.logs(25)}")

    def _launch(self, home: Path, env: dict[str, str]) -> None:
        log = runtime.open_append(self.console_log, self.owner)
        try:
            self._proc = subprocess.Popen([str(home / "bin" / script("elasticsearch")), "-p", str(self.pid_file)],
                                          env=env, cwd=self.base, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True, **self._user_kwargs())
        finally:
            os.close(log)
        private.write_text(self.state_file, json.dumps({"pid": self._proc.pid, "port": None}))

    def _read_port(self, ports_file: Path) -> int | None:
        text = (runtime.read_text(ports_file) or "").strip()
        try:
            port = int(text.splitlines()[0].rsplit(":", 1)[1])
        except (IndexError, ValueError):  # not written yet (or not by ES): keep waiting
            return None
        self._save_state(port=port)
        return port

    def _healthy(self, port: int) -> bool:
        """Healthy and proven ours; records the cluster UUID (the identity check where there is no /proc).

        PasswordRefused when our proven node answers 401 to the file's password and to the keystore's."""
        try:
            if identity.has_proc():
                self.check_port(port)
            health = self._fetch(port, "/_cluster/health?wait_for_status=yellow&timeout=2s", timeout=5)
            if health.get("status") not in ("green", "yellow"):
                return False
            self._save_state(cluster_uuid=self._cluster_uuid(port))
        except urllib.error.HTTPError as exc:
            if exc.code == 401 and identity.has_proc():  # proven ours above (without /proc: maybe a stranger)
                raise PasswordRefused(f"the local Elasticsearch node refuses the password in {self.password_file}")\
                    from None
            return False
        except (LocalEsError, urllib.error.URLError, OSError, ValueError, KeyError):
            return False
        return True

    def _signal_all(self, pids: list[int], sig: int, home: Path) -> list[int]:
        return [p for p in pids if identity.signal_if(p, sig, lambda pid: self._is_ours(pid, home))]

    def _terminate(self, pids: list[int], home: Path, timeout: float) -> list[int]:
        """SIGTERM the proven pids, SIGKILL those still proven at the deadline; returns the ones signalled."""
        signalled = self._signal_all(pids, signal.SIGTERM, home)
        left = identity.wait_gone(signalled, lambda p: self._is_ours(p, home), timeout)  # a zombie is not ours
        self._signal_all(left, signal.SIGKILL, home)
        return signalled

    def _stop_orphans(self, home: Path, timeout: float = 60.0) -> None:
        """A node of ours still running without a usable state file (app data wiped, a killed run): stop it."""
        self._terminate(self.node_pids(thorough=True), home, timeout)

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the node this app started (and only that one). Returns whether one was running."""
        home = self.es_home()
        stopped = self._terminate(self.node_pids(thorough=True), home, timeout) if home else []
        if self._proc is not None:
            self._proc.poll()
        self.state_file.unlink(missing_ok=True)
        return bool(stopped)

    def status(self) -> NodeStatus:
        installed = self.es_home() is not None
        port = self.running_port()
        if port is None:
            return NodeStatus(running=False, installed=installed)
        health = self._request(port, "/_cluster/health")
        nodes = self._request(port, "/_nodes/_local/stats/fs")["nodes"]
        info = self._request(port, "/_nodes/_local?filter_path=nodes.*.version")["nodes"]
        fs = next(iter(nodes.values()))["fs"]["total"]
        server, pids = _read_pid(self.pid_file), self.node_pids()
        pid = server if server in pids else max(pids, default=None)  # the server, which writes the pid file
        return NodeStatus(running=True, installed=installed, version=next(iter(info.values()))["version"], port=port,
                          health=health["status"], disk_total=fs.get("total_in_bytes"),
                          disk_free=fs.get("available_in_bytes"), pid=pid)

    def _failure_reason(self) -> str:
        """The line of the console log that says why the node died (ES prints a stack trace after it)."""
        for line in self.logs(200).splitlines():
            if "fatal exception" in line or "ERROR:" in line or "Exception:" in line:
                return line.split("]")[-1].strip()[:300]
        return "see the log"

    def logs(self, lines: int = 50) -> str:
        """The last lines of the node's console output (where start-up errors land)."""
        text = runtime.read_text(self.console_log)
        if text is None:
            return "(no log yet)"
        return "\n".join(text.splitlines()[-lines:])


def _tag(data_dir: Path) -> str:
    """One node directory per app data dir."""
    return hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]


def _read_pid(path: Path) -> int | None:
    try:
        return int((runtime.read_text(path) or "").strip())
    except ValueError:
        return None
