"""The managed node: loopback only, authentication required, secrets 0600, downloads verified and atomic."""

from __future__ import annotations

import functools
import hashlib
import http.server
import stat
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from imgsearch_desktop.core.local_es import LocalEsError, download


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


def test_no_shell_is_ever_given_a_path():
    """Paths from the index reach only argument lists and QDesktopServices, never a shell command line."""
    package = Path(__file__).resolve().parents[2] / "imgsearch_desktop"
    offenders = [str(p) for p in package.rglob("*.py")
                 if any(s in p.read_text() for s in ("shell=True", "os.system(", "os.popen("))]
    assert offenders == []


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
