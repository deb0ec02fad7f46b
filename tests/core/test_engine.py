"""Where the engine comes from without ``--from``: the packaged app's own (with its Java), else Maven (developers,
CI), else Elastic's official download for this platform, verified against the .sha512 published beside it."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.node import LocalNode, archive
from imgsearch_desktop.core.node.archive import ES_VERSION, obtain_archive, official_url
from imgsearch_desktop.errors import LocalEsError

OFFICIAL = f"elasticsearch-{ES_VERSION}-linux-x86_64.tar.gz"


def _distribution_tar(path: Path) -> Path:
    """A stand-in for Elastic's archive: one top folder with what install checks (archive.missing_parts)."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data in ((f"elasticsearch-{ES_VERSION}/bin/elasticsearch", b"#!/bin/sh\n"),
                           (f"elasticsearch-{ES_VERSION}/bin/elasticsearch-keystore", b"#!/bin/sh\n"),
                           (f"elasticsearch-{ES_VERSION}/config/jvm.options", b"-Xms1m\n"),
                           (f"elasticsearch-{ES_VERSION}/lib/filler.bin", os.urandom(3 << 20))):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def official_site(tmp_path, monkeypatch) -> Path:
    """A local stand-in for Elastic's download site (IMGSEARCH_ES_DOWNLOAD_BASE) serving this platform's archive
    and its .sha512; and no Maven on the PATH. Returns the served archive."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "site"))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("IMGSEARCH_ES_DOWNLOAD_BASE", f"http://127.0.0.1:{server.server_address[1]}/downloads/es")
    monkeypatch.setenv("PATH", str(tmp_path / "no-maven-here"))
    name = official_url().rsplit("/", 1)[1]  # e.g. elasticsearch-8.19.7-linux-x86_64.tar.gz
    (tmp_path / "site" / "downloads" / "es").mkdir(parents=True)
    served = _distribution_tar(tmp_path / "site" / "downloads" / "es" / name)
    served.with_name(f"{name}.sha512").write_text(f"{hashlib.sha512(served.read_bytes()).hexdigest()}  {name}\n")
    yield served
    server.shutdown()


def test_official_url_names_this_platforms_distribution(monkeypatch):
    monkeypatch.delenv("IMGSEARCH_ES_DOWNLOAD_BASE", raising=False)
    base = "https://artifacts.elastic.co/downloads/elasticsearch"
    assert official_url(system="Linux", machine="x86_64") == f"{base}/{OFFICIAL}"
    assert official_url(system="Darwin", machine="arm64") == f"{base}/elasticsearch-{ES_VERSION}-darwin-aarch64.tar.gz"
    assert official_url(system="Windows", machine="AMD64") == f"{base}/elasticsearch-{ES_VERSION}-windows-x86_64.zip"
    with pytest.raises(LocalEsError, match="no Elasticsearch for"):
        official_url(system="Linux", machine="riscv64")


def test_without_maven_install_downloads_the_official_distribution(official_site, tmp_path):
    seen = []
    got = obtain_archive(None, tmp_path / "cache", progress=lambda done, total, note: seen.append((done, total, note))
                         or True)
    assert got == tmp_path / "cache" / "downloads" / official_site.name
    assert got.read_bytes() == official_site.read_bytes()
    size = got.stat().st_size
    assert seen[-1] == (size, size, official_site.name) and len(seen) >= 3  # a bar that moves, its total known
    assert [p.name for p in got.parent.iterdir()] == [official_site.name]  # nothing else left (no .part)


def test_a_tampered_download_is_refused_and_leaves_nothing(official_site, tmp_path):
    official_site.write_bytes(b"not what was published" * 1000)
    with pytest.raises(LocalEsError, match="checksum mismatch"):
        obtain_archive(None, tmp_path / "cache")
    assert list((tmp_path / "cache" / "downloads").iterdir()) == []


def test_offline_install_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_ES_DOWNLOAD_BASE", "http://127.0.0.1:9/nothing-listens-here")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalEsError, match=r"offline\?.*es install --from PATH"):
        obtain_archive(None, tmp_path / "cache")


def test_the_cli_installs_the_official_distribution(official_site, tmp_path, isolated_home):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "IMGSEARCH_ES_ROOT_BASE": str(tmp_path / "es-root")}
    out = subprocess.run([sys.executable, "-m", "imgsearch_desktop", "es", "install"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("installed Elasticsearch at ") and f"elasticsearch-{ES_VERSION}" in out.stdout
    assert (isolated_home / "cache" / "downloads" / official_site.name).exists()


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """A packaged app's resources/engine: a distribution zip, engine.json with its checksum, a Java runtime (with a
    license link, as jlink makes them); and a Maven on the PATH that must not be asked."""
    resources = tmp_path / "resources"
    engine = resources / "engine"
    java = engine / "java"
    (java / "bin").mkdir(parents=True)
    (java / "bin" / "java").write_text("#!/bin/sh\necho java\n")
    (java / "bin" / "java").chmod(0o755)
    (java / "legal" / "java.base").mkdir(parents=True)
    (java / "legal" / "java.base" / "LICENSE").write_text("GPLv2 + CE\n")
    (java / "legal" / "java.sql").mkdir()
    (java / "legal" / "java.sql" / "LICENSE").symlink_to("../java.base/LICENSE")
    zipped = engine / f"elasticsearch-{ES_VERSION}.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr(f"elasticsearch-{ES_VERSION}/bin/elasticsearch", "#!/bin/sh\n")
        zf.writestr(f"elasticsearch-{ES_VERSION}/bin/elasticsearch-keystore", "#!/bin/sh\n")
        zf.writestr(f"elasticsearch-{ES_VERSION}/config/jvm.options", "-Xms1m\n")
        zf.writestr(f"elasticsearch-{ES_VERSION}/lib/elasticsearch.jar", "")
    sha = hashlib.sha512(zipped.read_bytes()).hexdigest()
    (engine / "engine.json").write_text(json.dumps({"archive": zipped.name, "sha512": sha}))
    monkeypatch.setattr(archive, "resource_dir", lambda: resources)
    monkeypatch.setitem(archive.PINNED_SHA512, zipped.name, sha)  # the real pin is for the real archive
    maven = tmp_path / "bin" / "mvn"
    maven.parent.mkdir()
    maven.write_text(f"#!/bin/sh\ntouch {tmp_path / 'maven-was-asked'}\nexit 1\n")
    maven.chmod(0o755)
    monkeypatch.setenv("PATH", f"{maven.parent}{os.pathsep}{os.environ['PATH']}")
    return engine


def test_the_bundled_engine_comes_first_and_brings_its_java(bundled, tmp_path, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_ES_ROOT_BASE", str(tmp_path / "es-root"))  # as root: a root-only tmp tree
    node = LocalNode(AppDirs.resolve(tmp_path / "home"))
    home = node.install()
    assert not (tmp_path / "maven-was-asked").exists()
    java = home / "jdk" / "bin" / "java"
    assert stat.S_IMODE(java.stat().st_mode) == 0o755 and java.read_text().endswith("echo java\n")
    copied = home / "jdk" / "legal" / "java.sql" / "LICENSE"
    assert not copied.is_symlink() and copied.read_text() == "GPLv2 + CE\n"  # links become plain files
    assert json.loads(node.home_file.read_text())["archive"] == f"elasticsearch-{ES_VERSION}.zip"
    assert node.install() == home  # idempotent


def test_a_damaged_bundled_engine_is_refused(bundled, tmp_path):
    zipped = bundled / f"elasticsearch-{ES_VERSION}.zip"
    zipped.write_bytes(zipped.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(LocalEsError, match="checksum mismatch"):
        obtain_archive(None, tmp_path / "cache")


def test_a_link_out_of_the_bundled_java_is_refused(bundled, tmp_path):
    (bundled / "java" / "lib").mkdir()
    (bundled / "java" / "lib" / "stolen").symlink_to("/etc/passwd")
    with pytest.raises(LocalEsError, match="links outside itself"):
        archive.copy_runtime(bundled / "java", tmp_path / "copy")
