"""Every kind of bad or unusual input image either works or raises one clear ImageError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import malformed
from emotion.imageio import MAX_PIXELS, ImageError, read_image


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def photo() -> Image.Image:
    """A 60x40 RGB image whose left half is red, right half blue."""
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:, :30, 0] = 255
    arr[:, 30:, 2] = 255
    return Image.fromarray(arr)


def test_rgb_jpeg_becomes_bgr(tmp_path, photo):
    path = tmp_path / "p.jpg"
    photo.save(path, quality=95)
    img = read_image(path)
    assert img.shape == (40, 60, 3) and img.dtype == np.uint8
    assert img[20, 5, 2] > 200 and img[20, 5, 0] < 60  # red lands in channel 2 (BGR)


def test_phone_formats_heic_and_avif_are_read(photo):
    """iPhones save HEIC and some Android phones AVIF: both decode like a JPEG."""
    import pillow_heif  # the tests' HEIC encoder; the product only decodes (pi-heif)

    heic = io.BytesIO()
    pillow_heif.from_pillow(photo).save(heic, quality=95)
    for data, name in ((heic.getvalue(), "p.heic"), (encode(photo, "AVIF", quality=95), "p.avif")):
        img = read_image(data, name=name)
        assert img.shape == (40, 60, 3) and img.dtype == np.uint8
        assert img[20, 5, 2] > 200 and img[20, 5, 0] < 60 and img[20, 55, 0] > 200  # red left, blue right (BGR)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "LA", "1"])
def test_modes_become_three_channel_uint8(mode, photo):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    img = read_image(encode(photo.convert(mode), fmt), name=f"x.{fmt.lower()}")
    assert img.shape == (40, 60, 3) and img.dtype == np.uint8


def test_sixteen_bit_png_scaled_to_eight_bit():
    arr = np.full((10, 10), 65535, np.uint16)
    arr[:, :5] = 0
    img = read_image(encode(Image.fromarray(arr), "PNG"))
    assert img.dtype == np.uint8 and img[0, 9, 0] == 255 and img[0, 0, 0] == 0


def test_transparent_pixels_composited_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    img = read_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert (img == 255).all()


def test_exif_rotation_applied(photo):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img = read_image(encode(photo, "JPEG", exif=exif.tobytes()))
    assert img.shape == (60, 40, 3)


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "TIFF", "GIF"])
def test_other_formats(fmt, photo):
    assert read_image(encode(photo, fmt)).shape == (40, 60, 3)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match=r"nope\.jpg: no such file"):
        read_image(tmp_path / "nope.jpg")


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty.png: the file is empty"):
        read_image(tmp_path / "empty.png")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("hello, I am text\n" * 20)
    with pytest.raises(ImageError, match="notes.jpg: not a readable image"):
        read_image(tmp_path / "notes.jpg")


def test_unsupported_format(tmp_path):
    (tmp_path / "face.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    with pytest.raises(ImageError, match="unsupported format"):
        read_image(tmp_path / "face.svg")


def test_truncated_jpeg(tmp_path, photo):
    data = encode(photo.resize((600, 400)), "JPEG")
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.jpg: the image is damaged or truncated"):
        read_image(tmp_path / "cut.jpg")


def test_decompression_bomb_refused_before_decoding():
    side = int(MAX_PIXELS**0.5) + 100
    data = encode(Image.new("L", (side, side)), "PNG")  # a few KB that would decode to > 50 MP
    with pytest.raises(ImageError, match="megapixel limit"):
        read_image(data, name="bomb.png")


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="is a folder"):
        read_image(tmp_path)


def test_messages_are_one_line(tmp_path, photo):
    data = encode(photo.resize((600, 400)), "JPEG")
    (tmp_path / "cut.jpg").write_bytes(data[:300])
    for bad in (tmp_path / "cut.jpg", tmp_path / "missing.png"):
        with pytest.raises(ImageError) as err:
            read_image(bad)
        assert "\n" not in str(err.value)


def test_over_pillows_own_limit_is_named_as_too_large_not_unknown():
    """A 100-megapixel photo (over twice Pillow's bomb limit) is refused for its size, not called unreadable."""
    data = encode(Image.new("L", (10_000, 10_000)), "PNG")
    with pytest.raises(ImageError, match="over the 50 megapixel limit"):
        read_image(data, name="huge.png")


def test_high_bit_depth_counts_against_the_decoding_budget(monkeypatch):
    """Memory and time grow with bytes per pixel: a 16-bit image of the same size costs twice an 8-bit one."""
    import emotion.imageio

    monkeypatch.setattr(emotion.imageio, "MAX_DECODED_BYTES", 1_500_000)
    assert read_image(encode(Image.new("L", (1000, 1000)), "PNG")).shape == (1000, 1000, 3)
    sixteen = Image.fromarray(np.full((1000, 1000), 40000, np.uint16))
    with pytest.raises(ImageError, match=r"1000x1000 pixels in I;16 mode, 2 MB decoded, over the 1 MB limit"):
        read_image(encode(sixteen, "PNG"), name="deep.png")


def test_seeded_malformed_images_give_an_image_or_one_line_quickly(tmp_path, photo, capsys):
    """Valid photos in six formats, cut short, bit-flipped or behind another format's magic bytes: each is an
    image or one ImageError line, within 10 s, and the CLI reports every file and goes on."""
    import time

    from emotion.cli import main

    rng = np.random.default_rng(5)
    small = photo.resize((160, 120))
    encoded = [encode(small, fmt) for fmt in ("JPEG", "PNG", "GIF", "TIFF", "BMP", "WEBP")]
    files = []
    for i in range(48):
        files.append(tmp_path / f"fuzz{i}.img")
        files[-1].write_bytes(malformed(encoded, i, rng, header=16, noise=4000))
    for path in files:
        start = time.perf_counter()
        try:
            image = read_image(path)
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        except ImageError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
        assert time.perf_counter() - start < 10, path
    code = main(["predict", *map(str, files), "--json", "--finder", "live"])
    out = capsys.readouterr()
    assert code in (0, 2) and "Traceback" not in out.err
    import json

    assert [r["image"] for r in json.loads(out.out)] == list(map(str, files))
