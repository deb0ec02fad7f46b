"""Keeps the window's Elasticsearch alive: a probe every few seconds (on the thread pool), and what to do about it.

- The app's own node stopped (``es stop``, a crash, a reboot of the service): say so, start it again — a bounded
  number of tries, with the reason when it cannot — and hand the queries a store connected to it.
- A remote cluster does not answer: say which address, keep probing with growing pauses; Settings is one click.
- Connecting failed at start or after Settings changed: the same, by asking the worker to connect again.
The main thread only schedules and reports; every probe and start runs on the pool (workers.run_call).
The probe, the number of tries and the pauses are core's (core/node/health.py), which `watch` uses too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from imgsearch_desktop.app.pools import new_pool
from imgsearch_desktop.app.problems import Kind, Problem, explain
from imgsearch_desktop.app.workers import run_call
from imgsearch_desktop.core.node.health import PROBE_EVERY, RESTART_TRIES, probe, restart_pause

log = logging.getLogger(__name__)

INTERVAL_MS = int(PROBE_EVERY * 1000)
MAX_PAUSE_MS = 30_000


class EngineHealth(QObject):
    problem = Signal(object)  # Problem for the banner
    healed = Signal(str)  # the banner can go; a line for the status bar
    restored = Signal(object)  # a Store connected to the engine as it runs now: queries may go
    lost = Signal(str)  # queries must wait (why, in words)
    reconnect = Signal()  # ask the worker to connect again

    def __init__(self, connect: Callable[[], object], address: Callable[[], str], parent=None,
                 interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._connect = connect  # () -> Store, starting the managed node if it is not running
        self._address = address  # () -> the remote URL without credentials, "" for the managed node
        self.interval_ms = interval_ms
        self.state = "idle"  # idle | ok | unreachable | restarting | failed | connecting
        self.store = None
        self.embedder = None
        self._generation = 0  # answers of probes started before a stop() are ignored
        self._busy = False
        self._tries = 0
        self._pause_ms = interval_ms
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._tick)
        # Its own thread: the shared pool's few threads can all be waiting on the very node that went down (a
        # query, a count, a page of the library, each retrying), and the probe that would restart it must not queue
        # behind them.
        self.pool = new_pool(1, self)

    # ----- driven by the window -----
    def watch(self, store, embedder) -> None:
        """The worker connected: probe from now on."""
        was_down = self.state in ("unreachable", "restarting", "failed", "connecting")
        self._generation += 1
        self.store, self.embedder, self.state = store, embedder, "ok"
        self._busy, self._tries, self._pause_ms = False, 0, self.interval_ms
        if was_down:
            self.healed.emit("Connected to the search engine again.")
        self.timer.start(self.interval_ms)

    def stop(self) -> None:
        """Settings changed or the worker re-connects: stop probing the old store."""
        self._generation += 1
        self.state, self._busy = "idle", False
        self.timer.stop()

    def check_now(self) -> None:
        if self.state in ("ok", "unreachable") and not self._busy:
            self.timer.start(0)

    def retry(self) -> None:
        """The banner's "Try again"."""
        if self.state == "failed" and self.store is not None:
            self._tries = 0
            self._restart()
        else:
            self._tries = 0
            self.connect_again()

    def connect_failed(self, problem: Problem) -> None:
        """The worker could not connect (at start, after Settings, after a restart)."""
        self.stop()
        self.state = "connecting"
        self._tries += 1
        if problem.kind is Kind.UNREACHABLE:
            pause = min(5000 * 2 ** (self._tries - 1), MAX_PAUSE_MS)
            self.problem.emit(problem.with_sentence(f"{problem.sentence} Trying again every {pause // 1000} s…"))
            self._later(pause, self.connect_again)
        elif problem.kind is Kind.ENGINE and self._tries < RESTART_TRIES:
            self.problem.emit(problem.with_sentence(f"{problem.sentence} Trying again…", severity="warning"))
            self._later(5000, self.connect_again)
        else:
            self.state = "failed" if problem.kind is Kind.ENGINE else "idle"
            self.problem.emit(problem)

    def connect_again(self) -> None:
        self.state = "connecting"
        self.reconnect.emit()

    # ----- the probe -----
    def _later(self, ms: int, fn: Callable[[], None]) -> None:
        generation = self._generation
        QTimer.singleShot(ms, self, lambda: generation == self._generation and fn())

    def _tick(self) -> None:
        if self._busy or self.state not in ("ok", "unreachable") or self.store is None:
            return
        self._busy = True
        generation, store = self._generation, self.store
        run_call(lambda: probe(store), lambda result: self._probed(generation, result),
                 lambda exc: self._probe_failed(generation, exc), owner=self, pool=self.pool)

    def _probed(self, generation: int, result: str) -> None:
        if generation != self._generation:
            return
        self._busy = False
        if result == "ok":
            if self.state == "unreachable":
                self.state, self._pause_ms = "ok", self.interval_ms
                self.healed.emit(f"Elasticsearch at {self._address()} answers again.")
                self.restored.emit(self.store)
            self.timer.start(self.interval_ms)
        elif result == "moved":  # restarted by someone else on another port: follow it
            self._restart(announce=False)
        else:
            self._restart()

    def _probe_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._busy = False
        problem = explain(exc, self._address())
        if problem.kind is not Kind.UNREACHABLE:
            self.problem.emit(problem)  # e.g. the password was changed on the cluster: not healed by waiting
            self.timer.start(MAX_PAUSE_MS)
            return
        if self.state == "ok":
            log.warning("Elasticsearch unreachable: %s", exc)
            self.state = "unreachable"
            self.lost.emit(f"Will search as soon as Elasticsearch at {self._address()} answers…")
        self._pause_ms = min(self._pause_ms * 2, MAX_PAUSE_MS)
        self.problem.emit(problem.with_sentence(
            f"{problem.sentence} Trying again every {self._pause_ms // 1000} s…"))
        self.timer.start(self._pause_ms)

    # ----- restarting the managed node -----
    def _restart(self, announce: bool = True) -> None:
        self.state = "restarting"
        self._tries += 1
        self.lost.emit("Will search as soon as the search engine is back…")
        if announce:
            tries = f" (try {self._tries} of {RESTART_TRIES})" if self._tries > 1 else ""
            self.problem.emit(Problem(f"The search engine stopped — restarting…{tries}", severity="info",
                                      kind=Kind.ENGINE))
            log.warning("the managed Elasticsearch node stopped: restarting it (try %d)", self._tries)
        generation, connect, embedder = self._generation, self._connect, self.embedder

        def start_again():
            fresh = connect()  # starts the node (as at launch) and connects to it wherever it now listens
            fresh.use_index(embedder.model_id, embedder.dims, create=False)
            return fresh

        run_call(start_again, lambda fresh: self._restarted(generation, fresh),
                 lambda exc: self._restart_failed(generation, exc), owner=self, pool=self.pool)

    def _restarted(self, generation: int, fresh) -> None:
        if generation != self._generation:
            return
        log.info("the managed Elasticsearch node is back: %s", fresh.connection.redacted())
        self.store, self.state, self._tries = fresh, "ok", 0
        self.healed.emit("The search engine is running again.")
        # The indexer takes this store too (the window hands it on): a store, not a new start-up — the models stay
        # loaded, and no "Loading the models…" and full re-scan follow each restart.
        self.restored.emit(fresh)
        self.timer.start(self.interval_ms)

    def _restart_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        problem = explain(exc, "")
        log.warning("restarting the search engine failed (try %d): %s", self._tries, problem.details)
        if self._tries < RESTART_TRIES:
            self._later(int(restart_pause(self._tries) * 1000), self._restart)
            return
        self.state = "failed"
        self.problem.emit(Problem("The search engine stopped and could not be started again. "
                                  "Try again, or restart the app.", problem.details, Kind.ENGINE, action="retry"))
