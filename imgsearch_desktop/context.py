"""The wired objects a command or the window needs: settings (file + env + options), app dirs, the library id,
the Elasticsearch connection and store, the thumbnail cache and the models — resolved once per command."""

from __future__ import annotations

import argparse
import os
import sys

from imgsearch_desktop.config import AppDirs, Settings
from imgsearch_desktop.core.filekind import special_kind
from imgsearch_desktop.errors import UsageError, UserError


def usable_dirs(home: str | None) -> AppDirs:
    """The app's folders, made where missing. A --home or IMGSEARCH_HOME they cannot be made in (a file, a device,
    /proc/self) is a usage error in one sentence, before anything is written or started."""
    dirs = AppDirs.resolve(home)
    try:
        dirs.make()
    except OSError as exc:
        given = ("--home", home) if home else ("IMGSEARCH_HOME", os.environ.get("IMGSEARCH_HOME"))
        if not given[1]:
            raise UserError(f"cannot make the app's folder {exc.filename}: {exc.strerror}") from None
        kind = "a file" if os.path.isfile(given[1]) else special_kind(given[1])
        why = f"it is {kind}, not a folder" if kind else f"cannot make the app's folders there ({exc.strerror}: " \
              f"{exc.filename})"
        raise UsageError(f"{given[0]} {given[1]}: {why}") from None
    return dirs


class Context:
    """Settings, the Elasticsearch connection and the models, resolved once per command from args + env."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dirs = usable_dirs(args.home)
        self.settings = Settings.load(self.dirs)
        for name in ("es_url", "es_user", "es_ca_cert", "index", "image_model", "text_model", "device", "batch_size",
                     "backend"):
            value = getattr(args, name, None)
            if value is not None:
                self.settings.override(name, value)  # this run's option, never written to settings.toml
        if getattr(args, "no_faces", None):
            self.settings.override("faces", False)
        if getattr(args, "no_text", None):
            self.settings.override("text", False)
        self._embedder = None
        self._library: str | None = None

    @property
    def library(self) -> str:
        """This installation's library id (made once, kept in the data dir): what it indexes is labelled with it,
        and what it reads is scoped to it, so computers sharing one index keep their photos apart."""
        if self._library is None:
            from imgsearch_desktop.config import library_id

            self._library = library_id(self.dirs, self.settings)
        return self._library

    def connection(self):
        s = self.settings
        if s.es_url:
            from imgsearch_desktop.core.secrets import credentials

            return credentials(self.dirs.data, s.es_url, s.es_user).connection(s.es_ca_cert)
        from imgsearch_desktop.core.node import LocalNode
        from imgsearch_desktop.core.node.client import ManagedConnection

        node = LocalNode(self.dirs)
        if node.running_port() is None:
            print("starting the local Elasticsearch node…", file=sys.stderr)
        return ManagedConnection.start(node)

    def thumbnails(self):
        from imgsearch_desktop.core.thumbs import ThumbCache

        return ThumbCache(self.dirs.cache / "thumbnails")

    def store(self, on_wait=None):
        from imgsearch_desktop.core.store import Store

        conn = self.connection()
        return Store(conn.client(), self.settings.index, on_wait=on_wait, connection=conn, library=self.library)

    def analyses(self) -> list:
        """The per-photo analyses after CLIP that the settings switch on (core/analyses)."""
        from imgsearch_desktop.core.analyses import switched_on

        return switched_on(self.settings)

    def people(self):
        from imgsearch_desktop.core.people import People, people_path

        return People(people_path(self.dirs.data, self.settings.index))

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = make_embedder(self.settings, self.dirs, progress=_print_notes())
        return self._embedder


def make_embedder(settings: Settings, dirs: AppDirs, progress=None):
    """The embedder the settings describe; this computer's int8 exports are kept in the data dir's ``models``."""
    from imgsearch_desktop.core.embedder import Embedder
    from imgsearch_desktop.core.progress import no_progress

    s = settings
    return Embedder(s.image_model, s.text_model, s.device, s.batch_size, backend=s.backend,
                    exports=dirs.data / "models", progress=progress or no_progress)


def _print_notes():
    """A progress function for a command: each new note (a one-time model export's stages) once, on stderr."""
    last = [""]

    def progress(done: int, total: int, note: str) -> bool:
        if note != last[0]:
            last[0] = note
            print(note, file=sys.stderr)
        return True

    return progress


