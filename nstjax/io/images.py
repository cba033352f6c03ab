"""Reading the images people really have, resizing them, and writing results atomically."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from nstjax.io.atomic import write_atomic

# The repository carries every image it reads (data/, each folder with its ATTRIBUTION.md and SHA256SUMS): the
# paper's (tubingen.jpg, starry_night.jpg, ...; NSTJAX_IMAGES overrides) and the benchmark's paintings and photographs.
DATA = Path(__file__).resolve().parents[2] / "data"
PAPER_IMAGES = Path(os.environ.get("NSTJAX_IMAGES", DATA / "images"))
BENCHMARK_IMAGES = DATA / "benchmark"
MIN_SIDE = 32  # five 2×2 poolings: below 32 px relu5_1 has no positions left
ALPHA_BACKGROUND = (255, 255, 255)  # transparent pixels are composited on white

# Loading files that big is a mistake or an attack (decompression bomb); Pillow's default is ~89 Mpx.
Image.MAX_IMAGE_PIXELS = 1 << 28


class ImageError(ValueError):
    """An input image that cannot be used; the message is one line for the user."""


# Photographs that ship with scikit-image, named like paths (``skimage:coffee``) wherever an image is read, so a
# benchmark or a command line can use them without a file (nstjax-compare's benchmarks do).
BUNDLED = "skimage:"
BUNDLED_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")


@functools.lru_cache(maxsize=8)
def bundled(name: str) -> np.ndarray:
    """scikit-image's photograph ``name`` (one of ``BUNDLED_NAMES``), decoded once, read-only; ImageError otherwise."""
    if name not in BUNDLED_NAMES:
        raise ImageError(f"{BUNDLED}{name}: not one of scikit-image's photographs ({', '.join(BUNDLED_NAMES)})")
    import skimage.data

    image = getattr(skimage.data, name)()
    image.setflags(write=False)
    return image


def to_rgb(img: Image.Image) -> np.ndarray:
    """Any PIL image (grayscale, palette, RGBA, 16-bit, CMYK) to uint8 RGB."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        # 16-bit PNGs load as mode I/I;16: scale 0..65535 to 0..255.
        a = np.clip(np.round(a / 257.0), 0, 255).astype(np.uint8)
        img = Image.fromarray(a, "L")
    elif img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        a = np.clip(np.round(a * 255.0 if a.max() <= 1.0 else a), 0, 255).astype(np.uint8)
        img = Image.fromarray(a, "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, ALPHA_BACKGROUND + (255,))
        img = Image.alpha_composite(background, img)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def one_line(message: object) -> str:
    """A message as one line: Pillow's (and a file name's) newlines would split the user's error line."""
    return " ".join(str(message).split())


@contextlib.contextmanager
def _reading(path: str | Path) -> Iterator[Path]:
    """Every step of reading a file (checking the path, the header, EXIF, decoding) inside one guard: whatever
    a damaged or odd file makes Pillow raise becomes one ImageError."""
    # Pillow warns on the way to some failures ("Truncated File Read"): held back, so that the error is the one
    # line the user sees, and passed on when the file reads after all.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield Path(path).expanduser()
        except ImageError:
            raise
        # Pillow's decoders raise many kinds on damaged files (OSError, SyntaxError, ValueError, EOFError,
        # struct.error, IndexError, ...): whatever a file makes them raise is the file's fault, not a bug here.
        except UnidentifiedImageError:
            message = f"not an image (or a damaged one, or a format Pillow cannot read): {path}"
            raise ImageError(one_line(message)) from None
        except Exception as exc:  # noqa: BLE001
            raise ImageError(one_line(f"cannot read image {path}: {exc or type(exc).__name__}")) from None
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def locate(path: str | Path) -> Path:
    """``path`` itself when it exists; otherwise, for a relative path, the repository's image of that name (the
    paper's ``tubingen.jpg``, the benchmark's ``styles/hokusai_great_wave.jpg``), so that the documented commands
    work from any folder of a clone; otherwise ``path`` unchanged (and the reader reports it missing)."""
    path = Path(path).expanduser()
    if path.exists() or path.is_absolute():
        return path
    for root in (PAPER_IMAGES, BENCHMARK_IMAGES):
        if (root / path).is_file():
            return root / path
    return path


