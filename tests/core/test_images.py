"""Safe loading: every bad-file kind is skipped with a reason; odd-but-valid images come out as correct RGB."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgsearch_desktop.core import images
from imgsearch_desktop.core.images import ImageSkipped, load_file
from tests.photos import exif_rotated, picture, write_dng, write_photo

TARGET = 64


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width×height pixels (a decompression bomb) with almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


def reason(path: Path) -> str:
    with pytest.raises(ImageSkipped) as info:
        load_file(path, TARGET)
    return str(info.value)


@pytest.mark.parametrize(("make", "expected"), [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("this is not a photo\n"), "not an image"),
    (lambda p: p.write_bytes(np.random.default_rng(1).bytes(4096)), "not an image"),
    (lambda p: p.write_bytes(write_photo(p.with_suffix(".full.jpg"), 1).read_bytes()[:3000]), "truncated"),
    (lambda p: _png_header_only(p, 20_000, 20_000), "too large"),
    pytest.param(lambda p: _png_header_only(p, 14_000, 12_000), "too large",  # Pillow warns, does not raise
                 marks=pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")),
    (lambda p: picture(2).save(p, "PCX"), "unsupported format PCX"),
])
def test_bad_files_are_skipped_with_a_reason(tmp_path, make, expected):
    path = tmp_path / "bad.jpg"
    make(path)
    assert expected in reason(path)


@pytest.mark.parametrize("action", ["ignore", "error"])
def test_bombs_are_skipped_whatever_the_warnings_filter(tmp_path, action):
    """No warnings filter is needed (nor installed at import): the header's size check refuses the image."""
    check = ("import warnings; from imgsearch_desktop.core import images; "
             "assert not [f for f in warnings.filters if f[2] is images.Image.DecompressionBombWarning]")
    subprocess.run([sys.executable, "-c", check], check=True, cwd=Path(__file__).parents[2])
    path = _png_header_only(tmp_path / "bomb.png", 14_000, 12_000)  # Pillow only warns: 168 MP < 2 × 150 MP
    with warnings.catch_warnings():
        warnings.simplefilter(action, Image.DecompressionBombWarning)
        assert "too large" in reason(path)
        with pytest.raises(ImageSkipped, match="too large"):
            images.picture_views(path)


def test_vanished_file_and_symlink_loop(tmp_path):
    assert "vanished" in reason(tmp_path / "gone.jpg")
    loop = tmp_path / "loop.jpg"
    os.symlink(loop, loop)
    assert "symlink loop" in reason(loop)


def test_permission_denied(tmp_path):
    path = write_photo(tmp_path / "secret.jpg", 3)
    path.chmod(0)
    if os.geteuid() != 0:
        assert "permission denied" in reason(path)
        return
    # Root reads anything: ask as an ordinary user (effective uid only, restored right after).
    import pwd

    tmp_path.chmod(0o755)
    nobody = pwd.getpwnam("nobody")
    os.setegid(nobody.pw_gid)
    os.seteuid(nobody.pw_uid)
    try:
        with pytest.raises(ImageSkipped) as info:
            load_file(path, TARGET)
    finally:
        os.seteuid(0)
        os.setegid(0)
    assert "permission denied" in str(info.value)


def test_exif_orientation_size_and_date(tmp_path):
    path = exif_rotated(tmp_path / "rot.jpg", 4, orientation=6, size=(320, 240))
    loaded = load_file(path, TARGET).loaded
    assert (loaded.width, loaded.height) == (240, 320)  # as displayed
    assert loaded.image.height > loaded.image.width  # the pixels were turned, not just the numbers
    assert loaded.taken_at == "2021-07-14T09:30:00"
    # Orientation 6 means "rotate 90° clockwise to display": the stored left column becomes the top row.
    stored = picture(4, (320, 240))
    expected = stored.transpose(Image.Transpose.ROTATE_270).resize(loaded.image.size)
    diff = np.abs(np.asarray(expected, dtype=int) - np.asarray(loaded.image, dtype=int)).mean()
    assert diff < 20


def test_large_jpeg_is_drafted_to_model_size(tmp_path):
    path = write_photo(tmp_path / "big.jpg", 5, size=(2400, 1600), quality=90)
    loaded = load_file(path, TARGET).loaded
    assert (loaded.width, loaded.height) == (2400, 1600)  # original size recorded before draft()
    assert min(loaded.image.size) == TARGET
    assert loaded.image.mode == "RGB"


def test_cmyk_converts_to_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (100, 80), (255, 0, 0, 0)).save(path, "JPEG")  # pure cyan
    rgb = np.asarray(load_file(path, TARGET).loaded.image).reshape(-1, 3).mean(axis=0)
    assert rgb[0] < 40 and rgb[1] > 200 and rgb[2] > 200


def test_16bit_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (16, 1))
    Image.fromarray(ramp).save(path)
    arr = np.asarray(load_file(path, 1000).loaded.image)[..., 0]
    assert arr.min() <= 2 and arr.max() >= 253
    assert 100 < arr[:, 128].mean() < 156  # mid-grey stays mid-grey (clipping would make it white)


def test_palette_transparency_on_white(tmp_path):
    path = tmp_path / "pal.png"
    im = Image.new("P", (40, 40), 0)
    im.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    im.paste(1, (0, 0, 20, 40))
    im.info["transparency"] = 0
    im.save(path, transparency=0)
    arr = np.asarray(load_file(path, TARGET).loaded.image)
    assert tuple(arr[20, 35]) == (255, 255, 255)  # transparent → white, not black
    assert arr[20, 5, 0] > 150 and arr[20, 5, 1] < 80


