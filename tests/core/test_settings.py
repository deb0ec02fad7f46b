"""settings.toml: private, free of secrets, and free of values that only came from the environment."""

from __future__ import annotations

import stat

from imgsearch_desktop.config import AppDirs, Settings, split_credentials
from imgsearch_desktop.core import secrets


def test_a_url_with_a_password_is_saved_without_it(tmp_path):
    """The file never holds the password (a pasted URL's secret is kept by the Settings dialog: see
    tests/app/test_settings_dialog.py), and saving writes no secret either."""
    dirs = AppDirs.resolve(tmp_path)
    settings = Settings.load(dirs, env={})
    # What `es start` prints, on a port of this test's own: the session's keyring may hold a real node's password
    # for 9201 (a managed node started by another test keeps it there).
    assert secrets.get_secret(dirs.data, "es:http://127.0.0.1:59201") == ""
    settings.es_url = "http://elastic:pa%3Ass-w0rd@127.0.0.1:59201"
    settings.save(dirs)
    text = dirs.settings_file.read_text()
    assert "pa%3Ass-w0rd" not in text and "pa:ss-w0rd" not in text and "elastic:" not in text
    assert stat.S_IMODE(dirs.settings_file.stat().st_mode) == 0o600
    again = Settings.load(dirs, env={})
    assert again.es_url == "http://127.0.0.1:59201" and again.es_user == "elastic"
    assert secrets.get_secret(dirs.data, "es:http://127.0.0.1:59201") == ""


def test_environment_overrides_are_never_written(tmp_path):
    dirs = AppDirs.resolve(tmp_path)
    first = Settings.load(dirs, env={})
    first.image_model = "/my/models/clip"
    first.save(dirs)
    env = {"IMGSEARCH_IMAGE_MODEL": "/tmp/other-model", "IMGSEARCH_ES_URL": "http://elastic:pw@127.0.0.1:9300"}
    settings = Settings.load(dirs, env=env)
    assert settings.image_model == "/tmp/other-model"
    settings.folders.append("/photos")  # the user changes something else, which saves everything
    settings.save(dirs)
    saved = Settings.load(dirs, env={})
    assert saved.image_model == "/my/models/clip" and saved.es_url == "" and saved.folders == ["/photos"]
    assert "pw" not in dirs.settings_file.read_text()


def test_split_credentials_leaves_plain_urls_alone():
    assert split_credentials("https://search.example:9200/") == ("https://search.example:9200/", "", "")
    assert split_credentials("http://u@h:1") == ("http://h:1", "u", "")
