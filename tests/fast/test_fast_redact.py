"""The one redaction every log write and URL message goes through, and the argv rewrite of the re-exec."""

from __future__ import annotations

import logging

from imgsearch_desktop.redact import RedactingFormatter, move_password_out_of_argv, redact, split_password


def test_redact_masks_user_info_and_secret_env_values(monkeypatch):
    monkeypatch.setenv("IMGSEARCH_ES_PASSWORD", "s3cret-pw")
    text = "--es-url http://elastic:p@ss:w0rd@127.0.0.1:9200/x then https://u@h and s3cret-pw again"
    assert redact(text) == "--es-url http://***@127.0.0.1:9200/x then https://***@h and *** again"
    assert redact("http://127.0.0.1:9200 a@b.c") == "http://127.0.0.1:9200 a@b.c"


def test_split_password_keeps_the_user():
    assert split_password("http://elastic:pa%3Ass@127.0.0.1:9201/") == ("http://elastic@127.0.0.1:9201/", "pa:ss")
    assert split_password("http://elastic@h:1") == ("http://elastic@h:1", "")
    assert split_password("http://h:1") == ("http://h:1", "")


def test_argv_loses_every_es_url_password_and_nothing_else():
    argv = ["--es-url", "http://e:pw1@h:1", "search", "--text", "http://a:b@c", "--es-ur=http://e:pw2@h:2", "--",
            "--es-url=http://x:y@z"]
    assert move_password_out_of_argv(argv) == (
        ["--es-url", "http://e@h:1", "search", "--text", "http://a:b@c", "--es-ur=http://e@h:2", "--",
         "--es-url=http://x:y@z"], "pw2")
    assert move_password_out_of_argv(["index", "/p"]) == (["index", "/p"], "")


def test_the_log_formatter_redacts_messages_arguments_and_tracebacks():
    try:
        raise ValueError("bad http://elastic:topsecret@h:9200")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "to %s", ("http://elastic:topsecret@h",),
                                   sys.exc_info())
    line = RedactingFormatter("%(message)s").format(record)
    assert "topsecret" not in line and "ValueError" in line and "http://***@h" in line
