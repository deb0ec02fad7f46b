"""One typed settings object: TOML file under the platform config dir, overridden by IMGSEARCH_* env vars."""

from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import platformdirs
import tomli_w

from imgsearch_desktop import APP_NAME, checks

DEFAULT_IMAGE_MODEL = "sentence-transformers/clip-ViT-B-32"
DEFAULT_TEXT_MODEL = "sentence-transformers/clip-ViT-B-32-multilingual-v1"
DEFAULT_INDEX = "imgsearch"


@dataclass(frozen=True)
class AppDirs:
    """Where the app keeps its files; IMGSEARCH_HOME puts all three under one root (tests, portable installs)."""

    config: Path
    data: Path
    cache: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> AppDirs:
        home = home or os.environ.get("IMGSEARCH_HOME")
        if home:
            root = Path(home).expanduser().absolute()
            return cls(root / "config", root / "data", root / "cache")
        return cls(Path(platformdirs.user_config_dir(APP_NAME)), Path(platformdirs.user_data_dir(APP_NAME)),
                   Path(platformdirs.user_cache_dir(APP_NAME)))

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.toml"

    @property
    def node_dir(self) -> Path:
        """The managed node's own directory when it runs as this user (its modes are core/node's business)."""
        return self.data / "elasticsearch"

    def make(self) -> None:
        """The three folders, private to this user: made 0700 where missing (OSError where one cannot be), and one
        an older version left open (0755) tightened with all it holds."""
        from imgsearch_desktop.core import private

        for root in (self.config, self.data, self.cache):
            root.mkdir(mode=private.DIR_MODE, parents=True, exist_ok=True)
        for root in (self.config, self.data, self.cache):
            try:
                if not private.is_private(root):
                    private.tighten(root, skip=[self.node_dir])
            except OSError:
                pass  # tightening is best effort: the command that needs a file says what it cannot do


BACKENDS = ("auto", "torch", "onnx-int8")  # core/encoders/choice.py


def _backend(text: str) -> str:
    if text not in BACKENDS:
        raise argparse.ArgumentTypeError(f"backend {text!r} is not one of {', '.join(BACKENDS)}")
    return text


# Settings field → (environment variable that overrides it, its check).
ENV_OVERRIDES: dict[str, tuple[str, Callable[[str], object]]] = {
    "es_url": ("IMGSEARCH_ES_URL", checks.es_url),
    "index": ("IMGSEARCH_INDEX", checks.index_name),
    "image_model": ("IMGSEARCH_IMAGE_MODEL", str),
    "text_model": ("IMGSEARCH_TEXT_MODEL", str),
    "device": ("IMGSEARCH_DEVICE", checks.device),
    "backend": ("IMGSEARCH_BACKEND", _backend),
    "batch_size": ("IMGSEARCH_BATCH_SIZE", checks.batch_size),
    "library_id": ("IMGSEARCH_LIBRARY_ID", checks.library_id),
}
LIBRARY_ID_FILE = "library-id"


