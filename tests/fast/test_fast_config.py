"""imgsearch_desktop/checks.py and config.py: values checked at the door, credentials split off a URL, and the
settings file's round trip (environment overrides never written back)."""

from __future__ import annotations

import argparse
import json
import stat
import tomllib

import pytest

from imgsearch_desktop import checks
from imgsearch_desktop.config import AppDirs, Settings, library_id, split_credentials
from imgsearch_desktop.core import secrets
from imgsearch_desktop.errors import UsageError
from imgsearch_desktop.redact import redact


def refused(check, text: str) -> str:
    with pytest.raises(argparse.ArgumentTypeError) as info:
        check(text)
    return str(info.value)


# ---------------------------------------------------------------- checks
def test_result_count():
    assert checks.result_count("1") == 1 and checks.result_count("10000") == 10_000
    assert "between 1 and 10,000, not 0" in refused(checks.result_count, "0")
    assert "not 10001" in refused(checks.result_count, "10001")
    assert refused(checks.result_count, "ten") == "'ten' is not a whole number"


def test_positive_int_and_batch_size():
    assert checks.positive_int("3") == 3
    assert refused(checks.positive_int, "0") == "must be 1 or more, not 0"
    assert checks.batch_size("1024") == 1024
    assert "the batch size must be between 1 and 1,024, not 1025" in refused(checks.batch_size, "1025")
    assert "whole number" in refused(checks.batch_size, "2.5")


@pytest.mark.parametrize("text", ["-1", "0", "0.9", "1", "1e-3"])
def test_cosine_accepts(text):
    assert checks.cosine(text) == float(text)


@pytest.mark.parametrize(("text", "why"), [("1.01", "from -1 to 1"), ("-2", "from -1 to 1"), ("nan", "from -1 to 1"),
                                           ("inf", "from -1 to 1"), ("high", "is not a number")])
def test_cosine_refuses(text, why):
    assert why in refused(checks.cosine, text)


def test_iso_date():
    assert checks.iso_date("2023-06-01") == "2023-06-01"
    assert checks.iso_date("20230601") == "2023-06-01"  # normalised
    assert "YYYY-MM-DD" in refused(checks.iso_date, "01/06/2023")
    assert "is not a date" in refused(checks.iso_date, "2023-02-30")


@pytest.mark.parametrize("name", ["imgsearch", "my-photos_2", "a" * 100, "photos.v2"])
def test_index_name_accepts(name):
    assert checks.index_name(name) == name


@pytest.mark.parametrize(("name", "why"), [
    ("", "it is empty"),
    ("_hidden", "may not start with"),
    ("-x", "may not start with"),
    (".x", "may not start with"),
    ("Photos", "lower-case"),
    ("my photos", "lower-case"),
    ("a/b", "lower-case"),
    ("a" * 101, "longer than 100 bytes"),
    ("é" * 51, "longer than 100 bytes"),  # bytes, not characters
])
def test_index_name_refuses(name, why):
    message = refused(checks.index_name, name)
    assert message.startswith("invalid index name") and why in message


def test_es_url():
    for ok in ("http://localhost:9200", "https://search.example", "http://elastic:pw@127.0.0.1:9200/"):
        assert checks.es_url(ok) == ok
    assert "expected http(s)://HOST[:PORT]" in refused(checks.es_url, "localhost:9200")
    assert "expected" in refused(checks.es_url, "ftp://host")
    assert "expected" in refused(checks.es_url, "http://")
    assert "port 0" in refused(checks.es_url, "http://h:0")
    message = refused(checks.es_url, "http://elastic:s3cret@h:99999")
    assert "port must be a number" in message and "s3cret" not in message
    assert repr(redact("http://elastic:s3cret@h:99999")) in message  # the one redaction of every message and log


def test_library_id():
    assert checks.library_id("anna-laptop.2") == "anna-laptop.2"
    assert checks.library_id("a" * 64) == "a" * 64
    for bad in ("", "-anna", "anna laptop", "a" * 65, "anna/laptop"):
        assert refused(checks.library_id, bad).startswith("invalid library id")


