"""`dupes` as a script sees it: every member it prints meets the level's threshold against its keeper, and one file
on disk (one inode, whatever names reach it) is printed once — a script acting on the output never deletes the last
copy."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from imgsearch_desktop.core.store import Connection, PhotoDoc, Store
from tests.conftest import TINY_DIMS
from tests.core.test_dupes import chain
from tests.e2e.test_cli import run


def write_index(es_url: str, alias: str, library: str, files: dict[str, tuple[np.ndarray, bytes]]) -> None:
    """Documents for these real files with the given vectors (random models cannot judge meaning)."""
    client = Connection(es_url).client()
    store = Store(client, alias, library=library)
    store.use_index("synthetic", TINY_DIMS)
    docs = []
    for i, (path, (vec, data)) in enumerate(files.items()):
        docs.append(PhotoDoc(path=path, root=os.path.dirname(path), library=library,
                             sha256=hashlib.sha256(data).hexdigest(), vector=(vec / np.linalg.norm(vec)).tolist(),
                             size=len(data), mtime_ns=i, phash=hashlib.sha256(data).hexdigest(), width=100,
                             height=100, format="JPEG"))
    assert store.write(docs) == []
    store.refresh()
    client.close()


def test_dupes_json_never_prints_a_member_below_the_threshold_nor_one_inode_twice(cli_env, es_url, tmp_path):
    vectors = chain(8, 0.95, np.random.default_rng(5))  # neighbours at 0.95, the ends at 0.58: one linked chain
    files: dict[str, tuple[np.ndarray, bytes]] = {}
    for i, vec in enumerate(vectors):
        path = tmp_path / "burst" / f"{i}.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(f"shot {i}".encode())
        files[str(path)] = (vec, path.read_bytes())
    lib, link = tmp_path / "lib", tmp_path / "link"
    lib.mkdir()
    (lib / "a.jpg").write_bytes(b"one photo")
    link.symlink_to(lib, target_is_directory=True)  # the same folder indexed again through a symlinked root
    (tmp_path / "copy.jpg").write_bytes(b"one photo")  # and one real copy
    photo_vec = np.random.default_rng(6).normal(size=TINY_DIMS)
    for path in (lib / "a.jpg", link / "a.jpg", tmp_path / "copy.jpg"):
        files[str(path)] = (photo_vec, b"one photo")
    cli_env = {**cli_env, "IMGSEARCH_LIBRARY_ID": "dupes-cli"}  # the CLI sees the documents written as its own
    write_index(es_url, cli_env["IMGSEARCH_INDEX"], cli_env["IMGSEARCH_LIBRARY_ID"], files)
    unit = {p: v / np.linalg.norm(v) for p, (v, _) in files.items()}

    out = run(cli_env, "dupes", "--level", "similar", "--threshold", "0.9", "--json")
    assert out.returncode == 0, out.stderr
    groups = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(groups) >= 3  # the chain split into stars, plus the photo and its copy
    inodes = []
    for g in groups:
        assert g["files"][0]["path"] == g["keep"] and g["why"]
        for f in g["files"]:
            assert f["score"] >= 0.9 and float(unit[f["path"]] @ unit[g["keep"]]) >= 0.9 - 1e-6
            st = os.stat(f["path"])
            inodes.append((st.st_dev, st.st_ino))
    assert len(inodes) == len(set(inodes))

    out = run(cli_env, "dupes", "--level", "exact", "--json")
    (group,) = [json.loads(line) for line in out.stdout.splitlines()]
    paths = sorted(f["path"] for f in group["files"])
    assert len(paths) == 2 and str(tmp_path / "copy.jpg") in paths and group["why"] == "identical content"

    human = run(cli_env, "dupes", "--level", "exact")
    assert human.returncode == 0 and human.stderr.startswith("1 group, 0.0 MB in copies")
    assert "keeps 1, moves 1 file (0.0 MB) to the trash" in human.stderr
    human = run(cli_env, "dupes", "--level", "similar", "--threshold", "0.9")
    assert "linked sets split into" in human.stderr and "[ ]" in human.stdout  # similar shots: not pre-ticked
    bad = run(cli_env, "dupes", "--keep-rules", "biggest")
    assert bad.returncode == 2 and "--keep-rules" in bad.stderr
