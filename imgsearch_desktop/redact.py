"""Secrets out of logs and out of ``ps``: one redaction for every log write and every message that may carry a URL,
and (on Linux) a re-exec that moves a password given in ``--es-url`` into the environment.

A process's command line is readable by every local user (/proc/PID/cmdline, ``ps``); its environment is readable
only by its own user. Overwriting argv in place is not reliable in CPython (the interpreter keeps copies), so the
process replaces itself (``os.execve``, same pid) with the password in ``IMGSEARCH_ES_PASSWORD`` and the URL keeping
only its user.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Sequence
from logging.handlers import RotatingFileHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from imgsearch_desktop.core import private

PASSWORD_ENV = "IMGSEARCH_ES_PASSWORD"
SECRET_ENVS = (PASSWORD_ENV, "IMGSEARCH_ES_API_KEY")
MASK = "***"
# scheme://user-info@ — the user-info ends at the authority's last "@" (an unescaped "@" in a password stays inside).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/\s?#]*)@")
_MIN_SECRET = 4  # shorter values would mask ordinary words


def redact(text: str) -> str:
    """``text`` with every URL's user-info masked and the values of the secret environment variables removed."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    for var in SECRET_ENVS:
        value = os.environ.get(var, "")
        if len(value) >= _MIN_SECRET:
            text = text.replace(value, MASK)
    return text


class RedactingFormatter(logging.Formatter):
    """A log formatter whose every line (message, arguments and traceback alike) goes through ``redact``."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _PrivateRotatingFileHandler(RotatingFileHandler):
    def _open(self):  # each file it creates (the first, and after every rotation) is 0600
        return open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors, opener=private.opener)


def private_log_handler(path: Path, max_bytes: int = 1_000_000, backups: int = 2) -> logging.Handler:
    """A rotated log file, 0600 in a 0700 folder, whose every line is redacted."""
    private.make_dir(path.parent)
    handler = _PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def split_password(url: str) -> tuple[str, str]:
    """``http://user:pw@host/`` → (``http://user@host/``, pw); the user stays (a name, not a secret)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, ""
    if "@" not in parts.netloc:
        return url, ""
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, colon, password = userinfo.partition(":")
    if not colon:
        return url, ""
    netloc = f"{user}@{host}" if user else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), unquote(password)


def move_password_out_of_argv(args: Sequence[str]) -> tuple[list[str], str]:
    """``args`` with every ``--es-url``'s password removed, and the (last) password found."""
    out: list[str] = []
    found = ""
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":  # the rest are photo paths
            return [*out, *args[i:]], found
        name, eq, value = token.partition("=")
        if _is_url_option(name) and not eq and i + 1 < len(args):
            url, password = split_password(args[i + 1])
            out += [token, url]
            found = password or found
            i += 2
            continue
        if _is_url_option(name) and eq:
            url, password = split_password(value)
            out.append(f"{name}={url}")
            found = password or found
        else:
            out.append(token)
        i += 1
    return out, found


def _is_url_option(name: str) -> bool:
    """``--es-url`` or an abbreviation argparse takes for it (``--es-ur``; ``--es-u`` is ambiguous)."""
    return len(name) >= len("--es-ur") and "--es-url".startswith(name)


HINT = (f"note: a password in --es-url is visible to every user of this computer (ps){{moved}}; give the URL without "
        f"it and set {PASSWORD_ENV} instead")


def reexec_without_password() -> None:
    """If this process's ``--es-url`` carries a password: say so once on stderr and, on Linux, replace the process
    by the same command with the password in the environment instead (never returns then)."""
    args, password = move_password_out_of_argv(sys.argv[1:])
    if not password:
        return
    linux = sys.platform.startswith("linux")  # elsewhere no re-exec (untested there); the logs are redacted anyway
    print(HINT.format(moved=f"; this run moved it to {PASSWORD_ENV}" if linux else ""), file=sys.stderr, flush=True)
    if not linux:
        return
    env = {**os.environ, PASSWORD_ENV: password}
    if getattr(sys, "frozen", False):
        env["PYINSTALLER_RESET_ENVIRONMENT"] = "1"  # a fresh start of the bundle, not a child of this one
        argv = [sys.executable, *args]
    else:
        # orig_argv = the interpreter, its own options (-X, -m module or the script), then sys.argv[1:].
        head = sys.orig_argv[:len(sys.orig_argv) - len(sys.argv) + 1]
        argv = [*head, *args]
    sys.stdout.flush()
    with contextlib.suppress(OSError):  # if it fails the run goes on as it is; the logs are redacted all the same
        os.execve(sys.executable, argv, env)