def test_from_env_names_the_variable_and_is_a_usage_error():
    assert checks.from_env("IMGSEARCH_BATCH_SIZE", "8", checks.batch_size) == 8
    with pytest.raises(UsageError) as info:
        checks.from_env("IMGSEARCH_BATCH_SIZE", "0", checks.batch_size)
    assert str(info.value).startswith("IMGSEARCH_BATCH_SIZE: the batch size")
    assert info.value.exit_code == 2


# ---------------------------------------------------------------- split_credentials
@pytest.mark.parametrize(("url", "expected"), [
    ("http://127.0.0.1:9200", ("http://127.0.0.1:9200", "", "")),
    ("http://elastic:pw@127.0.0.1:9200/", ("http://127.0.0.1:9200/", "elastic", "pw")),
    ("https://anna@search.example", ("https://search.example", "anna", "")),
    ("http://u:p%40ss%3Aword@h:9200", ("http://h:9200", "u", "p@ss:word")),  # percent-encoded, decoded
    ("http://u:a@b@h:9200/x?y=1#z", ("http://h:9200/x?y=1#z", "u", "a@b")),  # the last @ ends the user-info
    ("", ("", "", "")),
])
def test_split_credentials(url, expected):
    assert split_credentials(url) == expected


# ---------------------------------------------------------------- Settings
@pytest.fixture
def dirs(tmp_path) -> AppDirs:
    return AppDirs.resolve(tmp_path / "home")


@pytest.fixture
def no_keyring(monkeypatch):
    """Secrets go to the 0600 file in the data dir, never to a real keyring."""
    monkeypatch.setattr(secrets, "_keyring", lambda: None)


def test_app_dirs_under_one_home(tmp_path, monkeypatch):
    d = AppDirs.resolve(tmp_path / "h")
    assert (d.config, d.data, d.cache) == (tmp_path / "h/config", tmp_path / "h/data", tmp_path / "h/cache")
    assert d.settings_file == tmp_path / "h/config/settings.toml"
    monkeypatch.setenv("IMGSEARCH_HOME", str(tmp_path / "env-home"))
    assert AppDirs.resolve().config == tmp_path / "env-home/config"


def test_missing_file_gives_defaults(dirs):
    assert Settings.load(dirs, env={}) == Settings()


def test_save_and_load_round_trip(dirs, no_keyring):
    s = Settings(folders=["/p/one", "/p/two"], excluded=["tmp"], references=["/p/archive"], index="mine",
                 batch_size=8, results=100, device="cpu", keep_rules=["oldest", "pixels"],
                 folder_priority=["/p/two"], library_id="anna-laptop")
    s.save(dirs)
    assert stat.S_IMODE(dirs.settings_file.stat().st_mode) == 0o600
    assert Settings.load(dirs, env={}) == s
    assert not dirs.settings_file.with_suffix(".tmp").exists()


def test_env_overrides_apply_but_are_never_written(dirs, no_keyring):
    Settings(index="mine", batch_size=8, folders=["/p"]).save(dirs)
    env = {"IMGSEARCH_INDEX": "from-env", "IMGSEARCH_BATCH_SIZE": "64", "IMGSEARCH_DEVICE": "cpu"}
    loaded = Settings.load(dirs, env=env)
    assert (loaded.index, loaded.batch_size, loaded.device) == ("from-env", 64, "cpu")
    loaded.folders.append("/q")  # the user changes something else, and one overridden value
    loaded.device = "cuda"
    loaded.save(dirs)
    on_disk = tomllib.loads(dirs.settings_file.read_text())
    assert on_disk["index"] == "mine" and on_disk["batch_size"] == 8  # the file keeps its own
    assert on_disk["device"] == "cuda"  # changed away from the env value: the user's choice is saved
    assert on_disk["folders"] == ["/p", "/q"]
    assert Settings.load(dirs, env={}).index == "mine"


