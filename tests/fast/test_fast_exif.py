"""core/exif.py and images.decode_for_view: what a photo's EXIF says, read in one place (issue [W]'s preview, and
the date taken that indexing and the compare pane read through the same parser)."""

from __future__ import annotations

import io

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from imgsearch_desktop.core import exif, images
from tests.photos import exif_tagged, picture


def jpeg(tags: dict | None = None, sub: dict | None = None, gps: dict | None = None, size=(64, 48)) -> bytes:
    data = Image.Exif()
    for tag, value in (tags or {}).items():
        data[tag] = value
    for ifd, values in ((exif.EXIF_IFD, sub), (exif.GPS_IFD, gps)):
        for tag, value in (values or {}).items():
            data.get_ifd(ifd)[tag] = value
    out = io.BytesIO()
    picture(1, size).save(out, "JPEG", exif=data.tobytes())
    return out.getvalue()


def test_a_cameras_photo_gives_every_fact(tmp_path):
    facts = exif.of_bytes(images.read_file(exif_tagged(tmp_path / "c.jpg", 3, size=(320, 240))))
    assert facts.taken == "2021-07-14T09:30:00" and facts.camera == "Canon EOS 80D"
    assert facts.lens == "EF-S 18-55mm f/3.5-5.6 IS STM" and facts.exposure == "f/2.8 · 1/250 s · ISO 200 · 35 mm"
    assert facts.place == "48.85822° N, 2.29450° E"


def test_south_and_west_are_negative_and_broken_gps_is_no_place():
    south_west = exif.of_bytes(jpeg(gps={1: "S", 2: (33.0, 51.0, 54.0), 3: "W", 4: (70.0, 40.0, 0.0)}))
    assert round(south_west.latitude, 3) == -33.865 and round(south_west.longitude, 3) == -70.667
    assert south_west.place == "33.86500° S, 70.66667° W"
    for gps in ({1: "N", 2: (48.0, 51.0, 29.6)},  # a latitude without a longitude
                {1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)},  # past the pole
                {1: "N", 2: (IFDRational(1, 0), 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)}):  # a zero denominator
        facts = exif.of_bytes(jpeg(gps=gps))
        assert facts.latitude is None and facts.longitude is None and facts.place == ""


def test_dates_and_cameras_are_read_one_way():
    assert exif.of_bytes(jpeg({exif.DATE_TIME: "2019:06:02 14:31:00"})).taken == "2019-06-02T14:31:00"  # DateTime
    assert exif.of_bytes(jpeg(sub={exif.DATE_TIME_ORIGINAL: "0000:00:00 00:00:00"})).taken is None
    assert exif.of_bytes(jpeg(sub={exif.DATE_TIME_ORIGINAL: "1970:01:01 00:00:00"})).taken is None  # LibRaw's none
    assert exif.camera_name("Canon", "Canon EOS 80D") == "Canon EOS 80D"
    assert exif.camera_name("SONY", "DSC-RX100M4") == "SONY DSC-RX100M4"
    assert exif.camera_name("", "") == "" and exif.of_bytes(jpeg()) == exif.Facts()
    assert exif.of_bytes(b"not an image") == exif.Facts()


def test_the_view_decode_is_full_size_up_to_its_cap_and_oriented():
    data = jpeg({0x0112: 6}, size=(400, 300))  # stored landscape, shown portrait
    full = images.decode_for_view(data)
    assert full.image.size == (300, 400) and (full.width, full.height) == (300, 400)
    small = images.decode_for_view(data, max_pixels=30_000)
    assert small.image.width * small.image.height <= 30_000 and small.image.height > small.image.width