@dataclass
class Settings:
    """Everything the user can configure. Secrets (ES password / API key) are never stored here."""

    folders: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # reference folders: never suggested for deletion
    es_url: str = ""  # empty = the managed local node
    es_user: str = ""
    es_ca_cert: str = ""
    index: str = DEFAULT_INDEX
    image_model: str = DEFAULT_IMAGE_MODEL
    text_model: str = DEFAULT_TEXT_MODEL
    device: str = "auto"  # auto | cpu | cuda | mps
    backend: str = "auto"  # auto (int8 where it agrees with torch on this CPU, torch on a GPU) | torch | onnx-int8
    batch_size: int = 32
    results: int = 50
    faces: bool = True  # find faces and group them into people; off deletes every face and person (privacy)
    text: bool = True  # read the text in photos (signs, receipts, screenshots) and find photos by it
    library_id: str = ""  # empty = the id made once for this installation (``library-id`` in the data dir)
    keep_rules: list[str] = field(default_factory=list)  # duplicates: keep-best rules, the user's order (empty =
    # the default order; core.dupes.KeepRule values)
    folder_priority: list[str] = field(default_factory=list)  # duplicates: keep photos under the first folder first

    @classmethod
    def load(cls, dirs: AppDirs, env: dict[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        settings = cls._from_file(dirs.settings_file)
        for name, (var, check) in ENV_OVERRIDES.items():
            if env.get(var):
                settings.override(name, checks.from_env(var, env[var], check))
        return settings

    def override(self, name: str, value: object) -> None:
        """Use ``value`` for this run only (an environment variable, a command-line option): ``save`` keeps the
        file's own value for ``name`` unless the user changes the setting meanwhile (Settings dialog)."""
        overrides: dict[str, tuple[object, object]] = self.__dict__.setdefault("_overrides", {})
        file_value = overrides[name][0] if name in overrides else getattr(self, name)
        overrides[name] = (file_value, value)
        setattr(self, name, value)

    @classmethod
    def _from_file(cls, path: Path) -> Settings:
        """The file's settings; a file that cannot be used is set aside (kept for the user) and defaults apply."""
        if not path.exists():
            return cls()
        try:
            values = tomllib.loads(path.read_bytes().decode("utf-8"))
            defaults = cls()
            known = {f.name for f in fields(cls)}
            for name, value in values.items():
                if name in known and type(value) is not type(getattr(defaults, name)):
                    raise ValueError(f"{name} should be {type(getattr(defaults, name)).__name__}, "
                                     f"not {type(value).__name__}")
            return cls(**{k: v for k, v in values.items() if k in known})
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, OSError) as exc:
            aside = set_aside(path)
            print(f"warning: {path} could not be read ({exc}); moved to {aside.name}, using defaults",
                  file=sys.stderr)
            return cls()

    def save(self, dirs: AppDirs) -> None:
        """Write settings.toml (0600, atomically). A URL's user name goes to ``es_user`` and its password nowhere (the
        Settings dialog stores secrets, through ``core.secrets.remember``); a value that only came from an
        environment variable or a command-line option is not written (the file keeps its own)."""
        from imgsearch_desktop.core import private

        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, (file_value, run_value) in self.__dict__.get("_overrides", {}).items():
            if _same_value(name, values[name], run_value):
                values[name] = file_value
        values["es_url"], user, _password = split_credentials(str(values["es_url"]))
        if user:
            values["es_user"] = user
        private.make_dir(dirs.config)
        tmp = dirs.settings_file.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(tomli_w.dumps(values).encode())
        tmp.replace(dirs.settings_file)


def _same_value(name: str, value: object, run_value: object) -> bool:
    """Whether a setting still holds this run's value (a URL compared without its user-info, which the Settings
    dialog moves to the user field and the secret store)."""
    if name == "es_url":
        return split_credentials(str(value))[0] == split_credentials(str(run_value))[0]
    return value == run_value


def library_id(dirs: AppDirs, settings: Settings) -> str:
    """This installation's library id: the setting (or IMGSEARCH_LIBRARY_ID) if given, else a random id made once
    and kept in the data dir. Desktops sharing one index each see their own photos by it; copying the file (or
    setting the id) to a new computer with the same folders takes the library over."""
    if settings.library_id:
        return checks.from_env("library_id", settings.library_id, checks.library_id)
    path = dirs.data / LIBRARY_ID_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = None
    except UnicodeDecodeError:
        text = ""  # not an id: set aside below (an unreadable file raises: a new id would orphan the library)
    if text is not None:
        if checks.LIBRARY_ID.fullmatch(text):
            return text
        aside = set_aside(path)
        print(f"warning: {path} did not hold a library id; moved to {aside.name}, making a new one",
              file=sys.stderr)
    from imgsearch_desktop.core import private

    private.make_dir(dirs.data)
    made = uuid.uuid4().hex
    tmp = path.with_name(f".{LIBRARY_ID_FILE}.{made}")
    with open(tmp, "x", encoding="ascii", opener=private.opener) as fh:
        fh.write(made + "\n")
    try:
        os.link(tmp, path)  # appears whole or not at all; never replaces an id another process made meanwhile
    except FileExistsError:
        return library_id(dirs, settings)
    finally:
        tmp.unlink()
    return made


def set_aside(path: Path) -> Path:
    """Rename a corrupt state or settings file to ``<name>.corrupt-<time>`` so nothing is lost or read again."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    path.replace(aside)
    return aside


T = TypeVar("T")


def read_memory(path: Path, what: str, parse: Callable[[object], T]) -> tuple[T | None, str | None]:
    """A JSON file the app remembers the user's choices in: (``parse(data)``, None). One that is not UTF-8 JSON
    of that shape is set aside: (None, a warning to show). One that cannot be read now (EIO, EACCES) is not
    corrupt: UserError, so nothing goes on to overwrite ``what`` it holds."""
    import json
    import logging

    from imgsearch_desktop.errors import UserError

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path} ({exc.strerror or exc}): the {what} in it would be lost; fix its "
                        "permissions and try again") from None
    try:
        return parse(json.loads(raw.decode("utf-8"))), None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # UnicodeDecodeError is a ValueError
        aside = set_aside(path)
        warning = f"{path.name} could not be read ({exc}); set aside as {aside.name}, starting empty"
        logging.getLogger(__name__).warning(warning)
        return None, warning


def split_credentials(url: str) -> tuple[str, str, str]:
    """``http://user:pw@host:port/`` → (``http://host:port/``, user, pw); a URL without user-info is unchanged."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, "", ""
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), unquote(user), unquote(password)
