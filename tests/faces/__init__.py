"""Real face photographs the tests carry (sources and licences in README.md here)."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

HERE = Path(__file__).parent
OBAMA = ["obama.jpg", "obama2.jpg", "obama3.jpg"]  # three different photographs (2012, 2009, 2010) of one person
BIDEN = "biden.jpg"
ASTRONAUT = "astronaut.png"


def face_library(folder: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Copy the face photos into ``folder``: name → path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names or [*OBAMA, BIDEN, ASTRONAUT]:
        out[name] = Path(shutil.copy(HERE / name, folder / name))
    return out


def two_faces(path: Path, left: str = "obama.jpg", right: str = "obama2.jpg") -> Path:
    """One photo with two faces side by side (here: two photographs of one person, the hardest case for
    "two faces of one photo are never one person")."""
    a, b = (Image.open(HERE / n).convert("RGB") for n in (left, right))
    height = 600
    a, b = (im.resize((round(im.width * height / im.height), height)) for im in (a, b))
    canvas = Image.new("RGB", (a.width + b.width, height), "white")
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, quality=92)
    return path
