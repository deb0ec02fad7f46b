"""The managed node: loopback only, authentication required, secrets 0600, downloads verified and atomic; archives
unpack plain files only, root uses only a tree it made, pids and ports are proven ours before use ([C1] 5–8)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest
from elasticsearch import ConnectionError as EsConnectionError

from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.node import LocalEsError, LocalNode, download, identity
from imgsearch_desktop.core.node.client import ManagedConnection
from imgsearch_desktop.core.store import Connection, Store
from imgsearch_desktop.errors import AuthRefused
from tests.listeners import ForeignListener


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on ``port``, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(addr)
    return found


def test_node_listens_on_loopback_only(es_node):
    node, _url = es_node
    port = node.status().port
    addresses = _listening_addresses(port)
    loopback = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}
    assert addresses and addresses <= loopback, addresses


def test_unauthenticated_requests_are_refused(es_node):
    node, _url = es_node
    port = node.status().port
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_cat/indices", timeout=10)
    assert info.value.code == 401


def test_password_file_is_private_and_url_works_as_is(es_node):
    node, url = es_node
    assert stat.S_IMODE(node.password_file.stat().st_mode) == 0o600
    assert url.startswith("http://elastic:") and url.endswith(f":{node.status().port}")
    assert node.start() == url  # idempotent: a running node is reused, not started twice


def test_status_reports_version_port_health_disk(es_node):
    st = es_node[0].status()
    assert st.running and st.version.startswith("8.") and st.health in ("green", "yellow")
    assert st.disk_total > st.disk_free > 0


@pytest.fixture
def http_server(tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_verifies_checksum_and_is_atomic(tmp_path, http_server, es_archive):
    served = tmp_path / "elasticsearch-test.zip"
    served.write_bytes(es_archive.read_bytes())
    good = hashlib.sha512(served.read_bytes()).hexdigest()
    (tmp_path / "elasticsearch-test.zip.sha512").write_text(f"{good}  elasticsearch-test.zip\n")
    cache = tmp_path / "cache"

    with pytest.raises(LocalEsError, match="checksum mismatch"):
        download(f"{http_server}/elasticsearch-test.zip", cache, sha512="0" * 128)
    assert not any(cache.iterdir())  # no partial or unverified file left behind

    got = download(f"{http_server}/elasticsearch-test.zip", cache)  # checksum read from the published .sha512
    assert got == cache / "elasticsearch-test.zip" and got.stat().st_size == served.stat().st_size
    assert [p.name for p in cache.iterdir()] == ["elasticsearch-test.zip"]


def test_download_without_any_checksum_is_refused(tmp_path, http_server):
    (tmp_path / "mystery.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    with pytest.raises(LocalEsError, match="no checksum"):
        download(f"{http_server}/mystery.zip", tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # refused before anything was fetched


def test_remote_clusters_verify_tls_and_secrets_stay_out_of_files_and_urls(tmp_path, monkeypatch):
    from imgsearch_desktop.config import AppDirs, Settings
    from imgsearch_desktop.core.store import Connection

    conn = Connection("https://search.example:9200", user="elastic", password="s3cret-pw")
    client = conn.client()
    node = next(iter(client.transport.node_pool.all()))
    assert node.config.verify_certs is True  # certificate verification is never switched off
    assert "s3cret-pw" not in conn.redacted() and conn.redacted() == "https://search.example:9200"
    dirs = AppDirs.resolve(tmp_path)
    monkeypatch.setenv("IMGSEARCH_ES_PASSWORD", "s3cret-pw")
    settings = Settings.load(dirs)
    settings.es_url = "https://search.example:9200"
    settings.save(dirs)
    assert "s3cret-pw" not in dirs.settings_file.read_text()


def test_a_folder_name_a_shell_would_run_reaches_the_program_as_one_argument(tmp_path, monkeypatch):
    """A path reaches a program as one element of an argument list, never inside a shell command line: a JDK in a
    folder named with ; $(…) ` and quotes is found and run as it is, and nothing in its name is executed. (A photo's
    path reaches the desktop's opener as a file URL: tests/app/test_first_use.py.)"""
    from imgsearch_desktop.core.node import runtime

    monkeypatch.chdir(tmp_path)  # where a shell's `touch` would leave its mark
    jdk = tmp_path / "jdk; touch ran-1 $(touch ran-2) `touch ran-3` 'q\" && touch ran-4"
    java = jdk / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text('#!/bin/sh\necho "openjdk version \\"17.0.9\\" 2023-10-17" >&2\n')
    java.chmod(0o755)
    monkeypatch.delenv("ES_JAVA_HOME", raising=False)
    monkeypatch.setenv("JAVA_HOME", str(jdk))
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))  # no other java on the way
    assert runtime.find_java(tmp_path / "es-home-without-a-jdk") == str(jdk)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ran-")) == []


def test_secrets_use_the_keyring_else_a_private_file(tmp_path):
    import keyring
    from keyring.backends.fail import Keyring as FailKeyring

    from imgsearch_desktop.core import secrets

    secrets.set_secret(tmp_path, "es:https://cluster:9200", "api-key-123")  # keyrings.alt backend in tests
    assert keyring.get_password(secrets.SERVICE, "es:https://cluster:9200") == "api-key-123"
    assert secrets.get_secret(tmp_path, "es:https://cluster:9200") == "api-key-123"
    assert not (tmp_path / "secrets.json").exists()

    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())  # a machine without any keyring backend
    try:
        secrets.set_secret(tmp_path, "es:https://other:9200", "pw-456")
        assert secrets.get_secret(tmp_path, "es:https://other:9200") == "pw-456"
        assert "0600" in secrets.storage_description()
    finally:
        keyring.set_keyring(previous)
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600


# ---------------------------------------------------------------- [C1] 5: archives hold plain files and folders only
ROOT = os.geteuid() == 0
as_root = pytest.mark.skipif(not ROOT, reason="the attack is on what root does")


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", data: bytes = b"#!/bin/sh\n",
           mode: int = 0o755) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info, data


def _distribution(*extra: tuple[tarfile.TarInfo, bytes]) -> list[tuple[tarfile.TarInfo, bytes]]:
    """The least an archive must hold to be installed (archive.REQUIRED_SCRIPTS and REQUIRED_FOLDERS), and ``extra``."""
    return [_entry("es/", tarfile.DIRTYPE), _entry("es/bin/", tarfile.DIRTYPE), _entry("es/bin/elasticsearch"),
            _entry("es/bin/elasticsearch-keystore"), _entry("es/config/", tarfile.DIRTYPE),
            _entry("es/lib/", tarfile.DIRTYPE), *extra]


@pytest.fixture
def victim(tmp_path) -> Path:
    """An outside folder holding a private file: what a crafted archive wants chowned, chmodded or written."""
    folder = tmp_path / "victim"
    folder.mkdir(mode=0o700)
    (folder / "secret").write_text("mine")
    (folder / "secret").chmod(0o600)
    return folder


def _fingerprint(folder: Path) -> dict[str, tuple[int, int, int, int]]:
    return {str(p): (st.st_uid, st.st_gid, st.st_mode, st.st_nlink)
            for p in [folder, *folder.rglob("*")] for st in [p.lstat()]}


@pytest.fixture
def root_base(tmp_path, monkeypatch) -> Path:
    """As root, the node's tree goes here (a root-only tmp dir) instead of /var/lib."""
    base = tmp_path / "es-root"
    monkeypatch.setenv("IMGSEARCH_ES_ROOT_BASE", str(base))
    return base


def _crafted(tmp_path: Path, kind: str, victim: Path) -> Path:
    secret = str(victim / "secret")
    if kind == "hard link to an absolute path":
        return _tar(tmp_path / "a.tar.gz", _distribution(_entry("es/lib", tarfile.LNKTYPE, secret)))
    if kind == "symlinked bin":
        return _tar(tmp_path / "a.tar.gz", [_entry("es/", tarfile.DIRTYPE), _entry("es/bin", tarfile.SYMTYPE,
                                                                                    str(victim))])
    if kind == "dot-dot path":
        return _tar(tmp_path / "a.tar.gz", _distribution(_entry("es/../../escaped")))
    if kind == "absolute path":
        return _tar(tmp_path / "a.tar.gz", _distribution(_entry(str(tmp_path / "escaped"))))
    if kind == "device":
        return _tar(tmp_path / "a.tar.gz", _distribution(_entry("es/null", tarfile.CHRTYPE)))
    path = tmp_path / "a.zip"  # a zip entry is a symlink when its Unix mode says S_IFLNK
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("es/"), b"")
        link = zipfile.ZipInfo("es/bin")
        link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(victim))
        zf.writestr("es/bin/elasticsearch", b"#!/bin/sh\n")
    return path


@pytest.mark.parametrize("kind", ["hard link to an absolute path", "symlinked bin", "dot-dot path", "absolute path",
                                  "device", "zip symlink"])
def test_install_refuses_archives_with_links_or_escaping_paths(kind, tmp_path, victim, root_base):
    node = LocalNode(AppDirs.resolve(tmp_path / "home"))
    before = _fingerprint(victim)
    archive = _crafted(tmp_path, kind, victim)
    with pytest.raises(LocalEsError, match=r"refusing a\.(tar\.gz|zip): entry .*only plain files and folders"):
        node.install(str(archive))
    assert _fingerprint(victim) == before  # no owner, mode or link count changed outside
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()
    assert node.es_home() is None and not list(node.base.glob(".unpack-*"))  # nothing half-unpacked left


def test_install_refuses_an_archive_without_what_the_node_runs(tmp_path, root_base):
    """[C3] only bin/elasticsearch: once installed, `es start` ended in FileNotFoundError (elasticsearch-keystore)."""
    node = LocalNode(AppDirs.resolve(tmp_path / "home"))
    bare = _tar(tmp_path / "bare.tar.gz", _distribution()[:3])
    with pytest.raises(LocalEsError) as refused:
        node.install(str(bare))
    assert str(refused.value) == ("refusing bare.tar.gz: it has no bin/elasticsearch-keystore, config/, lib/, which "
                                  "Elasticsearch needs to run; use Elastic's full distribution")
    assert node.es_home() is None and not list(node.base.glob(".unpack-*"))


def test_install_unpacks_a_plain_archive_with_plain_modes(tmp_path, root_base):
    members = _distribution(_entry("es/bin/setuid-tool", mode=0o4777),
                            _entry("es/config/", tarfile.DIRTYPE, mode=0o777),
                            _entry("es/config/jvm.options", data=b"-Xms1m\n", mode=0o666))
    node = LocalNode(AppDirs.resolve(tmp_path / "home"))
    home = node.install(str(_tar(tmp_path / "plain.tar.gz", members)))
    modes = {p.relative_to(home).as_posix(): stat.S_IMODE(p.lstat().st_mode) for p in home.rglob("*")}
    assert modes == {"bin": 0o755, "bin/elasticsearch": 0o755, "bin/elasticsearch-keystore": 0o755,
                     "bin/setuid-tool": 0o755, "config": 0o755, "config/jvm.options": 0o644, "lib": 0o755}
    assert {p.lstat().st_uid for p in [home, *home.rglob("*")]} == {os.geteuid()}  # never handed to anyone


# ---------------------------------------------------------------- [C1] 6: as root, only a tree root made itself
def _as_nobody(*cmd: str) -> None:
    subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd], check=True)


@pytest.fixture
def reachable_tmp():
    """A root-owned 0755 tmp dir outside pytest's 0700 one, so that nobody can reach into it."""
    path = Path(tempfile.mkdtemp(prefix="imgsearch-c1-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@as_root
@pytest.mark.parametrize("plant", ["node dir owned by nobody", "symlink to the victim", "base squatted by nobody",
                                   "base is nobody's symlink", "world-writable base"])
def test_root_refuses_a_node_directory_it_did_not_create(plant, tmp_path, victim, reachable_tmp, monkeypatch):
    victim.chmod(0o755)
    shared = reachable_tmp / "shared-tmp"  # a world-writable sticky place like /var/tmp
    shared.mkdir()
    shared.chmod(0o1777)
    root_base = reachable_tmp / "es-root"
    if plant.startswith("base"):
        root_base = shared / "es-root"
    monkeypatch.setenv("IMGSEARCH_ES_ROOT_BASE", str(root_base))
    if plant.startswith("base"):
        if plant == "base squatted by nobody":
            _as_nobody("mkdir", "-m", "0755", str(root_base))
        else:
            _as_nobody("ln", "-s", str(victim), str(root_base))
    else:
        root_base.mkdir(mode=0o755)
        root_base.chmod(0o1777)  # while it was world-writable (as /var/tmp is), nobody got in first
    node = LocalNode(AppDirs.resolve(tmp_path / "home"))
    if plant == "node dir owned by nobody":
        _as_nobody("mkdir", "-m", "0777", str(node.base))
    elif plant == "symlink to the victim":
        _as_nobody("ln", "-s", str(victim), str(node.base))
    if plant != "world-writable base" and not plant.startswith("base"):
        root_base.chmod(0o755)  # even once the base is tightened, what nobody left there is refused
    before = _fingerprint(victim)
    with pytest.raises(LocalEsError, match=r"refusing to use .*imgsearch-desktop did not create it"):
        node.install(str(_tar(tmp_path / "es.tar.gz", _distribution())))
    with pytest.raises(LocalEsError, match="refusing to use"):
        node.start(timeout=5)
    assert _fingerprint(victim) == before and sorted(os.listdir(victim)) == ["secret"]  # no elasticsearch.yml


@as_root
def test_root_base_is_created_root_only_and_the_node_gets_only_its_own_folders(tmp_path, root_base, es_archive):
    node = LocalNode(AppDirs.resolve(tmp_path / "home"))
    home = node.install(str(es_archive))
    node._make_base()
    node._node_dirs()
    for path in (root_base, node.base, home):
        st = path.lstat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o755)
    for name in ("data", "logs", "run"):
        st = (node.base / name).lstat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (node.owner[0], 0o700)


# ---------------------------------------------------------------- [C1] 7: a pid is not an identity
@pytest.fixture
def strangers(tmp_path):
    """Live processes that are not our node: a plain sleep, and (as root) one forging our node's argv as nobody."""
    procs: list[subprocess.Popen] = []

    def spawn(*args: str, user: str | None = None) -> subprocess.Popen:
        extra = {"user": user, "group": "nogroup", "extra_groups": []} if user else {}
        proc = subprocess.Popen([*args], **extra)
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        proc.kill()
        proc.wait()


def test_stale_pid_files_naming_other_processes_are_never_signalled(tmp_path, root_base, es_archive, strangers):
    home_dir = tmp_path / "home"
    node = LocalNode(AppDirs.resolve(home_dir))
    es_home = node.install(str(es_archive))
    node._make_base()
    node._node_dirs()
    node.dirs.data.mkdir(parents=True, exist_ok=True)
    sleeper = strangers("sleep", "300")
    other = strangers("sleep", "301")
    victims = [sleeper, other]
    if ROOT:  # the same argv as our node, but not the node's user: still not ours
        victims.append(strangers("/bin/sh", "-c", "while :; do sleep 1; done", "sh", f"-Des.path.home={es_home}",
                                 user="nobody"))
    node.state_file.write_text(json.dumps({"pid": sleeper.pid, "port": 9}))
    node.pid_file.write_text(str(other.pid))
    if ROOT:
        node.pid_file.write_text(str(victims[2].pid))
    time.sleep(0.3)  # let the forged process exec

    assert node.running_port() is None and node.node_pids(thorough=True) == []
    node._stop_orphans(es_home, timeout=1)  # what an auto-starting `search` runs first
    assert node.stop(timeout=1) is False
    node.state_file.write_text(json.dumps({"pid": sleeper.pid, "port": 9}))
    out = subprocess.run([sys.executable, "-m", "imgsearch_desktop", "--home", str(home_dir), "es", "stop"],
                         capture_output=True, text=True, env={**os.environ, "IMGSEARCH_HOME": str(home_dir)})
    assert out.stdout.strip() == "not running", out.stderr
    assert [p.poll() for p in victims] == [None] * len(victims)  # all alive: none was signalled


def test_the_running_node_is_proven_by_the_kernel(es_node):
    node, _url = es_node
    pids = node.node_pids(thorough=True)
    st = node.status()
    assert st.pid in pids and len(pids) == 2  # the CLI launcher and the server it runs
    assert identity.port_held_by(st.port, pids, node.uid)
    with ForeignListener() as foreign:
        assert not identity.port_held_by(foreign.port, pids, node.uid)


# ---------------------------------------------------------------- [C1] 8: credentials go to our node only
@contextlib.contextmanager
def _state_names(node: LocalNode, port: int):
    """The state file naming ``port`` (the node's real state is put back afterwards)."""
    saved = node.state_file.read_text()
    node._save_state(port=port)
    try:
        yield
    finally:
        node.state_file.write_text(saved)


def test_a_foreign_listener_on_the_state_files_port_gets_no_credentials(es_node):
    node, _url = es_node
    with ForeignListener() as foreign, _state_names(node, foreign.port):
        assert node.running_port() is None and node.status().running is False
        with pytest.raises(LocalEsError, match="held by another process"):
            node.check_port(foreign.port)
        client = ManagedConnection(node.url(foreign.port), node=node).client(request_timeout=5)
        with pytest.raises(EsConnectionError, match=r"not talking to 127\.0\.0\.1"):
            client.cluster.health()
        client.close()
    assert foreign.connections >= 1 and foreign.received == b""  # connected, then not one byte sent


def test_store_leaves_a_stale_port_for_the_nodes_real_one(es_node, es_client):
    """The client still points at the port the node used to have; someone else listens there now."""
    node, _url = es_node
    real = node.running_port()
    index = f"c1-{uuid.uuid4().hex[:8]}"
    es_client.indices.create(index=index)
    try:
        with ForeignListener() as foreign:
            stale = ManagedConnection(node.url(foreign.port), node=node)
            waits: list[str] = []
            store = Store(stale.client(request_timeout=5), index, retry_for=10, on_wait=waits.append,
                          connection=stale)
            store.refresh()  # through _retrying: refused at the foreign port, then rebuilt for the real one
        assert foreign.received == b"" and waits == []
        assert store.connection.url == node.url(real)
        assert next(iter(store.client.transport.node_pool.all())).config.port == real
        assert store.client.cluster.health()["status"] in ("green", "yellow")
    finally:
        es_client.indices.delete(index=index)


def test_a_401_from_a_stranger_is_a_clear_error_not_a_traceback():
    reply = (b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
             b"X-Elastic-Product: Elasticsearch\r\n\r\n{}")
    with ForeignListener(reply=reply) as stranger:
        store = Store(Connection(f"http://elastic:pw@127.0.0.1:{stranger.port}").client(request_timeout=5), "any",
                      retry_for=1)
        with pytest.raises(AuthRefused):  # typed: the window maps it by class (app/problems.py)
            store.refresh()


def test_without_proc_the_cluster_uuid_identifies_the_node(es_node, monkeypatch):
    """macOS and others: the UUID recorded at start, asked only of the port the state file names."""
    node, _url = es_node
    real = node.running_port()
    monkeypatch.setattr(identity, "has_proc", lambda: False)
    node._uuid_checked = None
    assert node.running_port() == real
    body = b'{"metadata": {"cluster_uuid": "someone-else"}}'
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with ForeignListener(reply=reply) as foreign, _state_names(node, foreign.port):
        assert node.running_port() is None
        with pytest.raises(LocalEsError, match="another cluster"):
            node.check_port(foreign.port)
    with ForeignListener() as elsewhere:
        with pytest.raises(LocalEsError, match="not the port"):
            node.check_port(elsewhere.port)  # a port the state file does not name is never asked
        assert elsewhere.connections == 0
