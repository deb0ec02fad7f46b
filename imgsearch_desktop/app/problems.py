"""Exceptions → one plain sentence for the window, with the technical text kept for "Details" and the log.

Qt-free and pure, so every mapping is unit-tested. The window never shows ``str(exc)`` of a client library. Kinds
come from the exception's class (errors.py's types, the client's), never from its message's text.
"""

from __future__ import annotations

import enum
import re
import traceback
from dataclasses import dataclass

import elastic_transport
from elasticsearch import AuthenticationException

from imgsearch_desktop.errors import (
    AuthRefused,
    ElasticsearchUnavailable,
    LocalEsError,
    NodeNotHealthy,
    UserError,
)


class Kind(enum.Enum):
    ENGINE = "engine"  # the managed node is not running or cannot be started
    UNREACHABLE = "unreachable"  # a remote cluster does not answer
    AUTH = "auth"  # the cluster refused our credentials
    ERROR = "error"  # anything else


@dataclass(frozen=True)
class Problem:
    sentence: str  # one plain sentence: what happened and, where there is one, what to do
    details: str = ""  # the technical text (exception, log lines), behind "Details"
    kind: Kind = Kind.ERROR
    severity: str = "error"  # info | warning | error (the banner's colour)
    action: str = ""  # "settings" | "retry" | "": the banner's button

    def with_sentence(self, sentence: str, **changes: str) -> Problem:
        return Problem(sentence, self.details, self.kind, changes.get("severity", self.severity),
                       changes.get("action", self.action))


# Where a message turns technical: everything from here on goes behind "Details".
_TECHNICAL = re.compile(r"(\s*[:(]?\s*(caused by|Connection error|Traceback|\[Errno|\w+(Error|Exception)\(|"
                        r"HTTPS?Connection|urllib3|elastic_transport|\w+ failed \(\d{3}\))).*", re.S | re.I)


def plain(text: str) -> str:
    """The readable head of a message: its first line, cut where exception text starts."""
    return _TECHNICAL.sub("", text.strip().splitlines()[0] if text.strip() else "").strip(" :—-")


def beyond(text: str) -> str:
    """What a message says after its readable head (``plain``): the Details. Empty when the head is all of it —
    Details would only repeat the sentence shown above it."""
    text, head = text.strip(), plain(text)
    return text[len(head):].strip(" :—-\n") if head and text.startswith(head) else text


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_unreachable(exc: BaseException) -> bool:
    """Elasticsearch did not answer at all (stopped, moved, wrong address) — not a refusal or a bad request."""
    return any(isinstance(e, ElasticsearchUnavailable | LocalEsError | elastic_transport.ConnectionError |
                          elastic_transport.ConnectionTimeout) for e in _chain(exc))


def address(es_url: str) -> str:
    """What a message names: the remote cluster's URL without credentials, "" for the app's own (managed) node."""
    from imgsearch_desktop.core.store import Connection  # the client's own URL: one rendering for both

    return Connection(es_url).redacted() if es_url else ""


def explain(exc: BaseException, address: str = "", doing: str = "") -> Problem:
    """``address``: the remote cluster's URL without credentials, "" for the app's own (managed) node."""
    details = "".join(traceback.format_exception(exc)).strip() if not isinstance(exc, UserError) else str(exc)
    chain = list(_chain(exc))
    if any(isinstance(e, AuthenticationException | AuthRefused) for e in chain):
        where = f" at {address}" if address else ""
        return Problem(f"Elasticsearch{where} refused the user name, password or API key. Check them in Settings.",
                       details, Kind.AUTH, action="settings")
    if any(isinstance(e, elastic_transport.TlsError) for e in chain):
        return Problem(f"Cannot connect securely to Elasticsearch at {address}: check the CA certificate in "
                       "Settings.", details, Kind.UNREACHABLE, action="settings")
    if is_unreachable(exc):
        if address:
            return Problem(f"Cannot reach Elasticsearch at {address}.", details, Kind.UNREACHABLE, "warning",
                           "settings")
        if isinstance(exc, LocalEsError | NodeNotHealthy):  # NodeStartFailed is a LocalEsError
            return Problem("The search engine could not be started.", details, Kind.ENGINE, action="retry")
        return Problem("The search engine is not running.", details, Kind.ENGINE, "warning")
    if isinstance(exc, UserError):
        return Problem(plain(str(exc)) or "Something went wrong.", beyond(str(exc)))
    what = f" while {doing}" if doing else ""
    return Problem(f"Something went wrong{what}. The details are in the log.", details)
