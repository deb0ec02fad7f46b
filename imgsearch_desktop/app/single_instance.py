"""One window per user and app home: a second launch hands its photos to the running window and exits.

The socket lives in a directory only this user can enter (``$XDG_RUNTIME_DIR/imgsearch-desktop``, else ``run/``
in the app's data dir, 0700, checked by owner and mode, never a symlink), so another local user cannot squat its
name; and a second launch hands over only to a server whose peer credentials show it runs as this user.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket as pysocket
import stat
import struct
import sys
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from imgsearch_desktop import APP_NAME
from imgsearch_desktop.errors import UserError


class UnsafeSocketDir(UserError):
    pass


def private_dir(path: Path) -> Path:
    """Create ``path`` 0700 or check that it already is: ours, a real directory, no access for anyone else."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
        raise UnsafeSocketDir(f"{path} is not a private directory of this user (owner uid {st.st_uid}, mode "
                              f"{stat.S_IMODE(st.st_mode):o}): remove it, the app recreates it")
    return path


SUN_PATH_MAX = 100  # a Unix socket's path must fit sockaddr_un (108 bytes on Linux, 104 on macOS)


def socket_dir(data_dir: Path) -> Path:
    """``$XDG_RUNTIME_DIR/imgsearch-desktop``, else ``run/`` in the data dir, else (a data dir too deep for a socket
    path) ``/tmp/imgsearch-desktop-<uid>`` as tmux does — each created 0700 or refused unless ours and private."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and _fits(Path(runtime) / APP_NAME):
        try:
            return private_dir(Path(runtime) / APP_NAME)
        except (OSError, UnsafeSocketDir):
            pass  # a runtime dir we cannot use: the data dir is ours in any case
    run = data_dir / "run"
    if _fits(run):
        return private_dir(run)
    return private_dir(Path("/tmp") / f"{APP_NAME}-{os.getuid()}")


def _fits(folder: Path) -> bool:
    return len(os.fsencode(str(folder))) + len("/instance-0123456789abcdef.sock") <= SUN_PATH_MAX


def server_name(data_dir: str | os.PathLike[str]) -> str:
    """The instance socket for this app home. On Unix a full path (QLocalServer's default is the shared /tmp)."""
    tag = hashlib.sha256(os.fsencode(str(data_dir))).hexdigest()[:16]
    if sys.platform == "win32":  # named pipes; UserAccessOption restricts them to this user
        return f"{APP_NAME}-{tag}"
    return str(socket_dir(Path(data_dir)) / f"instance-{tag}.sock")


def peer_is_this_user(sock: QLocalSocket) -> bool:
    """The server at the other end runs as this user (Linux SO_PEERCRED; elsewhere the private dir must do)."""
    if not hasattr(pysocket, "SO_PEERCRED"):
        return True
    fd = int(sock.socketDescriptor())
    if fd < 0:
        return False
    wrapped = pysocket.socket(fileno=fd)
    try:
        creds = wrapped.getsockopt(pysocket.SOL_SOCKET, pysocket.SO_PEERCRED, struct.calcsize("3i"))
    finally:
        wrapped.detach()  # the descriptor stays Qt's
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def forward_to_running(name: str, photos: list[str], timeout_ms: int = 1500) -> bool:
    """True if a running window of ours took the photos (the caller then exits)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    if not peer_is_this_user(socket):
        socket.abort()
        return False
    socket.write(json.dumps({"photos": photos}).encode() + b"\n")
    socket.flush()
    socket.waitForBytesWritten(timeout_ms)
    acknowledged = socket.waitForReadyRead(timeout_ms) and bytes(socket.readAll().data()).startswith(b"ok")
    socket.disconnectFromServer()
    return acknowledged  # only a window that answered took them: otherwise this launch opens its own


class InstanceServer(QObject):
    photos_received = Signal(list)

    def __init__(self, name: str, parent=None) -> None:
        super().__init__(parent)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)  # only this user may talk to it
        QLocalServer.removeServer(name)  # a stale socket left by a crashed window (in our private dir)
        if not self.server.listen(name):
            raise RuntimeError(f"cannot listen on {name}: {self.server.errorString()}")
        self.server.newConnection.connect(self._on_connection)

    def _on_connection(self) -> None:
        socket = self.server.nextPendingConnection()
        buffer = bytearray()

        def read() -> None:
            buffer.extend(bytes(socket.readAll().data()))
            if buffer.endswith(b"\n"):
                try:
                    photos = json.loads(buffer.decode()).get("photos", [])
                except ValueError:
                    photos = []
                socket.write(b"ok\n")
                socket.flush()
                self.photos_received.emit([str(p) for p in photos])

        socket.readyRead.connect(read)
        socket.disconnected.connect(socket.deleteLater)
