"""Secrets stay out of `ps` and the logs: a password given in --es-url leaves the command line, and nothing the app
writes (errors.log, app.log, stderr) holds it."""

from __future__ import annotations

import logging
import os
import queue
import stat
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from imgsearch_desktop import cli
from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.context import Context
from tests.photos import write_photo


def _password(url: str) -> str:
    password = urlsplit(url).password
    assert password and len(password) >= 8  # the session node's generated password: a string no log holds by chance
    return password


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the re-exec is Linux only")
def test_a_password_in_es_url_leaves_the_command_line_of_the_running_process(cli_env, es_url, tmp_path):
    password = _password(es_url)
    env = {k: v for k, v in cli_env.items() if k != "IMGSEARCH_ES_URL"}
    pics = tmp_path / "watched"
    write_photo(pics / "a.jpg", 1)
    proc = subprocess.Popen([sys.executable, "-m", "imgsearch_desktop", "--es-url", es_url, "watch", str(pics)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    errors: list[str] = []
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in proc.stdout], daemon=True).start()
    reader = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        # Connected and indexed with the password the re-exec put in its environment: the same process (pid).
        assert lines.get(timeout=120).startswith("indexed 1, unchanged 0")
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode().split("\0")
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().decode().split("\0")
    finally:
        proc.kill()
        proc.wait(timeout=30)
        reader.join(timeout=10)
    assert not any(password in arg for arg in cmdline), cmdline
    assert cmdline[cmdline.index("--es-url") + 1] == es_url.replace(f":{password}@", "@")  # the user stays
    assert f"IMGSEARCH_ES_PASSWORD={password}" in environ  # readable by this user only (/proc/PID/environ: 0400)
    err = "".join(errors)
    assert err.count("note: a password in --es-url") == 1 and "IMGSEARCH_ES_PASSWORD" in err and password not in err


def test_a_crash_logs_the_command_line_and_traceback_without_the_password(es_url, isolated_home, monkeypatch,
                                                                           capsys):
    password = _password(es_url)

    def fault(self, on_wait=None):  # an unexpected error whose message and locals carry the URL
        raise RuntimeError(f"injected fault talking to {self.settings.es_url}")

    monkeypatch.setattr(Context, "store", fault)
    argv = ["--es-url", es_url, "dupes"]
    monkeypatch.setattr(sys, "argv", ["imgsearch-desktop", *argv])
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "unexpected RuntimeError" in err and password not in err
    log = AppDirs.resolve(isolated_home).data / "logs" / "errors.log"
    text = log.read_text()
    assert "--es-url" in text and "injected fault" in text and "http://***@127.0.0.1" in text
    assert password not in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_the_windows_log_holds_no_password(es_url, isolated_home):
    from imgsearch_desktop.app.main import log_to_file

    password = _password(es_url)
    data = AppDirs.resolve(isolated_home).data
    root = logging.getLogger()
    before = list(root.handlers)
    log_to_file(data)
    try:
        try:
            raise ConnectionError(f"could not reach {es_url}")
        except ConnectionError:
            logging.getLogger("imgsearch_desktop.test").exception("connecting to %s failed", es_url)
    finally:
        for handler in set(root.handlers) - set(before):
            handler.close()
            root.removeHandler(handler)
    text = (data / "logs" / "app.log").read_text()
    assert "connecting to http://***@127.0.0.1" in text and "ConnectionError" in text and password not in text


def test_es_password_without_a_node_says_what_to_do(isolated_home):
    out = subprocess.run([sys.executable, "-m", "imgsearch_desktop", "es", "password"], capture_output=True,
                         text=True, env={**os.environ, "IMGSEARCH_HOME": str(isolated_home)}, timeout=60)
    assert out.returncode == 1 and "start it first" in out.stderr and "Traceback" not in out.stderr
