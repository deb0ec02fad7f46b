"""Every bad input gets one plain line on stderr and the documented exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from imgsearch_desktop.config import AppDirs, Settings


def run(env, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "imgsearch_desktop", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def assert_one_line(out, code):
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr and len(lines) == 1, out.stderr
    return lines[0]


@pytest.mark.parametrize("args", [
    ["search", "--text", "x", "-k", "0"],
    ["search", "--text", "x", "-k", "-1"],
    ["search", "--text", "x", "-k", "100000"],
    ["search", "--text", "x", "-k", "ten"],
    ["search", "--text", "x", "--from", "2023-13-45"],
    ["search", "--text", "x", "--to", "yesterday"],
    ["search", "--text", "x", "--min-score", "nan"],
    ["search", "--text", "x", "--min-score", "2"],
    ["dupes", "--threshold", "nan"],
    ["dupes", "--threshold", "inf"],
    *[["search", "--text", "x", "--index", name]
      for name in ["Upper", "with space", "a*", "..", "_all", "a/b", "a#b", "x" * 300, ""]],
    ["search", "--text", "x", "--es-url", "garbage"],
    ["search", "--text", "x", "--es-url", "http://127.0.0.1:70000"],
    ["search", "--text", "x", "--es-url", "ftp://127.0.0.1:9200"],
    ["search", "--text", "x", "--es-url", "http://%zz:9200"],
    ["index", "/no/such/folder/anywhere"],
    ["search"],
    ["search", "--not-text", "a cat"],
    ["search", "--unlike", "/photos/a.jpg", "--not-image", "/photos/b.jpg"],
    ["search", "--batch-size", "0", "--text", "x"],
    ["search", "--device", "tpu", "--text", "x"],
])
def test_bad_options_are_usage_errors(isolated_home, args):
    import os

    line = assert_one_line(run(dict(os.environ), *args), 2)
    assert line.startswith("error: ")


@pytest.mark.parametrize(("var", "value"), [
    ("IMGSEARCH_BATCH_SIZE", "abc"),
    ("IMGSEARCH_INDEX", "Not Valid"),
    ("IMGSEARCH_ES_URL", "http://host:99999"),
    ("IMGSEARCH_ES_URL", "http://%zz:9200"),
    ("IMGSEARCH_DEVICE", "tpu"),
])
def test_bad_environment_values_are_usage_errors(isolated_home, var, value):
    import os

    line = assert_one_line(run({**os.environ, var: value}, "search", "--text", "x"), 2)
    assert var in line


@pytest.mark.parametrize("content", [b"folders = [\n", b"\xff\xfe not utf-8 = 1", b'batch_size = "many"\n'])
def test_a_corrupt_settings_file_is_set_aside_and_defaults_apply(tmp_path, capsys, content):
    dirs = AppDirs.resolve(tmp_path)
    dirs.config.mkdir(parents=True)
    dirs.settings_file.write_bytes(content)
    settings = Settings.load(dirs, env={})
    assert settings == Settings()
    kept = list(dirs.config.glob("settings.toml.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content and not dirs.settings_file.exists()
    assert "could not be read" in capsys.readouterr().err


def test_a_web_server_that_is_not_elasticsearch_is_named_not_a_traceback(cli_env, tmp_path):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        line = assert_one_line(run({**cli_env, "IMGSEARCH_ES_URL": url}, "search", "--text", "x"), 3)
    finally:
        server.shutdown()
    assert f"the server at {url} does not answer like Elasticsearch" in line


@pytest.mark.parametrize("state", [b"{corrupt", b""])
def test_a_corrupt_or_empty_node_state_file_is_not_a_traceback(isolated_home, state):
    import os

    data = isolated_home / "data"
    data.mkdir(parents=True)
    (data / "elasticsearch-state.json").write_bytes(state)
    out = run(dict(os.environ), "es", "stop")
    assert out.returncode == 0 and out.stdout.strip() == "not running" and "Traceback" not in out.stderr
    out = run(dict(os.environ), "es", "status")
    assert out.returncode == 1 and out.stdout.startswith("not running") and "Traceback" not in out.stderr


def test_an_empty_date_range_or_a_blank_sentence_is_a_usage_error_not_an_answer(cli_env, tmp_path):
    """Against a real index with photos: these used to answer "no matching photos" or arbitrary photos, exit 0."""
    from tests.photos import write_photo

    for i in range(3):
        write_photo(tmp_path / "pics" / f"p{i}.jpg", seed=900 + i)
    assert run(cli_env, "index", str(tmp_path / "pics")).returncode == 0
    assert run(cli_env, "search", "--text", "a dog", "--json").stdout.count("\n") == 3  # the index answers

    line = assert_one_line(run(cli_env, "search", "--text", "a dog", "--from", "2024-05-01", "--to", "2023-01-01"), 2)
    assert "--from 2024-05-01 is after --to 2023-01-01" in line
    for args in (["--text", ""], ["--text", "   "], ["--text", "a dog", "--not-text", "\t"]):
        out = run(cli_env, "search", *args, "--json")
        line = assert_one_line(out, 2)
        assert "the sentence is empty" in line and out.stdout == ""


def test_a_folder_given_as_a_query_photo_is_a_usage_error_naming_it_a_folder(isolated_home, tmp_path):
    import os

    folder = tmp_path / "holiday"
    folder.mkdir()
    line = assert_one_line(run(dict(os.environ), "search", "--image", str(folder)), 2)
    assert line == f"error: Cannot search with {folder}: it is a folder, not a photo"


@pytest.mark.parametrize(("make", "kind"), [(lambda p: os.mkfifo(p) or p, "a FIFO"),
                                            (lambda p: "/dev/null", "a device")])
def test_indexing_a_fifo_or_a_device_says_what_it_is(isolated_home, tmp_path, make, kind):
    path = make(tmp_path / "fifo.jpg")
    line = assert_one_line(run(dict(os.environ), "index", str(path)), 2)
    assert line == f"error: cannot index {path}: it is {kind}, not a photo or a folder"


def test_cuda_asked_for_without_a_gpu_is_a_usage_error(isolated_home, tiny_models):
    env = {**os.environ, "IMGSEARCH_IMAGE_MODEL": str(tiny_models["clip"]), "CUDA_VISIBLE_DEVICES": "",
           "IMGSEARCH_TEXT_MODEL": str(tiny_models["text"])}  # no GPU visible, on any machine
    for how in (["--device", "cuda"], []):
        line = assert_one_line(run({**env, "IMGSEARCH_DEVICE": "cuda"} if not how else env, *how, "search",
                                   "--text", "x"), 2)
        assert line == "error: device 'cuda' is not available here: torch finds no CUDA GPU; use auto or cpu"


@pytest.mark.parametrize(("home", "why"), [
    ("/dev/null", "it is a device, not a folder"),
    ("a-file", "it is a file, not a folder"),
    ("/proc/self", "cannot make the app's folders there (No such file or directory: /proc/self/config)"),
])
@pytest.mark.parametrize("given", ["--home", "IMGSEARCH_HOME"])
def test_a_home_that_cannot_hold_the_apps_folders_is_a_usage_error(isolated_home, tmp_path, tiny_models, home, why,
                                                                    given):
    if home == "a-file":
        home = str(tmp_path / "a-file")
        (tmp_path / "a-file").write_text("not a folder")
    env = {**os.environ, "IMGSEARCH_IMAGE_MODEL": str(tiny_models["clip"]),
           "IMGSEARCH_TEXT_MODEL": str(tiny_models["text"])}  # the models load: the home is what fails
    if given == "IMGSEARCH_HOME":
        env["IMGSEARCH_HOME"] = home
    line = assert_one_line(run(env, *(["--home", home] if given == "--home" else []), "search", "--text", "x"), 2)
    assert line == f"error: {given} {home}: {why}"


def test_es_install_from_an_archive_without_the_keystore_tool_is_refused_naming_it(isolated_home, tmp_path):
    import io
    import tarfile

    bare = tmp_path / "bare.tar.gz"
    with tarfile.open(bare, "w:gz") as tf:  # only bin/elasticsearch: `es start` then wanted elasticsearch-keystore
        info = tarfile.TarInfo("elasticsearch-8.19.7/bin/elasticsearch")
        info.size, info.mode = 10, 0o755
        tf.addfile(info, io.BytesIO(b"#!/bin/sh\n"))
    env = {**os.environ, "IMGSEARCH_ES_ROOT_BASE": str(tmp_path / "es-root")}  # as root: not /var/lib
    line = assert_one_line(run(env, "es", "install", "--from", str(bare)), 1)
    assert line == ("error: refusing bare.tar.gz: it has no bin/elasticsearch-keystore, config/, lib/, which "
                    "Elasticsearch needs to run; use Elastic's full distribution")


def test_a_disk_too_full_for_a_new_index_is_said_with_the_free_space_and_the_watermark(cli_env, es_client, tmp_path):
    """The node will not place a new index on a disk past its high watermark (the managed node's: 1 GB free): the
    index stayed red, then `resource_already_exists` and 503s. Here the watermark is raised past any disk's size."""
    import re

    from tests.photos import write_photo

    write_photo(tmp_path / "photos" / "a.jpg", seed=5, size=(64, 48))
    watermark = "cluster.routing.allocation.disk.watermark."
    huge = "100000gb"  # free space asked for: more than this disk has, so it reads as full
    es_client.cluster.put_settings(persistent={watermark + "low": huge, watermark + "high": huge,
                                               watermark + "flood_stage": "1mb"})  # never reached: nothing read-only
    try:
        out = run(cli_env, "index", str(tmp_path / "photos"))
    finally:
        es_client.cluster.put_settings(persistent={watermark + level: None for level in ("low", "high", "flood_stage")})
        for name in es_client.indices.get(index=f"{cli_env['IMGSEARCH_INDEX']}-*"):
            es_client.indices.delete(index=name)
    line = assert_one_line(out, 1)
    assert re.fullmatch(r"error: the disk holding Elasticsearch's data is too full for a new index: \d+\.\d GB free, "
                        r"below the node's high disk watermark \(100000gb\); free some disk space and run again", line)
