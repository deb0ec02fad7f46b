"""Exceptions become one plain sentence; the technical text only ever goes behind "Details"."""

from __future__ import annotations

import subprocess
import sys

import elastic_transport
import pytest
from elasticsearch import AuthenticationException

from imgsearch_desktop.app.problems import Kind, address, explain, is_unreachable, plain
from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.core.node import LocalNode
from imgsearch_desktop.errors import (
    AuthRefused,
    ElasticsearchUnavailable,
    LocalEsError,
    NodeNotHealthy,
    NodeStartFailed,
    UserError,
)

RAW = ("Connection error caused by: NewConnectionError(HTTPConnection(host='127.0.0.1', port=9202): Failed to "
       "establish a new connection: [Errno 111] Connection refused)")


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


def test_a_remote_cluster_that_does_not_answer_is_named_not_dumped():
    exc = _raised(ElasticsearchUnavailable(f"Elasticsearch unreachable: {RAW}"),
                  elastic_transport.ConnectionError(RAW))
    problem = explain(exc, "http://127.0.0.1:9")
    assert problem.sentence == "Cannot reach Elasticsearch at http://127.0.0.1:9."
    assert problem.kind is Kind.UNREACHABLE and problem.action == "settings"
    assert "Errno 111" in problem.details and is_unreachable(exc)


def test_the_address_a_message_names_carries_no_credentials():
    """One rendering for every message (the window, the Duplicates window, the Settings dialog's test)."""
    assert address("https://elastic:s3cret@search.example:9243/base?x=1") == "https://search.example:9243/base"
    assert address("http://elastic@127.0.0.1:9") == "http://127.0.0.1:9" and address("") == ""


def test_the_managed_node():
    assert explain(LocalEsError("Elasticsearch exited during start (code 1): java.lang.Oops")).sentence == \
        "The search engine could not be started."
    stopped = explain(ElasticsearchUnavailable(f"Elasticsearch unreachable: {RAW}"))
    assert stopped.kind is Kind.ENGINE and "Errno" not in stopped.sentence


def test_refused_credentials_point_to_settings():
    exc = _raised(UserError("Elasticsearch refused our credentials (401): check the user"),
                  AuthenticationException("security_exception", None, None))
    problem = explain(exc, "https://es.example:9200")
    assert problem.kind is Kind.AUTH and problem.action == "settings" and "es.example" in problem.sentence


def test_user_errors_keep_their_sentence_and_lose_a_technical_tail():
    assert explain(UserError("Cannot search with this image: /p/a.jpg: not an image")).sentence == \
        "Cannot search with this image: /p/a.jpg: not an image"
    assert plain(f"Elasticsearch unavailable during bulk write: {RAW}") == \
        "Elasticsearch unavailable during bulk write"
    assert plain("first line\nsecond line") == "first line"


def test_a_bug_is_one_sentence_with_the_traceback_behind_details():
    problem = explain(_raised(KeyError("taken_at")), doing="indexing")
    assert problem.sentence == "Something went wrong while indexing. The details are in the log."
    assert "KeyError" in problem.details and "Traceback" in problem.details


STARTED = "The search engine could not be started."


def test_kinds_come_from_the_class_not_from_the_message_text():
    """A typed error means its kind whatever it says; an untyped one saying the old magic words means nothing."""
    assert explain(AuthRefused("the cluster said no"), "https://es.example:9200").kind is Kind.AUTH
    for exc in (NodeStartFailed("the process went away"), NodeNotHealthy("too slow today")):
        problem = explain(exc)
        assert (problem.sentence, problem.kind, problem.action) == (STARTED, Kind.ENGINE, "retry")
    assert explain(UserError("cannot read /p/scan (401).jpg")).kind is Kind.ERROR
    untyped = explain(ElasticsearchUnavailable("Elasticsearch did not become healthy within 3s"))
    assert untyped.sentence == "The search engine is not running."
    assert explain(ElasticsearchUnavailable("lost it during start-up")).sentence != STARTED


def test_the_node_raises_its_start_failures_typed(tmp_path):
    node = LocalNode(AppDirs.resolve(tmp_path / "home"))
    with pytest.raises(NodeNotHealthy):
        node.wait_healthy(timeout=0)
    node._proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])  # a node that died starting
    node._proc.wait()
    with pytest.raises(NodeStartFailed, match="code 3"):
        node.wait_healthy(timeout=30)
