"""Values from the command line and the environment, checked at the door: a clear sentence, never a traceback.

Each check returns the cleaned value or raises ``argparse.ArgumentTypeError`` (argparse turns it into a usage error,
exit 2); ``from_env`` applies the same check to an ``IMGSEARCH_*`` variable and raises ``UsageError``.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from datetime import date
from typing import TypeVar
from urllib.parse import urlsplit

from imgsearch_desktop.errors import UsageError
from imgsearch_desktop.redact import redact

T = TypeVar("T")
MAX_RESULTS = 10_000  # Elasticsearch's default max_result_window: one page of kNN hits at most
INDEX_NAME_MAX = 100  # the alias; the versioned index adds ~60 characters and Elasticsearch stops at 255 bytes
INDEX_FORBIDDEN = re.compile(r'[\\/*?"<>|,# :A-Z]')
DEVICES = ("auto", "cpu", "cuda", "mps")  # where the models run: --device, IMGSEARCH_DEVICE, the Settings dialog
BATCH_SIZE_MAX = 1024  # images per model batch: --batch-size, IMGSEARCH_BATCH_SIZE, the Settings dialog


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _counted(text: str, what: str, most: int) -> int:
    """A whole number from 1 to ``most``, named ``what`` in the sentence that refuses it."""
    n = _int(text)
    if not 1 <= n <= most:
        raise argparse.ArgumentTypeError(f"{what} must be between 1 and {most:,}, not {n}")
    return n


def result_count(text: str) -> int:
    return _counted(text, "the number of results", MAX_RESULTS)


def positive_int(text: str) -> int:
    n = _int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {n}")
    return n


def batch_size(text: str) -> int:
    return _counted(text, "the batch size", BATCH_SIZE_MAX)


def device(text: str) -> str:
    if text not in DEVICES:
        raise argparse.ArgumentTypeError(f"device {text!r} is not one of {', '.join(DEVICES)}")
    return text


def cosine(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a cosine similarity is a number from -1 to 1, not {text}")
    return value


def iso_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2023-06-01") from None


def sentence(text: str) -> str:
    """A sentence to search for: an empty or blank one would embed as noise and return arbitrary photos."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the sentence is empty: say what to look for, e.g. --text 'a dog on a beach'")
    return text


def date_range(date_from: str | None, date_to: str | None) -> None:
    """``--from`` after ``--to`` can match nothing: a usage error, not "no matching photos"."""
    if date_from and date_to and date_from > date_to:  # both ISO dates (iso_date): text order is date order
        raise UsageError(f"--from {date_from} is after --to {date_to}: no photo can match; swap them")


def index_name(text: str) -> str:
    """Elasticsearch's index-name rules, told up front rather than as a 400 from the server."""
    problem = None
    if not text:
        problem = "it is empty"
    elif text in (".", "..") or text.startswith(("-", "_", "+", ".")):
        problem = "it may not start with - _ + or ."
    elif INDEX_FORBIDDEN.search(text):
        problem = "use lower-case letters, digits, - and _ only (no spaces, upper case or \\ / * ? \" < > | , # :)"
    elif len(text.encode()) > INDEX_NAME_MAX:
        problem = f"it is longer than {INDEX_NAME_MAX} bytes"
    if problem:
        raise argparse.ArgumentTypeError(f"invalid index name {text[:60]!r}: {problem}")
    return text


def es_url(text: str) -> str:
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid Elasticsearch URL {redact(text)!r}: the port must be a number "
                                         "from 1 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"invalid Elasticsearch URL {redact(text)!r}: expected "
                                         "http(s)://HOST[:PORT], e.g. https://search.example:9200")
    if port == 0:
        raise argparse.ArgumentTypeError(f"invalid Elasticsearch URL {redact(text)!r}: port 0")
    # Last, the Elasticsearch client's own parser (it refuses what urlsplit lets through, such as "%zz" in the
    # host): imported here, not at the top, so that the CLI starts light
    from elastic_transport.client_utils import url_to_node_config

    try:
        url_to_node_config(text, use_default_ports_for_scheme=True)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid Elasticsearch URL {redact(text)!r}: {parts.hostname!r} is not a "
                                         "host name or IP address") from None
    return text


LIBRARY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def library_id(text: str) -> str:
    """A library id labels this installation's documents in a shared index (a keyword, part of each id's hash)."""
    if not LIBRARY_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"invalid library id {text[:70]!r}: 1 to 64 letters, digits, . _ or -, "
                                         "starting with a letter or digit")
    return text


def from_env(var: str, text: str, check: Callable[[str], T]) -> T:
    try:
        return check(text)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"{var}: {exc}") from None
