"""Elasticsearch credentials: the OS keyring, or (where no keyring backend exists) a 0600 file — never settings.toml."""

from __future__ import annotations

import json
import os
from pathlib import Path

from imgsearch_desktop.core import private

SERVICE = "imgsearch-desktop"


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
