"""One window per user and app home: a second launch hands its photos to the running window and exits."""

from __future__ import annotations

import hashlib
import json

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket


def server_name(home: str) -> str:
    return "imgsearch-desktop-" + hashlib.sha256(home.encode()).hexdigest()[:16]


def forward_to_running(name: str, photos: list[str], timeout_ms: int = 1500) -> bool:
    """True if a running window took the photos (the caller then exits)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(json.dumps({"photos": photos}).encode() + b"\n")
    socket.flush()
    socket.waitForBytesWritten(timeout_ms)
    socket.waitForReadyRead(timeout_ms)  # the window acknowledges, so nothing is lost on a fast exit
    socket.disconnectFromServer()
    return True


class InstanceServer(QObject):
    photos_received = Signal(list)

    def __init__(self, name: str, parent=None) -> None:
        super().__init__(parent)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)  # only this user may talk to it
        QLocalServer.removeServer(name)  # a stale socket left by a crashed window
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
