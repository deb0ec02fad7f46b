"""`search` with several parts, as a user types it: photos, sentences, indexed photos, positive and negative."""

from __future__ import annotations

import json

from tests.e2e.test_cli import run
from tests.photos import write_photo


def test_composed_search_from_the_command_line(cli_env, tmp_path):
    pics = tmp_path / "Pictures"
    paths = [write_photo(pics / f"img{i}.jpg", seed=400 + i) for i in range(5)]
    assert run(cli_env, "index", str(pics)).returncode == 0

    out = run(cli_env, "search", "--like", str(paths[2]), "-k", "5", "--json")
    assert out.returncode == 0, out.stderr
    hits = [json.loads(line) for line in out.stdout.splitlines()]
    assert hits[0]["path"] == str(paths[2]) and hits[0]["score"] > 0.9999

    out = run(cli_env, "search", "--image", str(paths[2]), "--text", "a beach", "--not-image", str(paths[3]),
              "--unlike", str(paths[4]), "--not-text", "a city at night", "-k", "5", "--json")
    assert out.returncode == 0, out.stderr
    composed = [json.loads(line)["path"] for line in out.stdout.splitlines()]
    assert len(composed) == 5 and composed.index(str(paths[3])) > 0 and composed.index(str(paths[4])) > 0

    out = run(cli_env, "search", "--like", str(tmp_path / "never-indexed.jpg"))
    assert out.returncode == 1 and "not in the index" in out.stderr and "Traceback" not in out.stderr
