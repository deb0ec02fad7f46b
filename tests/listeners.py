"""A foreign listener on 127.0.0.1: accepts connections and records every byte sent to it (what an eavesdropper on
a port the node left behind would get)."""

from __future__ import annotations

import socket
import threading


class ForeignListener:
    def __init__(self, port: int = 0, reply: bytes = b"") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.reply = reply  # sent back after the first bytes arrive (e.g. an HTTP 401)
        self.connections = 0
        self.received = b""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ForeignListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (a bare close() would not)
        self.sock.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        conn.settimeout(2)
        with conn:
            try:
                while data := conn.recv(65536):
                    with self._lock:
                        self.received += data
                    if self.reply:
                        conn.sendall(self.reply)
                        return
            except OSError:
                return