def _open(path: Path) -> Image.Image:
    """Opens lazily (header only; nothing decoded); call inside ``_reading``. ``skimage:NAME`` (when no file has
    that name) is the photograph NAME that ships with scikit-image; a relative path no file has is looked up among
    the repository's images (``locate``)."""
    if str(path).startswith(BUNDLED) and not path.exists():
        return Image.fromarray(bundled(str(path)[len(BUNDLED) :]))
    path = locate(path)
    if not path.exists():
        raise ImageError(one_line(f"image not found: {path}"))
    if not path.is_file():
        raise ImageError(one_line(f"not a file: {path}"))
    return Image.open(path)


_TRANSPOSING = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def image_shape(source: str | Path | np.ndarray, what: str = "image") -> tuple[int, int]:
    """(height, width) as the image displays: of a file, read before decoding where the format allows (a PNG's
    EXIF may follow its pixels, so Pillow decodes it to look); of an array, checked. Raises ImageError."""
    if isinstance(source, np.ndarray):
        return as_rgb_array(source, what).shape[:2]
    with _reading(source) as path, _open(path) as img:
        w, h = img.size
        if img.getexif().get(0x0112) in _TRANSPOSING:
            w, h = h, w
    if min(h, w) < 1:
        raise ImageError(f"{what} {source} is empty ({w}×{h} px)")
    return h, w


def load_image(path: str | Path, fit: tuple[int, int] | None = None) -> np.ndarray:
    """Reads an image as uint8 RGB H×W×3, honouring EXIF orientation; raises ImageError with one line.

    ``fit``: the (height, width) it will be resized to; a JPEG much larger than that is decoded at a
    reduced scale (``Image.draft``: 1/2, 1/4 or 1/8, never below ``fit``), so a huge photo costs little memory.
    """
    with _reading(path) as file, _open(file) as img:
        if fit is not None and img.format == "JPEG":
            transposed = img.getexif().get(0x0112) in _TRANSPOSING
            img.draft("RGB", (fit[0], fit[1]) if transposed else (fit[1], fit[0]))
        img.load()
        img = ImageOps.exif_transpose(img)
        image = to_rgb(img)
    if min(image.shape[:2]) < 1:
        raise ImageError(f"image {path} is empty ({image.shape[1]}×{image.shape[0]} px)")
    return image


def as_rgb_array(image: npt.ArrayLike, what: str = "image") -> np.ndarray:
    """A uint8 H×W×3 array given in code (the Python API), checked; raises ImageError with one line."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[-1] not in (3, 4):
        raise ImageError(f"{what} must be a path or a uint8 H×W×3 array, got {a.dtype} {a.shape}")
    if min(a.shape[:2]) < 1:
        raise ImageError(f"{what} is an empty array ({a.shape[1]}×{a.shape[0]} px)")
    return a[..., :3]


def read(source: str | Path | np.ndarray, fit: tuple[int, int] | None = None, what: str = "image") -> np.ndarray:
    """An image given as a path (read with ``load_image``, honouring ``fit``) or as an array (checked)."""
    return as_rgb_array(source, what) if isinstance(source, np.ndarray) else load_image(source, fit=fit)


def longest_side_shape(shape: tuple[int, int], longest: int) -> tuple[int, int]:
    """(height, width) with the longest side ``longest``, keeping the aspect ratio."""
    h, w = shape[:2]
    scale = longest / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_longest(image: np.ndarray, longest: int) -> np.ndarray:
    """Resizes so that the longest side is ``longest`` pixels, keeping the aspect ratio."""
    return resize(image, longest_side_shape(image.shape, longest))


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resizes uint8 RGB to (height, width) with Lanczos (area-averaging first when shrinking a lot)."""
    if image.shape[:2] == tuple(size):
        return image
    img = Image.fromarray(image)
    return np.asarray(img.resize((size[1], size[0]), Image.Resampling.LANCZOS, reducing_gap=3.0))


def check_size(image: np.ndarray, what: str) -> None:
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageError(f"{what} is {w}×{h} px; VGG19 needs at least {MIN_SIDE} px on each side")


def to_uint8(image: npt.ArrayLike) -> np.ndarray:
    return np.clip(np.round(np.asarray(image, dtype=np.float32)), 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="PNG")
    return buf.getvalue()


def save_png(image: npt.ArrayLike, path: str | Path) -> Path:
    """Writes a float 0..255 or uint8 image as PNG, atomically (temporary file, then rename)."""
    path = Path(path)
    data = png_bytes(np.asarray(image))
    write_atomic(path, lambda f: f.write(data))
    return path
