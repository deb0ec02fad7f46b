"""One window per user: the hand-over socket is private to this user and only a server of ours takes photos."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from imgsearch_desktop.app.single_instance import InstanceServer, UnsafeSocketDir, forward_to_running, server_name

ROOT = os.geteuid() == 0
SYSTEM_PYTHON = "/usr/bin/python3"  # the venv's interpreter sits under root's home, which nobody cannot enter


def test_socket_lives_in_a_private_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    short = Path(tempfile.mkdtemp(prefix="isd-"))
    try:
        name = Path(server_name(short / "data"))
        assert name.parent == short / "data" / "run"
    finally:
        shutil.rmtree(short)
    deep = tmp_path / ("d" * 80) / "data"  # too deep for a socket path: a private dir under /tmp, like tmux's
    name = Path(server_name(deep))
    assert name.parent == Path(f"/tmp/imgsearch-desktop-{os.getuid()}") and len(str(name)) < 104
    st = os.lstat(name.parent)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()


@pytest.mark.parametrize("plant", ["open-mode", "symlink"])
def test_a_planted_socket_directory_is_refused(tmp_path, monkeypatch, plant):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    data = Path("data")  # relative: short enough for the socket to live in the data dir
    data.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o777)
    elsewhere.chmod(0o777)
    if plant == "open-mode":
        (data / "run").mkdir()
        (data / "run").chmod(0o777)
    else:
        (data / "run").symlink_to(elsewhere)
    with pytest.raises(UnsafeSocketDir, match="not a private directory"):
        server_name(data)
    assert list(elsewhere.iterdir()) == []


def _handover(name: str, photo: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QCoreApplication
        from imgsearch_desktop.app.single_instance import forward_to_running
        app = QCoreApplication([])
        sys.exit(0 if forward_to_running({name!r}, [{photo!r}], timeout_ms=5000) else 1)
    """)
    return subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2])


def test_second_launch_hands_its_photo_to_the_running_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    name = server_name(tmp_path / "data")
    server = InstanceServer(name)
    try:
        with qtbot.waitSignal(server.photos_received, timeout=15_000) as got:
            proc = _handover(name, "/photos/a.jpg")
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=15_000)
        assert got.args[0] == ["/photos/a.jpg"] and proc.returncode == 0
    finally:
        server.server.close()


@pytest.mark.skipif(not ROOT or not os.path.exists(SYSTEM_PYTHON), reason="needs root to play another local user")
def test_a_squatter_of_another_user_gets_nothing():
    """The old attack: another user listens where the window would; the second launch must not talk to it."""
    shared = Path(tempfile.mkdtemp(prefix="imgsearch-squat-"))  # pytest's tmp dirs are closed to other users
    shared.chmod(0o777)
    sock_path, ready, received = shared / "instance.sock", shared / "ready", shared / "received"
    squatter = textwrap.dedent(f"""
        import os, socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind({str(sock_path)!r}); os.chmod({str(sock_path)!r}, 0o777); s.listen(1)
        open({str(ready)!r}, "w").close()
        s.settimeout(20)
        try:
            c, _ = s.accept(); c.settimeout(3)
            open({str(received)!r}, "wb").write(c.recv(65536)); c.sendall(b"ok\\n")
        except OSError:
            pass
    """)
    proc = subprocess.Popen([SYSTEM_PYTHON, "-c", squatter], user="nobody", group="nogroup")
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists()
        assert forward_to_running(str(sock_path), ["/home/me/private.jpg"]) is False
    finally:
        proc.kill()
        proc.wait()
        got = received.read_bytes() if received.exists() else b""
        shutil.rmtree(shared)
    assert b"private.jpg" not in got