def test_a_bad_env_value_is_a_usage_error(dirs):
    with pytest.raises(UsageError, match="IMGSEARCH_INDEX"):
        Settings.load(dirs, env={"IMGSEARCH_INDEX": "My Photos"})
    with pytest.raises(UsageError, match="IMGSEARCH_DEVICE: device 'tpu'"):
        Settings.load(dirs, env={"IMGSEARCH_DEVICE": "tpu"})
    assert Settings.load(dirs, env={"IMGSEARCH_INDEX": ""}).index == "imgsearch"  # empty: not set


def test_saving_settings_writes_no_secret_anywhere(dirs, no_keyring):
    """Settings.save keeps a URL's password out of the file and writes no secret as a side effect: the Settings
    dialog stores secrets, through secrets.remember, the one place that writes them."""
    Settings(es_url="https://elastic:s3cret@search.example:9243/").save(dirs)
    text = dirs.settings_file.read_text()
    assert "s3cret" not in text
    on_disk = tomllib.loads(text)
    assert on_disk["es_url"] == "https://search.example:9243/" and on_disk["es_user"] == "elastic"
    assert not (dirs.data / "secrets.json").exists()
    assert secrets.get_secret(dirs.data, "es:https://search.example:9243/") == ""


def test_remember_writes_the_secret_the_credentials_read_back(dirs, no_keyring):
    secrets.remember(dirs.data, "https://elastic@search.example:9243/", "s3cret")  # user-info is not the key
    secret_file = dirs.data / "secrets.json"
    assert json.loads(secret_file.read_text()) == {"es:https://search.example:9243/": "s3cret"}
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    url = "https://search.example:9243/"
    assert secrets.credentials(dirs.data, url, "elastic", env={}) == secrets.Credentials(url, "elastic", "s3cret")
    assert secrets.credentials(dirs.data, url, env={}) == secrets.Credentials(url, api_key="s3cret")  # no user


def test_credentials_take_the_url_then_what_was_typed_then_the_store_and_the_environment_wins(dirs, no_keyring):
    url = "https://search.example:9243/"
    secrets.remember(dirs.data, url, "stored")
    pasted = secrets.credentials(dirs.data, "https://anna:from-url@search.example:9243/", "bob", "typed", env={})
    assert pasted == secrets.Credentials(url, "anna", "from-url")
    assert secrets.credentials(dirs.data, url, "bob", "typed", env={}).password == "typed"
    env = {"IMGSEARCH_ES_PASSWORD": "env-pw"}
    assert secrets.credentials(dirs.data, url, "bob", env=env) == secrets.Credentials(url, "bob", "env-pw")
    keyed = secrets.credentials(dirs.data, url, env={"IMGSEARCH_ES_API_KEY": "env-key"})
    assert keyed == secrets.Credentials(url, api_key="env-key")


@pytest.mark.parametrize("content", [b"index = 5\n", b"folders = [\n", b"index = '\xff'\n"])
def test_an_unusable_settings_file_is_set_aside(dirs, capsys, content):
    dirs.config.mkdir(parents=True)
    dirs.settings_file.write_bytes(content)
    assert Settings.load(dirs, env={}) == Settings()
    assert not dirs.settings_file.exists()
    (aside,) = dirs.config.glob("settings.toml.corrupt-*")
    assert aside.read_bytes() == content
    assert "using defaults" in capsys.readouterr().err


def test_unknown_keys_are_ignored(dirs):
    dirs.config.mkdir(parents=True)
    dirs.settings_file.write_text('index = "kept"\nfrom_the_future = true\n')
    assert Settings.load(dirs, env={}).index == "kept"


def test_library_id_is_made_once_and_kept(dirs, capsys):
    made = library_id(dirs, Settings())
    assert checks.LIBRARY_ID.fullmatch(made)
    assert library_id(dirs, Settings()) == made
    assert library_id(dirs, Settings(library_id="shared-1")) == "shared-1"  # the setting wins
    (dirs.data / "library-id").write_text("not an id!\n")
    fresh = library_id(dirs, Settings())
    assert fresh != made and "did not hold a library id" in capsys.readouterr().err
