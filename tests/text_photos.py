"""Real photographs with words drawn on them (Debian's wallpapers: mate-backgrounds; fonts: fonts-dejavu-core), for
the text-in-photos tests and benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

BACKGROUNDS = Path("/usr/share/backgrounds/mate/nature")
PHOTOS = ["Blinds.jpg", "YellowFlower.jpg", "Storm.jpg", "Wood.jpg", "RainDrops.jpg", "TwoWings.jpg", "Dune.jpg",
          "GreenMeadow.jpg", "LadyBird.jpg", "Garden.jpg", "Aqua.jpg", "FreshFlower.jpg"]
FONTS = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = ["DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSans.ttf"]


def need_photos() -> None:
    if not (BACKGROUNDS / PHOTOS[0]).exists() or not (FONTS / FONT_FILES[0]).exists():
        pytest.skip("needs the mate-backgrounds and fonts-dejavu-core packages (scripts/setup.sh WITH_TEST_TOOLS=1)")


def background(index: int, size: tuple[int, int]) -> Image.Image:
    """Photograph ``index`` (mod the set), cropped to ``size``'s aspect and resized to it."""
    with Image.open(BACKGROUNDS / PHOTOS[index % len(PHOTOS)]) as im:
        im = im.convert("RGB")
    w, h = size
    scale = max(w / im.width, h / im.height)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    left, top = (im.width - w) // 2, (im.height - h) // 2
    return im.crop((left, top, left + w, top + h))


def draw_words(image: Image.Image, words: str, at: tuple[float, float] = (0.08, 0.4), height: float = 0.07,
               font: str = FONT_FILES[0], fill: str = "white", outline: str | None = "black",
               angle: float = 0.0) -> tuple[int, int, int, int]:
    """Draw ``words`` on ``image`` (in place), the letters ``height`` of the image's height, top left at ``at``
    (fractions), turned ``angle`` degrees counter-clockwise; returns the box [x, y, w, h] they cover."""
    size = max(8, round(image.height * height))
    face = ImageFont.truetype(str(FONTS / font), size)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    x, y = round(at[0] * image.width), round(at[1] * image.height)
    stroke = max(1, size // 20) if outline else 0
    draw.text((x, y), words, font=face, fill=fill, stroke_width=stroke, stroke_fill=outline)
    if angle:
        left, top, right, bottom = draw.textbbox((x, y), words, font=face, stroke_width=stroke)
        layer = layer.rotate(angle, center=((left + right) / 2, (top + bottom) / 2), resample=Image.Resampling.BICUBIC)
    image.paste(layer, (0, 0), layer)
    left, top, right, bottom = layer.getbbox() or (0, 0, 0, 0)
    return left, top, right - left, bottom - top


def text_photo(path: Path, words: str, index: int = 0, size: tuple[int, int] = (960, 640), **kwargs) -> Path:
    """A photograph with ``words`` on it, saved as a JPEG at ``path``."""
    image = background(index, size)
    if words:
        draw_words(image, words, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=90)
    return path
