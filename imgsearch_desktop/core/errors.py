"""Errors a user can act on; the CLI maps each to an exit code and one clear line."""

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


class UsageError(UserError):
    """A bad option, environment value or argument, caught at the door."""

    exit_code = 2


class DeviceUnavailable(UsageError):
    """The device asked for (cuda, mps) is not one this machine can run the models on."""


class LocalEsError(UserError):
    """The managed local Elasticsearch node cannot be installed, started or trusted."""
