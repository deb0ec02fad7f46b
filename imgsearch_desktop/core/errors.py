"""Errors a user can act on; the CLI maps each to an exit code and one clear line, the window (app/problems.py)
to a plain sentence — both by class, never by the message's text."""

from __future__ import annotations


class UserError(Exception):
    """A failure with a message meant for the user (no traceback)."""

    exit_code = 1


class ElasticsearchUnavailable(UserError):
    exit_code = 3


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


class LocalEsError(UserError):
    """The managed local Elasticsearch node cannot be installed, started or trusted."""


class AuthRefused(UserError):
    """Elasticsearch refused our user name, password or API key (HTTP 401)."""


class NodeStartFailed(LocalEsError):
    """The managed node's process exited while it was starting."""


class NodeNotHealthy(ElasticsearchUnavailable):
    """The managed node was launched but did not become healthy in time."""
