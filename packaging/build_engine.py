"""The engine the packaged app carries: the Elasticsearch distribution the app pins, plus a minimal Java runtime.

    python packaging/build_engine.py --out build/engine [--archive PATH] [--jdk JDK_HOME]

Writes OUT/elasticsearch-<version>.zip (verified against the app's pinned SHA-512), OUT/java/ (``jlink`` of only
the modules the distribution's jars use, as ``jdeps`` finds them, plus ``jdk.incubator.vector``, which Lucene's
vector search loads reflectively, and the few others listed at EXTRA_MODULES) and OUT/engine.json (archive, SHA-512,
Java version and modules). Links in the runtime (jlink links license files) are copied as files; its native
libraries lose their symbol tables (``strip --strip-unneeded``). Reuses OUT when the archive, JDK and this script
are unchanged.

Archive: --archive, else the app's download cache (where Maven's copy lands: ``es install`` or the tests), else
fetched with Maven. JDK: --jdk, else $JAVA_HOME, else the one ``jlink`` on the PATH belongs to (Debian:
openjdk-17-jdk-headless). Run with the development .venv (it imports the app's pinned version and checksum).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.node.archive import ES_VERSION, PINNED_SHA512, _sha512, fetch_with_maven, verify

# Not visible to jdeps (found by name or as service providers) but needed: Lucene's SIMD vector code, the "jar"
# file system Elasticsearch opens its embedded implementation jars with (without it: ProviderNotFoundException at
# the first start), and the elliptic-curve crypto provider that the security module's TLS set-up asks the JDK for.
# Modules the launcher puts on the JVM's command line (``--add-modules=X`` in its classes and jvm.options, e.g.
# jdk.management.agent: "Module jdk.management.agent not found" otherwise) are found by scanning for them.
EXTRA_MODULES = ("jdk.incubator.vector", "jdk.zipfs", "jdk.crypto.ec")
ADD_MODULES = re.compile(rb"--add-modules[= ]([A-Za-z0-9_.,-]+)")


def find_jdk(given: str | None) -> Path:
    for home in (given, os.environ.get("JAVA_HOME")):
        if home and (Path(home) / "bin" / "jlink").is_file():
            return Path(home)
    jlink = shutil.which("jlink")
    if jlink:
        return Path(os.path.realpath(jlink)).parent.parent
    sys.exit("build_engine: no JDK with jlink (Debian/Ubuntu: apt install openjdk-17-jdk-headless, or --jdk DIR)")


def jdk_version(jdk: Path) -> str:
    release = (jdk / "release").read_text(encoding="utf-8") if (jdk / "release").exists() else ""
    for line in release.splitlines():
        if line.startswith("JAVA_VERSION="):
            return line.split("=", 1)[1].strip('"')
    return "unknown"


def _plain_jar(jar: Path, into: Path) -> Path:
    """The jar as a classpath jar: a modular jar's ``requires`` would make jdeps resolve the whole module graph
    (other jars' modules, split packages); without module-info its classes are analysed like any others."""
    with zipfile.ZipFile(jar) as src:
        if not any(name.endswith("module-info.class") for name in src.namelist()):
            return jar
        plain = into / f"plain-{len(list(into.iterdir()))}-{jar.name}"
        with zipfile.ZipFile(plain, "w") as dst:
            for info in src.infolist():
                if not info.filename.endswith("module-info.class"):
                    dst.writestr(info, src.read(info))
    return plain


def java_modules(jdk: Path, archive: Path) -> list[str]:
    """jdeps over every jar of the distribution (lib/, lib/*/, modules/*/) in one run, plus EXTRA_MODULES. The list
    is minimal (modules that others require are left out): jlink adds what they require."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        named: set[str] = set()
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.endswith(".jar") and n.split("/")[1:2] in (["lib"], ["modules"])]
            zf.extractall(scratch / "dist", members=names)
            for name in zf.namelist():
                if name.endswith("config/jvm.options"):
                    named.update(*(m.decode().split(",") for m in ADD_MODULES.findall(zf.read(name))))
        (scratch / "plain").mkdir()
        jars = sorted((scratch / "dist").glob("**/*.jar"))
        for jar in jars:
            with zipfile.ZipFile(jar) as zf:
                for name in zf.namelist():
                    if name.endswith(".class"):
                        named.update(*(m.decode().split(",") for m in ADD_MODULES.findall(zf.read(name))))
        plain = [_plain_jar(jar, scratch / "plain") for jar in jars]
        result = subprocess.run([str(jdk / "bin" / "jdeps"), "--print-module-deps", "--ignore-missing-deps",
                                 "--multi-release", "17", *map(str, plain)], capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        sys.exit(f"build_engine: jdeps failed: {result.stderr[-1000:]}")
    found = {m for m in lines[-1].split(",") if m}
    print(f"build_engine: jdeps over {len(jars)} jars: {','.join(sorted(found))}; named on the JVM's command line: "
          f"{','.join(sorted(named))}")
    # Only modules this JDK has (jdk.crypto.ec became part of java.base in JDK 22; ALL-MODULE-PATH is no module).
    extra = (named | set(EXTRA_MODULES)) - found
    return sorted(found | {m for m in extra if (jdk / "jmods" / f"{m}.jmod").exists()})


def dereference(src: Path, dst: Path) -> None:
    """Copy a tree, links replaced by the files they name (PyInstaller and unzip tools then see plain files)."""
    shutil.copytree(src, dst, symlinks=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--archive", type=Path, help="the Elasticsearch zip (default: the app's download cache)")
    ap.add_argument("--jdk", help="the JDK to jlink from (default: $JAVA_HOME, or jlink's on the PATH)")
    args = ap.parse_args()

    name = f"elasticsearch-{ES_VERSION}.zip"
    archive = args.archive or AppDirs.resolve().cache / "downloads" / name
    if not archive.exists():
        archive = fetch_with_maven(archive.parent)
    verify(archive, PINNED_SHA512.get(archive.name))
    jdk = find_jdk(args.jdk)
    out: Path = args.out
    stamp = {"archive": archive.name, "sha512": PINNED_SHA512[archive.name], "java_version": jdk_version(jdk),
             "jdk": str(jdk), "builder": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]}
    manifest = out / "engine.json"
    if manifest.exists() and (out / "java" / "bin" / "java").exists() and (out / archive.name).exists():
        old = json.loads(manifest.read_text(encoding="utf-8"))
        if {k: old.get(k) for k in stamp} == stamp:
            print(f"build_engine: {out} is up to date (Java {stamp['java_version']}, {len(old['modules'])} modules)")
            return 0

    modules = java_modules(jdk, archive)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        linked = Path(tmp) / "java"
        result = subprocess.run(
            [str(jdk / "bin" / "jlink"), "--add-modules", ",".join(modules), "--strip-debug", "--no-header-files",
             "--no-man-pages", "--compress=2", "--output", str(linked)], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"build_engine: jlink failed: {result.stderr[-1000:]}")
        dereference(linked, out / "java")
    strip = shutil.which("strip")
    if strip and sys.platform == "linux":  # symbol tables of the runtime's libraries: ~4.5 MB, never used to run
        subprocess.run([strip, "--strip-unneeded", *map(str, (out / "java").rglob("*.so"))], check=True)
    shutil.copy2(archive, out / archive.name)
    if _sha512(out / archive.name) != stamp["sha512"]:
        sys.exit("build_engine: the copied archive does not match its checksum")
    manifest.write_text(json.dumps({**stamp, "modules": modules}, indent=2) + "\n", encoding="utf-8")
    mb = {p.name: sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 1e6 if p.is_dir() else
          p.stat().st_size / 1e6 for p in out.iterdir()}
    print(f"build_engine: {out}: Java {stamp['java_version']} runtime {mb['java']:.0f} MB ({len(modules)} modules), "
          f"{archive.name} {mb[archive.name]:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
