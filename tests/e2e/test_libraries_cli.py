"""[D] Two computers, one index, as users run the CLI: each sees its own photos; --all-libraries sees everyone's."""

from __future__ import annotations

import json

from tests.e2e.test_cli import run
from tests.photos import write_photo


def test_two_computers_share_an_index_and_keep_their_photos_apart(cli_env, tmp_path):
    pics = tmp_path / "Pictures"
    for i in range(4):
        write_photo(pics / f"img{i}.jpg", seed=1300 + i)
    desk = cli_env  # this computer: its library id is made on first use and kept in its data dir
    laptop = {**cli_env, "IMGSEARCH_HOME": str(tmp_path / "laptop-home")}  # another one, the same folder paths
    for env in (desk, laptop):
        out = run(env, "index", str(pics))
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1].startswith("indexed 4, unchanged 0, moved 0, removed 0")
    ids = {(tmp_path / home / "data" / "library-id").read_text().strip() for home in ("app-home", "laptop-home")}
    assert len(ids) == 2

    out = run(desk, "index", str(pics))  # the same id on the next run: nothing to do
    assert out.stdout.strip().splitlines()[-1].startswith("indexed 0, unchanged 4"), out.stdout

    query = ("search", "--image", str(pics / "img1.jpg"), "-k", "20")
    own = [json.loads(line) for line in run(desk, *query, "--json").stdout.splitlines()]
    assert len(own) == 4 and own[0]["path"] == str(pics / "img1.jpg")
    assert set(own[0]) == {"path", "score", "image_id", "image_name", "relative_path", "width", "height",
                           "faces", "text_in_photo", "matched"}
    everyone = [json.loads(line) for line in run(desk, *query, "--all-libraries", "--json").stdout.splitlines()]
    assert len(everyone) == 8 and len({h["image_id"] for h in everyone}) == 8
    assert sorted(h["path"] for h in everyone) == sorted(2 * [str(pics / f"img{i}.jpg") for i in range(4)])
    text = run(desk, *query, "--all-libraries").stdout.splitlines()
    assert sum("(library " in line for line in text) == 4  # the laptop's photos say whose they are
