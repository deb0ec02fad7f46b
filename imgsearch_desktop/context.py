"""The wired objects a command or the window needs: settings (file + env + options), app dirs, the library id,
the Elasticsearch connection and store, the thumbnail cache and the models — resolved once per command."""

from __future__ import annotations

import argparse
import os
import sys

from imgsearch_desktop.config import AppDirs, Settings


class Context:
    """Settings, the Elasticsearch connection and the models, resolved once per command from args + env."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dirs = AppDirs.resolve(args.home)
        self.dirs.make_private()
        self.settings = Settings.load(self.dirs)
        for name in ("es_url", "es_user", "es_ca_cert", "index", "image_model", "text_model", "device", "batch_size"):
            value = getattr(args, name, None)
            if value is not None:
                self.settings.override(name, value)  # this run's option, never written to settings.toml
        if getattr(args, "no_faces", None):
            self.settings.override("faces", False)
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
        from imgsearch_desktop.core.store import Connection

        s = self.settings
        if s.es_url:
            from imgsearch_desktop.core.secrets import get_secret

            stored = get_secret(self.dirs.data, f"es:{s.es_url}") if not os.environ.get("IMGSEARCH_ES_PASSWORD") \
                and not os.environ.get("IMGSEARCH_ES_API_KEY") else ""
            return Connection(s.es_url, user=s.es_user,
                              password=os.environ.get("IMGSEARCH_ES_PASSWORD", "") or (stored if s.es_user else ""),
                              api_key=os.environ.get("IMGSEARCH_ES_API_KEY", "") or ("" if s.es_user else stored),
                              ca_cert=s.es_ca_cert)
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
        from imgsearch_desktop.core.analyses.faces import FacesAnalysis

        return [FacesAnalysis()] if self.settings.faces else []

    def people(self):
        from imgsearch_desktop.core.people import People

        return People(self.dirs.data / f"people-{self.settings.index}.json")

    @property
    def embedder(self):
        if self._embedder is None:
            from imgsearch_desktop.core.embedder import Embedder

            s = self.settings
            self._embedder = Embedder(s.image_model, s.text_model, s.device, s.batch_size)
        return self._embedder


