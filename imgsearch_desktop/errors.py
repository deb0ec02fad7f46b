"""Errors a user can act on; the CLI maps each to an exit code and one clear line, the window (app/problems.py)
to a plain sentence — both by class, never by the message's text."""

from __future__ import annotations


class UserError(Exception):
    """A failure with a message meant for the user (no traceback)."""

    exit_code = 1


class ElasticsearchUnavailable(UserError):
    exit_code = 3


class IndexNotReady(ElasticsearchUnavailable):
    """The index exists but its shard has not started (still recovering, or Elasticsearch cannot place it)."""


class DiskFull(UserError):
    """Elasticsearch will not place a new index: the disk holding its data is past the node's high watermark."""

    def __init__(self, free_bytes: int | None, watermark: str) -> None:
        free = f"{free_bytes / 1e9:.1f} GB free" if free_bytes is not None else "too little space free"
        super().__init__(f"the disk holding Elasticsearch's data is too full for a new index: {free}, below the "
                         f"node's high disk watermark ({watermark}); free some disk space and run again")
        self.free_bytes, self.watermark = free_bytes, watermark


class ModelNotFound(UserError):
    exit_code = 4


class IndexConflict(UserError):
    """The index name is taken by something this app did not create, or holds vectors of another model."""


class UnreadablePart(UserError):
    """One part of a query cannot be used: its photo cannot be read, or it is no longer indexed. ``part`` says
    which, so the window can take it out of the query instead of failing every query after it the same way."""

    def __init__(self, message: str, part: object) -> None:
        super().__init__(message)
        self.part = part


class UsageError(UserError):
    """A bad option, environment value or argument, caught at the door."""

    exit_code = 2


class DeviceUnavailable(UsageError):
    """The device asked for (cuda, mps) is not one this machine can run the models on."""


class LocalEsError(UserError):
    """The managed local Elasticsearch node cannot be installed, started or trusted."""


class AuthRefused(UserError):
    """Elasticsearch refused our user name, password or API key (HTTP 401)."""


class NodeStartFailed(LocalEsError):
    """The managed node's process exited while it was starting."""


class NodeNotHealthy(ElasticsearchUnavailable):
    """The managed node was launched but did not become healthy in time."""
