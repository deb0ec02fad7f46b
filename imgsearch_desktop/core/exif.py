"""What a photo's EXIF says, read in one place: date taken, camera, lens, exposure, place (GPS).

Indexing (``images``), the duplicates' compare pane and the preview all read dates and cameras here, so a date is
parsed the same way everywhere. Only the header is parsed: ``facts`` works on the bytes of a file already read, or on
an opened Pillow image, never on a path (the safe open lives in ``images.read_file``).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime

from PIL import Image

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, DATE_TIME = 0x010F, 0x0110, 0x0132
DATE_TIME_ORIGINAL, LENS_MAKE, LENS_MODEL = 0x9003, 0xA433, 0xA434
EXPOSURE_TIME, F_NUMBER, ISO, FOCAL_LENGTH = 0x829A, 0x829D, 0x8827, 0x920A
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4


@dataclass(frozen=True)
class Facts:
    """EXIF facts of one photo; "" (or None) where the file does not say."""

    taken: str | None = None  # ISO 8601 from DateTimeOriginal, else DateTime
    camera: str = ""  # "Canon EOS 80D"
    lens: str = ""  # "EF-S 18-55mm f/3.5-5.6"
    exposure: str = ""  # "f/2.8 · 1/250 s · ISO 200 · 35 mm"
    latitude: float | None = None  # degrees, north positive
    longitude: float | None = None  # degrees, east positive

    @property
    def place(self) -> str:
        """``48.85822° N, 2.29450° E``, or "" without GPS."""
        if self.latitude is None or self.longitude is None:
            return ""
        ns, ew = ("N" if self.latitude >= 0 else "S"), ("E" if self.longitude >= 0 else "W")
        return f"{abs(self.latitude):.5f}° {ns}, {abs(self.longitude):.5f}° {ew}"


def taken_at(exif: Image.Exif) -> str | None:
    """DateTimeOriginal, else DateTime, as ISO 8601; None when absent, unparseable or LibRaw's epoch-zero "no date"."""
    raw = exif.get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL) or exif.get(DATE_TIME)
    if not isinstance(raw, str) or raw.startswith("1970:01:01 00:00:00"):
        return None
    try:
        return datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def camera_name(make: str, model: str) -> str:
    """"Canon" + "Canon EOS 80D" reads "Canon EOS 80D", not "Canon Canon EOS 80D"."""
    make, model = make.strip("\x00 "), model.strip("\x00 ")
    if make and model.lower().startswith(make.split()[0].lower()):
        return model
    return f"{make} {model}".strip()


def of_image(im: Image.Image) -> Facts:
    """The facts of an opened image (its header is enough)."""
    exif = im.getexif()
    sub = exif.get_ifd(EXIF_IFD)
    lat, lon = _coordinate(exif.get_ifd(GPS_IFD), GPS_LAT, GPS_LAT_REF), None
    if lat is not None:
        lon = _coordinate(exif.get_ifd(GPS_IFD), GPS_LON, GPS_LON_REF)
    if lon is None:
        lat = None
    lens = camera_name(_text(sub.get(LENS_MAKE)), _text(sub.get(LENS_MODEL)))
    return Facts(taken_at(exif), camera_name(_text(exif.get(MAKE)), _text(exif.get(MODEL))), lens, _exposure(sub),
                 lat, lon)


def of_bytes(data: bytes) -> Facts:
    """The facts of image bytes; empty Facts when Pillow cannot parse the header (the decode says why)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return of_image(im)
    except Exception:  # any header Pillow cannot read just has no facts; the picture's own decode reports it
        return Facts()


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else ""


def _number(value) -> float | None:
    try:
        number = float(value[0]) / float(value[1]) if isinstance(value, tuple) and len(value) == 2 else float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _coordinate(gps: dict, tag: int, ref_tag: int) -> float | None:
    """Degrees from GPS (degrees, minutes, seconds) rationals and N/S or E/W."""
    parts = gps.get(tag)
    if not isinstance(parts, tuple) or len(parts) != 3:
        return None
    numbers = [_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    degrees = numbers[0] + numbers[1] / 60 + numbers[2] / 3600
    limit = 90 if tag == GPS_LAT else 180
    if degrees > limit:
        return None
    return -degrees if _text(gps.get(ref_tag)).upper() in ("S", "W") else degrees


def _exposure(sub: dict) -> str:
    """``f/2.8 · 1/250 s · ISO 200 · 35 mm`` from what is there."""
    out = []
    if (f := _number(sub.get(F_NUMBER))) is not None and f > 0:
        out.append(f"f/{f:g}")
    if (t := _number(sub.get(EXPOSURE_TIME))) is not None and t > 0:
        out.append(f"1/{round(1 / t)} s" if t < 1 else f"{t:g} s")
    iso = sub.get(ISO)
    if isinstance(iso, tuple) and iso:
        iso = iso[0]
    if isinstance(iso, int) and iso > 0:
        out.append(f"ISO {iso}")
    if (mm := _number(sub.get(FOCAL_LENGTH))) is not None and mm > 0:
        out.append(f"{round(mm, 1):g} mm")
    return " · ".join(out)
