"""An Elasticsearch client for the managed node that sends nothing until the peer is proven to be that node.

Every new TCP connection the client opens is checked right after connect, before a byte goes out: the port must
be the one the state file names and the kernel must show our node's process holding its listening socket
(LocalNode.check_port). A port the node left behind may by now belong to anyone; the client then fails with a
connection error and ``ManagedConnection.current()`` gives the node's new URL (Store rebuilds its client with it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from elastic_transport import NodeConfig, Urllib3HttpNode
from urllib3.connection import HTTPConnection
from urllib3.exceptions import NewConnectionError

from imgsearch_desktop.core.node.node import LocalNode
from imgsearch_desktop.core.store import Connection
from imgsearch_desktop.errors import ElasticsearchUnavailable, LocalEsError

Guard = Callable[[int], None]  # raises LocalEsError unless 127.0.0.1:port is our node


class GuardedHTTPConnection(HTTPConnection):
    """urllib3's connection, with the peer checked between connect() and the first byte sent."""

    guard: Guard

    def connect(self) -> None:
        super().connect()
        host, port = self.sock.getpeername()[:2]
        try:
            if host != "127.0.0.1":
                raise LocalEsError(f"{host} is not loopback")
            type(self).guard(port)
        except LocalEsError as exc:
            self.close()  # nothing was sent on this socket: the password stays here
            raise NewConnectionError(self, f"not talking to 127.0.0.1:{port}: {exc}") from exc


def guarded_node_class(guard: Guard) -> type[Urllib3HttpNode]:
    """An elastic_transport node class whose urllib3 pool opens only guarded connections."""
    connection_cls = type("NodeGuardedHTTPConnection", (GuardedHTTPConnection,), {"guard": staticmethod(guard)})

    class GuardedNode(Urllib3HttpNode):
        def __init__(self, config: NodeConfig) -> None:
            if config.scheme != "http":
                raise ValueError("the managed node speaks plain http on loopback")
            super().__init__(config)
            self.pool.ConnectionCls = connection_cls

    return GuardedNode


@dataclass
class ManagedConnection(Connection):
    """The connection to the app's own node: guarded client, and a URL that follows the node across restarts."""

    node: LocalNode | None = field(default=None, repr=False, compare=False)

    @classmethod
    def start(cls, node: LocalNode) -> ManagedConnection:
        """Start the node if needed (as ``es start`` does) and connect to it."""
        return cls(node.start(), node=node)

    def transport_options(self) -> dict:
        assert self.node is not None
        return {"node_class": guarded_node_class(self.node.check_port)}

    def current(self) -> ManagedConnection:
        """This connection, or one to the port the node is proven to run on now."""
        assert self.node is not None
        port = self.node.running_port()
        if port is None:
            raise ElasticsearchUnavailable("the local Elasticsearch node is not running: imgsearch-desktop es start")
        url = self.node.url(port)
        return self if url == self.url else replace(self, url=url)
