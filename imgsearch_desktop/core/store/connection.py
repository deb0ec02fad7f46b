"""Reaching the cluster: ``Connection`` (where it is and how to log in; the client is built from it) and
``StoreBase``, what every part of ``Store`` stands on: the client, the server check, and ``_retrying``, through which
every request waits out an unreachable or restarting node (and follows the managed node to a new port).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from elasticsearch import (
    ApiError,
    AuthenticationException,
    Elasticsearch,
    TransportError,
    UnsupportedProductError,
)
from elasticsearch import ConnectionError as EsConnectionError

from imgsearch_desktop.core.store.schema import DEFAULT_LIBRARY
from imgsearch_desktop.errors import AuthRefused, ElasticsearchUnavailable, UserError

MIN_SERVER = (8, 12)


@dataclass
class Connection:
    url: str
    user: str = ""
    password: str = ""
    api_key: str = ""
    ca_cert: str = ""

    def redacted(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def client(self, request_timeout: float = 30.0) -> Elasticsearch:
        parts = urlsplit(self.url)
        user = self.user or (parts.username or "")
        password = self.password or (parts.password or "")
        kwargs: dict = {"request_timeout": request_timeout, "max_retries": 2, "retry_on_timeout": True}
        if self.api_key:
            kwargs["api_key"] = self.api_key
        elif user:
            kwargs["basic_auth"] = (user, password)
        if self.ca_cert:
            kwargs["ca_certs"] = self.ca_cert
        kwargs.update(self.transport_options())
        return Elasticsearch(self.redacted(), **kwargs)

    def transport_options(self) -> dict:
        """Extra client options (the managed node's connection guards every new socket)."""
        return {}

    def server_version(self, timeout: float = 5.0) -> str:
        """Ask the cluster once who it is (a connection test): its version, or the store's plain errors."""
        client = self.client(request_timeout=timeout)
        try:
            return StoreBase(client, "connection-test").check_server()
        finally:
            client.close()

    def current(self) -> Connection:
        """Where this cluster is now: itself; the managed node's connection follows the node to a new port."""
        return self


def _version_tuple(text: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


class StoreBase:
    """One index's client and alias, the server check, and the retry every request goes through."""

    def __init__(self, client: Elasticsearch, alias: str, retry_for: float = 120.0,
                 on_wait: Callable[[str], None] | None = None, bulk_retries: int = 5,
                 bulk_backoff: float = 1.0, connection: Connection | None = None,
                 library: str = DEFAULT_LIBRARY) -> None:
        self.client = client
        self.library = library  # this installation's id: what it writes is labelled with it, what it reads scoped
        self.connection = connection  # where ``client`` came from: rebuilt from it when the node moved
        self.bulk_retries = bulk_retries  # item-level 429s (busy node, flood-stage block) retried with backoff
        self.bulk_backoff = bulk_backoff
        self.alias = alias
        self.index = alias  # the concrete index; set by open()
        self.migrate_from: str | None = None  # an older index of ours (other model/schema) still behind the alias
        self.migrate_same_model = False  # migrate_from holds this model's vectors: copy them, do not re-embed
        self.retry_for = retry_for
        self.on_wait = on_wait
        self.server_version = (0, 0)

    def _address(self) -> str:
        node = next(iter(self.client.transport.node_pool.all()), None)
        return f"{node.config.scheme}://{node.config.host}:{node.config.port}" if node else "the given address"

    def check_server(self) -> str:
        """Refuse a server we cannot use. Returns its version string."""
        try:
            info = self.client.nodes.info(filter_path="nodes.*.version")
        except EsConnectionError as exc:
            raise ElasticsearchUnavailable(f"Elasticsearch unreachable: {exc.message}") from exc
        except AuthenticationException as exc:
            raise AuthRefused("Elasticsearch refused our credentials (401): check the user and "
                            "IMGSEARCH_ES_PASSWORD / IMGSEARCH_ES_API_KEY") from exc
        except (ApiError, TransportError, UnsupportedProductError) as exc:  # a web server, a proxy page, …
            status = getattr(getattr(exc, "meta", None), "status", None) or type(exc).__name__
            raise ElasticsearchUnavailable(f"the server at {self._address()} does not answer like Elasticsearch "
                                           f"({status}): check the address") from exc
        try:
            versions = sorted({n["version"] for n in info.get("nodes", {}).values()})
        except (AttributeError, KeyError, TypeError):
            raise ElasticsearchUnavailable(f"the server at {self._address()} does not answer like Elasticsearch: "
                                           "check the address") from None
        if not versions:
            raise ElasticsearchUnavailable("Elasticsearch answered without any node")
        self.server_version = min(_version_tuple(v) for v in versions)
        if self.server_version < MIN_SERVER:
            raise UserError(f"Elasticsearch {versions[0]} is too old: 8.12 or newer is needed (kNN options we use)")
        if self.server_version[0] >= 9:
            raise UserError(f"Elasticsearch {versions[0]} needs the 9.x Python client; this app uses 8.x")
        return versions[0]

    def _retrying(self, action: Callable[[], object], what: str):
        """Run ``action``; while ES is unreachable or answers 503 (a node restarting: its cluster state or a shard
        not recovered yet), wait with exponential backoff (up to ``retry_for`` s)."""
        delay, waited = 1.0, 0.0
        while True:
            try:
                return action()
            except AuthenticationException as exc:  # a 401 is the user's to fix, not a traceback
                raise AuthRefused(f"Elasticsearch refused our credentials (401) during {what}: check the user and "
                                "IMGSEARCH_ES_PASSWORD / IMGSEARCH_ES_API_KEY") from exc
            except (ApiError, TransportError) as exc:
                answered = isinstance(exc, ApiError)
                if answered and exc.status_code != 503:
                    raise
                if not answered and self._reconnect():
                    continue  # the managed node restarted on another port: retry there at once
                if waited >= self.retry_for:
                    raise ElasticsearchUnavailable(f"Elasticsearch unavailable during {what}: {exc}") from exc
                if self.on_wait:
                    self.on_wait(f"Elasticsearch unavailable, retrying {what} in {delay:.0f}s")
                time.sleep(delay)
                waited += delay
                delay = min(delay * 2, 30.0)

    def _reconnect(self) -> bool:
        """Rebuild the client when our connection now resolves elsewhere (the old port may be anyone's)."""
        if self.connection is None:
            return False
        try:
            fresh = self.connection.current()
        except UserError:
            return False  # not running (yet): keep waiting
        if fresh.url == self.connection.url:
            return False
        timeout = next(iter(self.client.transport.node_pool.all())).config.request_timeout
        old, self.connection, self.client = self.client, fresh, fresh.client(request_timeout=timeout or 30.0)
        old.close()
        return True
