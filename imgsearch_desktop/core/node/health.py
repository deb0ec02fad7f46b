"""Keeping the managed node up: one probe and one restart policy, for the window (app/health.py) and `watch`.

The window runs the policy on its timer and thread pool (one try per pool call, the banner between tries); `watch`
runs it in its own loop through ``NodeKeeper``. Both: probe every few seconds, restart a stopped node at most
``RESTART_TRIES`` times with growing pauses, then say so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from imgsearch_desktop.errors import ElasticsearchUnavailable, UserError

if TYPE_CHECKING:
    from imgsearch_desktop.core.store import Store

log = logging.getLogger(__name__)

PROBE_EVERY = 4.0  # seconds between two probes
RESTART_TRIES = 3


def probe(store: Store) -> str:
    """"ok", "down" (the managed node is not running) or "moved" (it runs on another port now).
    A remote cluster that does not answer raises."""
    node = getattr(store.connection, "node", None)
    if node is None:
        store.check_server()
        return "ok"
    port = node.running_port()
    if port is None:
        return "down"
    return "ok" if node.url(port) == store.connection.url else "moved"


def restart_pause(tries: int) -> float:
    """Seconds to wait after failed try number ``tries`` before the next one."""
    return 3.0 * tries


class NodeKeeper:
    """A synchronous keeper for one store on the managed node (`watch`): ``check()`` between jobs restarts the node
    when it stopped and returns a store connected to it (the same one while all is well)."""

    def __init__(self, store: Store, connect: Callable[[], Store], on_note: Callable[[str], None] = lambda _m: None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self._connect = connect  # () -> a fresh Store, starting the node if it is not running
        self._note = on_note
        self._sleep = sleep

    def check(self) -> Store:
        """The store to write with: this one, or a fresh one after restarting (or following) the node."""
        state = probe(self.store)
        if state == "ok":
            return self.store
        if state == "down":
            self._note("the local Elasticsearch node stopped: restarting it…")
        self.store = self._restart()
        return self.store

    def _restart(self) -> Store:
        for tries in range(1, RESTART_TRIES + 1):
            try:
                fresh = self._connect()
            except UserError as exc:
                log.warning("restarting the search engine failed (try %d): %s", tries, exc)
                if tries == RESTART_TRIES:
                    raise ElasticsearchUnavailable(
                        f"the local Elasticsearch node stopped and could not be started again ({RESTART_TRIES} "
                        f"tries): {str(exc).splitlines()[0]}") from exc
                self._note(f"restarting the local Elasticsearch node failed (try {tries} of {RESTART_TRIES}); "
                           f"trying again in {restart_pause(tries):.0f} s")
                self._sleep(restart_pause(tries))
                continue
            self._note("the local Elasticsearch node is running again")
            return fresh
        raise AssertionError("unreachable")
