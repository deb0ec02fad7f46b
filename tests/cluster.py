"""A real Elasticsearch cluster on loopback for tests: three members from the same distribution, each its own data
dir and ports, joined by ``discovery.seed_hosts`` + ``cluster.initial_master_nodes``, security on with one bootstrap
password.

Each member is the app's own managed node (core/node's LocalNode) with a few elasticsearch.yml overrides, so it is
installed, run as the unprivileged ``imgsearch-es`` user when we are root, proven by the kernel before anything is
sent to it, and stopped exactly as the desktop node is — no second launcher.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from elasticsearch import Elasticsearch

from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.node import LocalNode
from imgsearch_desktop.core.store import Connection

CLUSTER_HEAP = "-Xms256m -Xmx512m"  # three JVMs on a small CI machine


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports free right now (held together while picked, so never the same one twice)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


class Cluster:
    """``size`` master-eligible data nodes on 127.0.0.1, started together; ``kill`` one as a power cut would."""

    def __init__(self, root: Path, size: int = 3, heap: str = CLUSTER_HEAP) -> None:
        ports = free_ports(2 * size)
        self.http_ports, transport = ports[:size], ports[size:]
        self.names = [f"node-{i}" for i in range(size)]
        common: dict[str, object] = {
            "cluster.name": f"imgsearch-test-{uuid.uuid4().hex[:8]}",
            "discovery.type": None,  # not single-node
            "discovery.seed_hosts": [f"127.0.0.1:{p}" for p in transport],
            "cluster.initial_master_nodes": self.names,
        }
        self.members = [LocalNode(AppDirs.resolve(root / name),
                                  {**common, "node.name": name, "http.port": http, "transport.port": tr}, heap)
                        for name, http, tr in zip(self.names, self.http_ports, transport, strict=True)]
        self.password = secrets.token_urlsafe(24)

    def start(self, archive: Path, timeout: float = 300.0) -> None:
        for member in self.members:  # one bootstrap password for the `elastic` user on every member
            member.dirs.data.mkdir(parents=True, exist_ok=True)
            fd = os.open(member.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(self.password)
        with ThreadPoolExecutor(len(self.members)) as pool:  # unpacking is mostly zlib: it overlaps
            list(pool.map(lambda m: m.install(str(archive)), self.members))
        for member in self.members:
            member.launch()  # together: no member is healthy before a master is elected
        for member in self.members:
            member.wait_healthy(timeout)
        health = self.client(0).cluster.health(wait_for_nodes=str(len(self.members)), wait_for_status="green",
                                               timeout="60s")
        if health["number_of_nodes"] != len(self.members):
            raise RuntimeError(f"the cluster formed with {health['number_of_nodes']} nodes: {health}")

    def url(self, i: int) -> str:
        return self.members[i].url(self.http_ports[i])

    def client(self, i: int, request_timeout: float = 30.0) -> Elasticsearch:
        return Connection(self.url(i)).client(request_timeout=request_timeout)

    def kill(self, i: int) -> list[int]:
        """SIGKILL member ``i`` (only processes proven to be it): no shutdown, no hand-over."""
        member = self.members[i]
        home = member.es_home()
        assert home is not None
        killed = member._signal_all(member.node_pids(thorough=True), signal.SIGKILL, home)
        deadline = time.monotonic() + 30
        while member.node_pids(thorough=True) and time.monotonic() < deadline:
            time.sleep(0.1)
        return killed

    def stop(self) -> None:
        for member in self.members:
            member.uninstall()
