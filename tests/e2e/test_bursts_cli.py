"""`dupes --level burst --json` as a script sees it: one burst of a real photograph, the pick its undamaged frame,
each file's scores."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from tests import burst_frames as bf
from tests.e2e.test_cli import run


@pytest.mark.skipif(not bf.PHOTOS[0].exists(), reason="mate-backgrounds not installed")
def test_burst_json_lines(cli_env, tmp_path):
    frames, clean = bf.write_burst(tmp_path / "burst", bf.load(bf.BACKGROUNDS / "nature" / "Garden.jpg"),
                                   datetime(2024, 7, 1, 9, 0, 0), ["motion 9 px", "blur σ2.5"],
                                   np.random.default_rng(3), clean_at=1)
    assert run(cli_env, "index", "--no-faces", str(tmp_path / "burst")).returncode == 0
    out = run(cli_env, "dupes", "--level", "burst", "--json")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    group = json.loads(line)
    assert group["level"] == "burst" and group["keep"] == str(clean) and group["why"].startswith("sharpest")
    assert sorted(f["path"] for f in group["files"]) == sorted(map(str, frames))
    for f in group["files"]:
        assert {"sharpness", "exposure", "eyes"} <= set(f["scores"]) and f["scores"]["eyes"] is None
    pick = next(f for f in group["files"] if f["path"] == str(clean))
    assert all(pick["scores"]["sharpness"] > f["scores"]["sharpness"] for f in group["files"] if f is not pick)
    near = run(cli_env, "dupes", "--level", "similar", "--threshold", "0.5", "--json")
    assert near.returncode == 0 and near.stdout.strip() == ""  # the frames are a burst, not similar shots
