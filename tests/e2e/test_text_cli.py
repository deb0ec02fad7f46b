"""`search --words`, `--text` matching the words in photos, `--has-text` and the JSON fields, as a user types them,
on real photographs with words drawn on them and the real OCR models."""

from __future__ import annotations

import json

from tests.e2e.test_cli import run
from tests.text_photos import need_photos, text_photo


def lines(out) -> list[dict]:
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_words_text_and_has_text_from_the_command_line(cli_env, tmp_path):
    need_photos()
    pics = tmp_path / "Pictures"
    sign = text_photo(pics / "sign.jpg", "Ponte di Rialto", index=2, height=0.08)
    receipt = text_photo(pics / "receipt.jpg", "Lidl receipt", index=0, height=0.08)
    for i in range(3):
        text_photo(pics / f"plain{i}.jpg", "", index=5 + i)
    out = run(cli_env, "index", str(pics), "--no-faces")
    assert out.returncode == 0 and out.stdout.splitlines()[-1].startswith("indexed 5,"), out.stderr

    (hit,) = lines(run(cli_env, "search", "--words", "rial", "--json", "--no-faces"))
    assert hit["path"] == str(sign) and hit["matched"] == "text" and hit["text_in_photo"] == "Ponte di Rialto"
    hits = lines(run(cli_env, "search", "--text", "lidl receipt", "-k", "5", "--json", "--no-faces"))
    assert hits[0]["path"] == str(receipt) and hits[0]["matched"] in ("text", "both") and len(hits) == 5
    assert {h["matched"] for h in hits[1:]} == {"meaning"} and all(-1 <= h["score"] <= 1 for h in hits)
    hits = lines(run(cli_env, "search", "--text", "a photo", "--has-text", "-k", "5", "--json", "--no-faces"))
    assert sorted(h["path"] for h in hits) == sorted([str(sign), str(receipt)])
    out = run(cli_env, "search", "--words", '"rialto ponte"', "--no-faces")
    assert out.returncode == 0 and out.stdout == "" and "no matching photos" in out.stderr
