"""The CLI as a user runs it: a real process, real files, the session's Elasticsearch node, tiny models."""

from __future__ import annotations

import base64
import contextlib
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from imgsearch_desktop.cli_parser import normalise_argv
from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.node import LocalNode
from tests.photos import write_photo


def run(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "imgsearch_desktop", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_index_then_search_json_lines(cli_env, tmp_path):
    pics = tmp_path / "Pictures"
    for i in range(5):
        write_photo(pics / f"img{i}.jpg", seed=300 + i)
    (pics / "oops.jpg").write_text("not a picture")
    out = run(cli_env, "index", str(pics))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == f"skipped {pics / 'oops.jpg'}: not an image (or a format that is not supported)"
    assert lines[-1].startswith("indexed 5, unchanged 0, moved 0, removed 0, skipped 1 · ")
    assert lines[-1].endswith("img/s")

    out = run(cli_env, "search", "--image", str(pics / "img2.jpg"), "-k", "3", "--json")
    assert out.returncode == 0, out.stderr
    hits = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(hits) == 3 and hits[0]["path"] == str(pics / "img2.jpg") and hits[0]["score"] > 0.999
    assert set(hits[0]) == {"path", "score", "image_id", "image_name", "relative_path", "width", "height",
                            "faces", "text_in_photo", "matched"}
    assert hits[0]["relative_path"] == "img2.jpg" and (hits[0]["width"], hits[0]["height"]) == (320, 240)
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"] and -1 <= hits[2]["score"] <= 1

    # Global options work after the subcommand too, and text search works in any language.
    out = run(cli_env, "search", "--text", "ein Hund am Strand", "--json", "-k", "5",
              "--index", cli_env["IMGSEARCH_INDEX"])
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 5

    out = run(cli_env, "index", str(pics))
    assert out.stdout.strip().splitlines()[-1].startswith("indexed 0, unchanged 5")


def test_exit_codes(cli_env, tmp_path):
    photo = write_photo(tmp_path / "q.jpg", 1)
    dead = {**cli_env, "IMGSEARCH_ES_URL": "http://127.0.0.1:9"}
    out = run(dead, "search", "--image", str(photo))
    assert out.returncode == 3 and "Elasticsearch unreachable" in out.stderr and "Traceback" not in out.stderr
    out = run({**cli_env, "IMGSEARCH_IMAGE_MODEL": str(tmp_path / "no-model")}, "search", "--image", str(photo))
    assert out.returncode == 4 and "model" in out.stderr and "Traceback" not in out.stderr
    out = run(cli_env, "search")
    assert out.returncode == 2
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff")
    out = run(cli_env, "search", "--image", str(broken))
    assert out.returncode == 1 and str(broken) in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_self_test(cli_env, onnx_models, backend):
    if backend == "onnx":  # the settings keep the model names; the exports in the model dir are used for them
        cli_env = {**cli_env, "IMGSEARCH_MODEL_DIR": str(onnx_models["fp32"]["image"].parent)}
    out = run(cli_env, "self-test")
    assert out.returncode == 0, out.stderr
    steps = out.stdout.splitlines()
    assert [s.split(":")[0] for s in steps[:-1]] == ["models", "elasticsearch", "index", "image search",
                                                      "text search", "cleanup", "formats", "analyses"]
    assert f"{backend} on cpu" in steps[0]
    assert re.search(r"HEIC \(round trip \d+×\d+ ok\)", steps[-3])
    assert re.search(r"camera RAW previews \(LibRaw [\d.]+: camera-raw.dng 640×427 ok\)", steps[-3])
    assert "faces (astronaut.png: 1 face, 128-d descriptor, eyes open)" in steps[-2]
    assert "text in photos (read 'PHOTO 2026')" in steps[-2]
    assert steps[-1] == "self-test passed"


def test_es_start_prints_a_usable_url_and_status(cli_env, tmp_path, es_archive):
    env = {**cli_env, "IMGSEARCH_HOME": str(tmp_path / "own-home")}
    env.pop("IMGSEARCH_ES_URL")
    try:
        out = run(env, "es", "install", "--from", str(es_archive))
        assert out.returncode == 0, out.stderr
        # Two starts at once (a user's `es start` and a search that auto-starts): one node, both get its URL.
        starts = [subprocess.Popen([sys.executable, "-m", "imgsearch_desktop", "es", "start"], env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in starts]
        assert [p.returncode for p in starts] == [0, 0], outs
        urls = {o[0].strip().splitlines()[-1] for o in outs}
        assert len(urls) == 1, urls
        url = urls.pop()
        # The URL names the user, never the password (a command line using it would show it in `ps`); stderr
        # says how a script reads it.
        user, host = url.removeprefix("http://").split("@")
        assert user == "elastic" and all("es password" in o[1] for o in outs)
        password = run(env, "es", "password").stdout.strip()
        assert password and all(password not in o[0] + o[1] for o in outs)
        req = urllib.request.Request(f"http://{host}/_cluster/health")
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
        assert json.loads(urllib.request.urlopen(req, timeout=10).read())["status"] in ("green", "yellow")
        status = run(env, "es", "status")
        assert status.returncode == 0 and "8.19" in status.stdout and password not in status.stdout
        again = run(env, "es", "start")
        assert again.stdout.strip().splitlines()[-1] == url  # idempotent
    finally:
        out = run(env, "es", "stop")
        node = LocalNode(AppDirs.resolve(env["IMGSEARCH_HOME"]))
        stopped_status = run(env, "es", "status").returncode
        node.uninstall()
    assert out.stdout.strip() == "stopped"
    assert stopped_status == 1


@pytest.mark.parametrize(("argv", "expected"), [
    ([], []),
    (["photo.jpg"], ["gui", "photo.jpg"]),
    (["--es-url", "http://x", "a.jpg", "b.jpg"], ["--es-url", "http://x", "gui", "a.jpg", "b.jpg"]),
    (["index", "/p"], ["index", "/p"]),
    (["--home", "/h", "search", "--text", "x"], ["--home", "/h", "search", "--text", "x"]),
])
def test_first_word_that_is_not_a_command_is_a_photo(argv, expected):
    assert normalise_argv(argv) == expected


def test_cli_index_waits_for_the_window_holding_the_index_lock(cli_env, tmp_path):
    from imgsearch_desktop.core.locks import index_lock

    pics = tmp_path / "p"
    write_photo(pics / "a.jpg", 1)
    data_dir = AppDirs.resolve(cli_env["IMGSEARCH_HOME"]).data
    with index_lock(data_dir, cli_env["IMGSEARCH_INDEX"]):  # what the window's indexer holds while it writes
        proc = subprocess.Popen([sys.executable, "-m", "imgsearch_desktop", "index", str(pics)], env=cli_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert "another imgsearch-desktop process is indexing" in err
    assert out.strip().splitlines()[-1].startswith("indexed 1,")


def test_dupes_json_lines(cli_env, tmp_path):
    pics = tmp_path / "dupes"
    write_photo(pics / "a.jpg", 5, size=(400, 300), quality=95)
    (pics / "copy").mkdir()
    (pics / "copy" / "a-copy.jpg").write_bytes((pics / "a.jpg").read_bytes())
    write_photo(pics / "other.jpg", 6)
    assert run(cli_env, "index", str(pics)).returncode == 0
    out = run(cli_env, "dupes", "--level", "exact", "--json")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    group = json.loads(line)
    assert group["level"] == "exact" and group["keep"] in {str(pics / "a.jpg"), str(pics / "copy" / "a-copy.jpg")}
    assert sorted(f["path"] for f in group["files"]) == [str(pics / "a.jpg"), str(pics / "copy" / "a-copy.jpg")]
    assert all(set(f) == {"path", "size", "width", "height", "score"} for f in group["files"])
    assert all(f["score"] > 0.999 and (f["width"], f["height"]) == (400, 300) for f in group["files"])
    human = run(cli_env, "dupes", "--folder", str(pics / "copy"))
    assert human.returncode == 0 and "0 groups" in human.stderr  # one copy alone under that folder: no group


def _ctrl_c_reaches_it() -> None:
    """A user's shell starts it with Ctrl+C live; the test process's own disposition (a library along the full
    suite left SIGINT ignored or blocked, inherited by children: the process never saw it) must not leak in."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def watching(env: dict[str, str], folder: Path):
    """`watch FOLDER` running; yields (its stdout lines as they come, its stderr so far). Ends it with Ctrl+C and
    checks it stopped as a user expects (exit 130, "interrupted", no traceback)."""
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "imgsearch_desktop", "watch", str(folder)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_reaches_it)
    lines: queue.Queue[str] = queue.Queue()
    errors: list[str] = []  # read as it comes: a full stderr pipe would block the process (it could never exit)
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in proc.stdout], daemon=True).start()
    reader = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        yield lines, errors
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            proc.wait(timeout=30)
            reader.join(timeout=10)
            raise AssertionError("watch did not stop on Ctrl+C:\n" + "".join(errors)[-8000:]) from None
    reader.join(timeout=10)
    err = "".join(errors)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err[-4000:]


def test_watch_indexes_then_follows_changes_until_ctrl_c(cli_env, tmp_path):
    pics = tmp_path / "watched"
    write_photo(pics / "first.jpg", 1)
    with watching(cli_env, pics) as (lines, _errors):
        assert lines.get(timeout=120).startswith("indexed 1, unchanged 0")
        write_photo(tmp_path / "staging.jpg", 2)
        (tmp_path / "staging.jpg").rename(pics / "second.jpg")
        assert lines.get(timeout=60).startswith("indexed 1, unchanged 0")
        (pics / "first.jpg").rename(pics / "renamed.jpg")
        assert ", moved 1," in lines.get(timeout=60)


def test_watch_restarts_its_own_node_after_es_stop(cli_env, tmp_path, es_archive):
    """[C3] watch on the managed node (no --es-url): `es stop` under it, a photo added; watch starts the node
    again, as the window does, and indexes the photo (it used to give up after 120 s)."""
    env = {k: v for k, v in cli_env.items() if k != "IMGSEARCH_ES_URL"}
    node = LocalNode(AppDirs.resolve(env["IMGSEARCH_HOME"]))  # this test's home: stopping it disturbs no other
    node.install(str(es_archive))
    pics = tmp_path / "watched"
    write_photo(pics / "first.jpg", 1)
    try:
        with watching(env, pics) as (lines, errors):
            assert lines.get(timeout=300).startswith("indexed 1, unchanged 0")  # it started the node itself
            assert run(env, "es", "stop").stdout.strip() == "stopped"
            write_photo(tmp_path / "staging.jpg", 2)
            (tmp_path / "staging.jpg").rename(pics / "second.jpg")
            assert lines.get(timeout=300).startswith("indexed 1, unchanged 0"), "".join(errors)[-4000:]
            assert "restarting it" in "".join(errors) and node.running_port() is not None
        search = run(env, "search", "--image", str(pics / "second.jpg"), "-k", "1", "--json")
        assert json.loads(search.stdout)["path"] == str(pics / "second.jpg"), search.stderr
    finally:
        node.uninstall()
