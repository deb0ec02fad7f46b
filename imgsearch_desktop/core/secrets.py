"""Elasticsearch credentials: the OS keyring, or (where no keyring backend exists) a 0600 file — never settings.toml.

``credentials()`` is how the CLI, the window and the Settings dialog's connection test sign in (one rule), and
``remember()`` the one place the app writes a secret (the Settings dialog calls it; ``Settings.save`` never does).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imgsearch_desktop.config import split_credentials
from imgsearch_desktop.core import private

SERVICE = "imgsearch-desktop"


@dataclass(frozen=True)
class Credentials:
    """How the app signs in to one Elasticsearch URL."""

    url: str  # without user-info
    user: str = ""
    password: str = ""
    api_key: str = ""

    def connection(self, ca_cert: str = ""):
        from imgsearch_desktop.core.store import Connection

        return Connection(self.url, user=self.user, password=self.password, api_key=self.api_key, ca_cert=ca_cert)


def credentials(data_dir: Path, url: str, user: str = "", typed: str = "",
                env: Mapping[str, str] | None = None) -> Credentials:
    """The user: the URL's user-info, else ``user``. The secret: the URL's password, else ``typed`` (just entered in
    Settings), else the secret store; with a user it is a password, without one an API key.
    IMGSEARCH_ES_PASSWORD / IMGSEARCH_ES_API_KEY win (the store is then not read at all)."""
    env = os.environ if env is None else env
    url, url_user, url_password = split_credentials(url)
    user = url_user or user
    env_password, env_key = env.get("IMGSEARCH_ES_PASSWORD", ""), env.get("IMGSEARCH_ES_API_KEY", "")
    secret = url_password or typed
    if not secret and not (env_password or env_key):
        secret = get_secret(data_dir, _name(url))
    return Credentials(url, user, env_password or (secret if user else ""), env_key or ("" if user else secret))


def remember(data_dir: Path, url: str, secret: str) -> None:
    """Keep ``url``'s password or API key (``url`` without user-info): the one place a secret is written."""
    set_secret(data_dir, _name(split_credentials(url)[0]), secret)


def _name(url: str) -> str:
    return f"es:{url}"


def _keyring():
    try:
        import keyring
        from keyring.backends.fail import Keyring as FailKeyring
    except ImportError:
        return None
    backend = keyring.get_keyring()
    return None if isinstance(backend, FailKeyring) else keyring


def storage_description() -> str:
    kr = _keyring()
    return f"the keyring ({type(kr.get_keyring()).__name__})" if kr else "a private file (0600) in the app's data dir"


def _file(data_dir: Path) -> Path:
    return data_dir / "secrets.json"


def set_secret(data_dir: Path, name: str, value: str) -> None:
    kr = _keyring()
    if kr is not None:
        kr.set_password(SERVICE, name, value)
        return
    path = _file(data_dir)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = value
    private.make_dir(data_dir)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    tmp.replace(path)


def get_secret(data_dir: Path, name: str) -> str:
    kr = _keyring()
    if kr is not None:
        return kr.get_password(SERVICE, name) or ""
    path = _file(data_dir)
    return json.loads(path.read_text()).get(name, "") if path.exists() else ""
