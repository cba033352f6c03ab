"""Images people really have: every mode, EXIF rotation, odd shapes; and atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from nstjax.io import images


def gradient(h=40, w=60):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 90)], -1).astype(np.uint8)


def test_grayscale_becomes_rgb(tmp_path):
    Image.fromarray(gradient()[..., 0]).save(tmp_path / "g.png")
    a = images.load_image(tmp_path / "g.png")
    assert a.shape == (40, 60, 3) and a.dtype == np.uint8 and (a[..., 0] == a[..., 2]).all()


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :30, 3] = 255  # left half opaque red, right half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    a = images.load_image(tmp_path / "a.png")
    assert (a[:, :30] == [200, 0, 0]).all() and (a[:, 30:] == 255).all()


def test_palette_image(tmp_path):
    Image.fromarray(gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(tmp_path / "p.png")
    a = images.load_image(tmp_path / "p.png")
    assert a.shape == (40, 60, 3) and np.abs(a.astype(int) - gradient()).mean() < 20


def test_sixteen_bit_png_is_scaled(tmp_path):
    data = (np.linspace(0, 65535, 40 * 60).reshape(40, 60)).astype(np.uint16)
    Image.fromarray(data).save(tmp_path / "d.png")
    a = images.load_image(tmp_path / "d.png")
    assert a[0, 0, 0] == 0 and a[-1, -1, 0] == 255
    np.testing.assert_allclose(a[..., 0], np.round(data / 257.0), atol=1)


def test_cmyk_jpeg(tmp_path):
    Image.fromarray(gradient()).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    a = images.load_image(tmp_path / "c.jpg")
    assert a.shape == (40, 60, 3) and np.abs(a.astype(int) - gradient()).mean() < 12


def test_exif_orientation_is_honoured(tmp_path):
    img = Image.fromarray(gradient(40, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display", as phones write
    img.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    a = images.load_image(tmp_path / "phone.jpg")
    assert a.shape == (60, 40, 3)
    # Displayed upright: the old left edge (dark red) is now the top row.
    assert a[0].mean(axis=0)[0] < a[-1].mean(axis=0)[0]


def test_truncated_file_is_an_error(tmp_path):
    Image.fromarray(gradient(200, 200)).save(tmp_path / "t.jpg")
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(images.ImageError, match="cannot read image"):
        images.load_image(tmp_path / "t.jpg")


def test_too_small_is_an_error():
    with pytest.raises(images.ImageError, match="at least 32 px"):
        images.check_size(np.zeros((20, 300, 3), np.uint8), "content")


@given(h=st.integers(1, 400), w=st.integers(1, 400), longest=st.integers(32, 300))
def test_resize_keeps_aspect(h, w, longest):
    out = images.resize_longest(np.zeros((h, w, 3), np.uint8), longest)
    assert max(out.shape[:2]) == longest
    assert abs(out.shape[0] / out.shape[1] - h / w) <= 1.0 / min(out.shape[:2]) * max(1, h / w) + 1e-9


def displayed(img: Image.Image) -> np.ndarray:
    """What an image shows, as uint8 RGB, computed from its own bands rather than by the loader's path: grey
    bands repeated, palette indices looked up, 16-bit values scaled by 255/65535, 1-bit as 0 or 255, and
    transparency composited on white."""
    mode = img.mode
    if mode == "I;16":
        grey = np.round(np.asarray(img, dtype=np.float64) / 257.0)
        return np.repeat(grey[..., None], 3, -1).astype(np.uint8)
    if mode == "1":
        return np.repeat(np.where(np.asarray(img), 255, 0)[..., None], 3, -1).astype(np.uint8)
    if mode == "P":
        palette = np.asarray(img.getpalette(), np.uint8).reshape(-1, 3)
        return palette[np.asarray(img)]
    if mode == "CMYK":
        return np.asarray(img.convert("RGB"))  # Pillow's CMYK → RGB is the definition a viewer applies
    bands = np.asarray(img, dtype=np.float64).reshape(img.height, img.width, -1)
    colour = bands[..., :3] if mode in ("RGB", "RGBA") else np.repeat(bands[..., :1], 3, -1)
    if mode in ("LA", "RGBA"):
        alpha = bands[..., -1:] / 255.0
        colour = colour * alpha + 255.0 * (1.0 - alpha)
    return np.round(colour).astype(np.uint8)


@given(
    mode=st.sampled_from(["L", "LA", "RGB", "RGBA", "P", "I;16", "CMYK", "1"]),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_any_mode_loads_as_the_rgb_it_displays(tmp_path_factory, mode, h, w, seed):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if mode == "I;16":  # the full 16-bit range, not only multiples of 257
        img = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    else:
        img = Image.fromarray(rgb).convert(mode)
    if mode in ("LA", "RGBA"):  # partly transparent
        img.putalpha(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)))
    path = tmp_path_factory.mktemp("m") / ("x.tiff" if mode in ("CMYK", "I;16") else "x.png")
    img.save(path)
    with Image.open(path) as saved:
        assert saved.mode == mode  # the file holds what this example means to test
        expected = displayed(saved)
    a = images.load_image(path)
    assert a.shape == (h, w, 3) and a.dtype == np.uint8
    # Alpha compositing rounds once in Pillow and once here: at most one grey level apart.
    assert np.abs(a.astype(int) - expected).max() <= (1 if mode in ("LA", "RGBA") else 0)


def test_save_png_is_atomic_and_round_trips(tmp_path):
    x = np.random.default_rng(0).uniform(-20, 300, (17, 23, 3))
    path = images.save_png(x, tmp_path / "o.png")
    back = np.asarray(Image.open(path))
    assert (back == np.clip(np.round(x), 0, 255)).all()
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]  # no temporary left behind
