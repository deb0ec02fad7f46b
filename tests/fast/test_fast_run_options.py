"""Options of one run (command line, environment) are used for that run and never written to settings.toml."""

from __future__ import annotations

import argparse
import tomllib

import pytest

from imgsearch_desktop.cli_parser import build_parser, normalise_argv
from imgsearch_desktop.config import DEFAULT_IMAGE_MODEL, AppDirs, Settings
from imgsearch_desktop.context import Context


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(normalise_argv(list(argv)))


@pytest.fixture
def saved(fast_isolated_home):
    """settings.toml as the user left it: an index and a batch size of their own, the image model by default."""
    dirs = AppDirs.resolve(fast_isolated_home)
    Settings(index="mine", batch_size=16, folders=["/photos"]).save(dirs)
    return dirs


def test_command_line_options_are_used_but_not_saved(saved):
    ctx = Context(_args("--index", "other", "--image-model", "/models/clip", "--batch-size", "4",
                        "--es-url", "http://elastic@127.0.0.1:9201", "index", "/p"))
    s = ctx.settings
    assert (s.index, s.image_model, s.batch_size, s.es_url) == ("other", "/models/clip", 4,
                                                                "http://elastic@127.0.0.1:9201")
    s.results = 20  # the user changes something else in the Settings dialog, which saves every field
    s.es_url = "http://127.0.0.1:9201"  # (the dialog moves a URL's user to the user field)
    s.save(ctx.dirs)
    on_disk = tomllib.loads(ctx.dirs.settings_file.read_text())
    assert (on_disk["index"], on_disk["image_model"], on_disk["batch_size"], on_disk["es_url"]) == \
        ("mine", DEFAULT_IMAGE_MODEL, 16, "")
    assert on_disk["results"] == 20 and on_disk["folders"] == ["/photos"]


def test_an_option_over_an_environment_variable_is_not_saved_either(saved, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_INDEX", "from-env")
    ctx = Context(_args("--index", "from-cli", "search", "--text", "x"))
    assert ctx.settings.index == "from-cli"
    ctx.settings.save(ctx.dirs)
    assert tomllib.loads(ctx.dirs.settings_file.read_text())["index"] == "mine"


def test_a_setting_the_user_changes_during_the_run_is_saved(saved):
    ctx = Context(_args("--batch-size", "4", "index", "/p"))
    ctx.settings.batch_size = 8  # chosen in the Settings dialog
    ctx.settings.save(ctx.dirs)
    assert tomllib.loads(ctx.dirs.settings_file.read_text())["batch_size"] == 8