def test_animated_gif_uses_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (30, 30), c) for c in ((220, 0, 0), (0, 0, 220))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    arr = np.asarray(load_file(path, TARGET).loaded.image)
    assert arr[..., 0].mean() > 150 and arr[..., 2].mean() < 60


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP", "TIFF", "AVIF"])
def test_allowlisted_formats_load(tmp_path, fmt):
    path = write_photo(tmp_path / f"p.{fmt.lower()}", 6, fmt=fmt)
    loaded = load_file(path, TARGET).loaded
    assert loaded.format == fmt and loaded.image.mode == "RGB" and (loaded.width, loaded.height) == (320, 240)


def test_heic_loads_when_extra_installed(tmp_path):
    if not images.HEIF:
        pytest.skip("pillow-heif not installed")
    path = write_photo(tmp_path / "p.heic", 7, fmt="HEIF")
    assert load_file(path, TARGET).loaded.format == "HEIF"


def test_camera_raw_uses_its_embedded_preview(tmp_path):
    if images.rawpy is None:
        pytest.skip("rawpy not installed")
    dng = write_dng(tmp_path / "IMG_0001.DNG", 11)
    loaded = load_file(dng, TARGET).loaded
    assert (loaded.width, loaded.height) == (320, 240) and loaded.image.mode == "RGB"
    assert loaded.taken_at is None  # LibRaw stamps its preview with the epoch: not a date the photo was taken
    jpeg = load_file(write_photo(tmp_path / "same.jpg", 11, quality=85), TARGET).loaded
    assert images.perceptual_hash(loaded.image) == images.perceptual_hash(jpeg.image)  # the same picture
    broken = tmp_path / "broken.nef"
    broken.write_bytes(dng.read_bytes()[:200])
    with pytest.raises(ImageSkipped, match="camera RAW without a readable preview"):
        load_file(broken, TARGET)


def test_perceptual_hash_is_256_bits():
    h = images.perceptual_hash(picture(8))
    assert len(h) == 64 and int(h, 16) >= 0
    assert images.perceptual_hash(picture(8).resize((160, 120))) != images.perceptual_hash(picture(9))


def test_perceptual_hash_is_imagehash_phash():
    """Our numpy DCT gives imagehash's phash bit for bit (indexes made with either agree)."""
    imagehash = pytest.importorskip("imagehash")
    shapes = [(320, 240), (240, 320), (64, 64), (17, 901), (1000, 750)]
    for seed in range(30):
        im = picture(seed, shapes[seed % len(shapes)])
        if seed % 3 == 0:
            im = im.convert("L")
        assert images.perceptual_hash(im) == str(imagehash.phash(im, hash_size=images.PHASH_SIZE))


def test_fifos_sockets_and_devices_are_skipped_without_blocking(tmp_path):
    import socket

    fifo = tmp_path / "waiting.jpg"
    os.mkfifo(fifo)  # reading it would block until a writer comes: forever
    assert "not a regular file (a FIFO)" in reason(fifo)
    sock = tmp_path / "listening.jpg"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    try:
        assert "not a regular file (a socket)" in reason(sock)
    finally:
        server.close()
    link = tmp_path / "zero.jpg"
    link.symlink_to("/dev/zero")  # never ends
    assert "not a regular file (a device)" in reason(link)


def test_a_huge_non_image_is_refused_after_reading_its_header_only(tmp_path, monkeypatch):
    big = tmp_path / "backup.tif"
    with big.open("wb") as fh:  # sparse: 1.5 GB of apparent size, almost nothing on disk
        fh.write(b"not a tiff at all")
        fh.truncate(1_500_000_000)
    read_sizes = []
    real_open = open

    class CountingFile:
        def __init__(self, fh):
            self.fh = fh

        def read(self, n=-1):
            data = self.fh.read(n)
            read_sizes.append(len(data))
            return data

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(images, "open", lambda *a, **k: CountingFile(real_open(*a, **k)), raising=False)
    assert "too large to be a photo" in reason(big) or "not an image" in reason(big)
    with big.open("r+b") as fh:
        fh.truncate(900_000_000)  # under the size cap: the header decides, the rest is never read
    read_sizes.clear()
    assert "not an image" in reason(big)
    assert read_sizes and sum(read_sizes) < 1_000_000


def test_an_extreme_strip_is_centre_cropped_not_blown_up(tmp_path):
    path = tmp_path / "strip.png"
    Image.new("RGB", (1, 100_000), (200, 30, 30)).save(path)  # 475 bytes that once took 7.75 GB
    loaded = load_file(path, TARGET).loaded
    assert (loaded.width, loaded.height) == (1, 100_000)  # the file's real size is still reported
    assert max(loaded.image.size) <= images.MAX_ASPECT * min(loaded.image.size)
    wide = write_photo(tmp_path / "pano.jpg", 4, size=(1600, 400))  # an ordinary 4:1 panorama is left whole
    image = load_file(wide, TARGET).loaded.image
    assert image.size == (256, 64)


def test_a_file_that_reads_too_slowly_is_skipped_with_a_reason(tmp_path, monkeypatch):
    path = write_photo(tmp_path / "on-a-slow-share.jpg", 5, size=(640, 480))
    monkeypatch.setattr(images, "READ_CHUNK", 1024)  # several chunks, and a deadline already passed after one
    monkeypatch.setattr(images, "READ_TIMEOUT", -1.0)
    assert "too slow to read" in reason(path)
    monkeypatch.setattr(images, "READ_TIMEOUT", 60.0)
    assert load_file(path, TARGET).loaded.width == 640
