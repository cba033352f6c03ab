"""No traceback from any input (issue 17): every error raised while reading or checking inputs is one `error:` line
from the CLI and the console scripts, and a one-line ValueError from the Python API, before any work.

Most prefixes are checked in-process through ``cli.read_inputs`` (what the CLI and the API call); a handful go
through the real CLI in subprocesses, each failing before anything is compiled (~3 s each)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import compose_cfg
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import nstjax
from nstjax.entry import score as score_cli
from nstjax.entry import stylize as cli
from nstjax.io import images
from nstjax.run.config import ConfigError, validate

FOUR = {"XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()}


def _encode(fmt: str) -> bytes:
    """A 64×48 noisy image (noise: the compressed data is long enough to cut in many places). The JPEG and
    WebP carry EXIF orientation 6 (displayed 48×64), so reading their shape reads EXIF; the TIFF has alpha."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (48, 64, 4 if fmt == "TIFF" else 3), dtype=np.uint8)
    img = Image.fromarray(pixels)
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(buf, format=fmt, **({"exif": exif.tobytes()} if fmt in ("JPEG", "WEBP") else {}))
    return buf.getvalue()


FILES = {fmt: _encode(fmt) for fmt in ("PNG", "JPEG", "WEBP", "TIFF")}
SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif"}
DISPLAYED = {"PNG": (48, 64), "JPEG": (64, 48), "WEBP": (64, 48), "TIFF": (48, 64)}  # (h, w) at image_size=64


def nstjax_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nstjax.entry.stylize", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error_line(stderr: str) -> str:
    """The single `error:` line of a failed command (asserting there is nothing else: no traceback, no Hydra text)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def run64():
    """The default run at 64 px (content and style: scikit-image's images until replaced)."""
    return validate(compose_cfg("image_size=64", "steps=1"))


@pytest.fixture(scope="module")
def prefixes(tmp_path_factory):
    return tmp_path_factory.mktemp("prefixes")


# ---- every prefix of a valid file: loads, or one ImageError ------------------------------------------------------


@pytest.mark.parametrize("fmt", FILES)
@given(cut=st.one_of(st.integers(0, 400), st.integers(0, max(map(len, FILES.values())))))
def test_every_prefix_of_an_image_loads_or_is_one_image_error(fmt, cut, run64, prefixes):
    data = FILES[fmt]
    cut = min(cut, len(data))
    path = prefixes / f"{fmt}_{cut}{SUFFIX[fmt]}"
    path.write_bytes(data[:cut])
    for role in ("content", "style"):
        run = replace(run64, content=str(path)) if role == "content" else replace(run64, styles=(str(path),))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                inputs = cli.read_inputs(run)
        except images.ImageError as exc:  # raised where the file is read, not by the CLI's catch-all
            assert "\n" not in str(exc) and str(path) in str(exc), (role, exc)
            assert cut < len(data), f"the whole {fmt} file failed: {exc}"
            assert not caught, [str(w.message) for w in caught]  # the one line is all the user sees
            continue
        # Loaded (the whole file, or a prefix Pillow accepts): as the image displays, at the run's size.
        image = inputs.content if role == "content" else inputs.styles[0]
        expected = DISPLAYED[fmt] if role == "content" else inputs.content.shape[:2]
        assert image.dtype == np.uint8 and image.shape == (*expected, 3), (role, cut, image.shape)


def test_the_whole_files_load_and_half_files_do_not(run64, prefixes):
    """The property is not vacuous: the whole files load, EXIF orientation applied; half of each is refused."""
    for fmt, data in FILES.items():
        whole, half = prefixes / f"whole{SUFFIX[fmt]}", prefixes / f"half{SUFFIX[fmt]}"
        whole.write_bytes(data)
        half.write_bytes(data[: len(data) // 2])
        assert cli.read_inputs(replace(run64, content=str(whole))).content.shape == (*DISPLAYED[fmt], 3)
        with pytest.raises(images.ImageError, match="cannot read image"):
            cli.read_inputs(replace(run64, content=str(half)))


def test_a_truncated_png_is_refused_while_reading_its_shape(tmp_path):
    """The regression: a PNG's EXIF may follow its pixels, so reading its shape decodes it; that decode is guarded."""
    data = FILES["PNG"]
    for name in ("t.png", "t.jpg"):  # a PNG named .jpg is opened by its content
        (tmp_path / name).write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(images.ImageError, match="image file is truncated"):
            images.image_shape(tmp_path / name)


# ---- through the real CLI: a handful of prefixes, as content and as style ----------------------------------------


@pytest.mark.parametrize(
    "fmt, role, cut, name",
    [
        ("PNG", "content", 0.7, "cut.jpg"),  # a truncated PNG named .jpg (the case 1)
        ("JPEG", "style", 0.6, "cut.jpg"),
        ("WEBP", "content", 0.4, "cut.webp"),
        ("TIFF", "style", 100, "cut.tif"),  # half its directory: Pillow warns "Truncated File Read" before it gives up
    ],
)
def test_a_truncated_file_through_the_cli_is_one_error_line(tmp_path, fmt, role, cut, name):
    data = FILES[fmt]
    (tmp_path / name).write_bytes(data[: int(len(data) * cut) if cut < 1 else cut])
    out = tmp_path / "run"
    r = nstjax_cli(f"{role}={name}", "image_size=64", "steps=1", f"hydra.run.dir={out}", cwd=tmp_path)
    assert r.returncode == 1
    assert one_error_line(r.stderr).startswith(("error: cannot read image cut.", "error: not an image"))
    assert name in r.stderr
    assert not out.exists()  # nothing half-written


# ---- the other cases ----------------------------------------------------------------------------------------


def test_too_few_rows_per_device_is_one_error_line_before_any_work(tmp_path):
    """shard=spatial, four (forced CPU) devices, a 128 px landscape image: 96 rows, 32 per device needed."""
    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(tmp_path / "land.png")
    out = tmp_path / "run"
    r = nstjax_cli(
        "content=land.png",
        "style=land.png",
        "image_size=128",
        "shard=spatial",
        "steps=1",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
        env=FOUR,
    )
    assert r.returncode == 1
    assert one_error_line(r.stderr) == (
        "error: shard=spatial: the image has 96 rows, too few for 4 devices "
        "(32 rows each at least); use a larger image_size or shard=none"
    )
    assert not out.exists()


def test_too_few_rows_is_checked_with_the_inputs(run64, tmp_path, monkeypatch):
    """In-process, four fake devices: reading the inputs refuses 48 rows (a 64 px landscape), accepts 128."""
    import jax

    from nstjax.run import sharding

    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(tmp_path / "land.png")
    monkeypatch.setattr(sharding.jax, "local_devices", lambda: [jax.devices()[0]] * 4)
    run = replace(run64, shard="spatial", content=str(tmp_path / "land.png"))
    with pytest.raises(ConfigError, match="the image has 48 rows, too few for 4 devices"):
        cli.read_inputs(run)
    assert cli.read_inputs(replace(run, image_size=171)).content.shape == (128, 171, 3)
    assert cli.read_inputs(replace(run, shard="none")).content.shape == (48, 64, 3)


@pytest.mark.parametrize("shape", [(0, 0, 3), (0, 64, 3), (64, 0)])
def test_an_empty_array_is_a_one_line_value_error_from_the_api(shape):
    empty, grey = np.zeros(shape, np.uint8), np.full((64, 64, 3), 128, np.uint8)
    for content, style, which in ((empty, grey, "content"), (grey, empty, "style")):
        with pytest.raises(ValueError, match=rf"^{which} is an empty array \({shape[1]}×{shape[0]} px\)$"):
            nstjax.stylize(content, style, steps=1, image_size=64)
    with pytest.raises(ValueError, match=r"^image is an empty array"):
        nstjax.score(empty, grey, grey)


TRUNCATED = "cannot read image 照片/我的 照片.jpg: image file is truncated"


@pytest.fixture
def unicode_dirs(tmp_path):
    """The issue's paths: a valid image at `dir with spaces ü/ç.png`, a truncated one at `照片/我的 照片.jpg`."""
    (tmp_path / "dir with spaces ü").mkdir()
    (tmp_path / "照片").mkdir()
    (tmp_path / "dir with spaces ü" / "ç.png").write_bytes(FILES["PNG"])
    (tmp_path / "照片" / "我的 照片.jpg").write_bytes(FILES["JPEG"][:1500])
    return tmp_path


def test_unquoted_non_ascii_paths_reach_the_image_reader(unicode_dirs):
    """Unquoted, as a new user types them: the content is read (it is valid), then the style is refused by name
    (it is truncated), so both paths went through Hydra intact; no Hydra lexer error."""
    out = unicode_dirs / "输出 一"
    r = nstjax_cli(
        "content=dir with spaces ü/ç.png",
        "style=照片/我的 照片.jpg",
        "image_size=64",
        "steps=1",
        f"hydra.run.dir={out}",
        cwd=unicode_dirs,
    )
    assert r.returncode == 1
    assert one_error_line(r.stderr).startswith(f"error: {TRUNCATED}")
    assert not out.exists()


def test_non_ascii_paths_through_the_api_and_nstjax_score(unicode_dirs, capsys, monkeypatch):
    monkeypatch.chdir(unicode_dirs)
    good, cut = "dir with spaces ü/ç.png", "照片/我的 照片.jpg"
    with pytest.raises(ValueError, match=f"^{TRUNCATED}"):
        nstjax.stylize(good, cut, style_masks=[cut], steps=1, image_size=64)
    with pytest.raises(ValueError, match=f"^{TRUNCATED}"):
        nstjax.stylize(good, good, style_masks=[cut], steps=1, image_size=64)  # the mask, a list item
    with pytest.raises(ValueError, match=f"^{TRUNCATED}"):
        nstjax.score(good, cut, good)
    assert score_cli.main([cut, "--content", good, "--style", good]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"error: {TRUNCATED}")


def test_nstjax_score_refuses_truncated_and_tiny_images(tmp_path, capsys):
    """Every damaged file through nstjax-score is one line; an image too small to score is refused, not NaN."""
    for fmt, data in FILES.items():
        (tmp_path / f"cut{SUFFIX[fmt]}").write_bytes(data[: len(data) // 3])
        assert score_cli.main([str(tmp_path / f"cut{SUFFIX[fmt]}"), "--content", "x", "--style", "x"]) == 2
        assert "cannot read image" in one_error_line(capsys.readouterr().err)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "tiny.png")
    assert score_cli.main([str(tmp_path / "tiny.png"), "--content", "x", "--style", "x"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == "error: the image to score is 4×4 px; VGG19 needs at least 32 px on each side"


def test_report_and_tune_arguments_fail_in_one_line(tmp_path, capsys):
    from nstjax.entry import report, tune

    (tmp_path / "a.png").write_bytes(FILES["PNG"])
    for target in (tmp_path / "a.png", tmp_path / "目录 无"):
        assert report.main([str(target)]) == 1
        one_error_line(capsys.readouterr().err)
    with pytest.raises(SystemExit):
        tune.main(["--skip-xla", "--sizes", "abc"])
    line = capsys.readouterr().err.splitlines()[-1]
    assert line == "nstjax-tune: error: argument --sizes: expected sizes such as 256,512; got 'abc'"


# ---- the quoting itself ---------------------------------------------------------------------------------------------


def parsed(arg: str):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    override = OverridesParser.create().parse_overrides([arg])[0]
    if override.is_sweep_override():
        return ("sweep", [str(v) if not hasattr(v, "text") else v.text for v in override.value().list])
    return override.value()


@given(st.text())
def test_any_text_round_trips_through_hydras_quoting(text):
    assert parsed(f"content={cli.quote_value(text)}") == text


PATHISH = st.text(st.characters(blacklist_characters=",'\"[]()", blacklist_categories=("Cs",)), min_size=1)


@given(PATHISH.filter(lambda t: t == t.strip() and t != "null" and "${" not in t))
def test_a_path_typed_unquoted_reads_as_that_path(text):
    (arg,) = cli.quote_path_overrides([f"content={text}"])
    assert parsed(arg) == text


@pytest.mark.parametrize(
    "arg, value",
    [
        ("content=照片/我的 照片.jpg", "照片/我的 照片.jpg"),
        ("content=dir with spaces ü/ç.png", "dir with spaces ü/ç.png"),
        ("content=photo (1).jpg", "photo (1).jpg"),
        ("content=2024", "2024"),  # a file named 2024, not the number
        ("content=null", None),
        ("content='my photo.jpg'", "my photo.jpg"),  # quoted by its user: kept
        ("style=[a.jpg,照片.jpg]", ["a.jpg", "照片.jpg"]),
        ("style_masks=[天空.png, 地面.png]", ["天空.png", "地面.png"]),
        ("style=a.jpg,照片.jpg", ("sweep", ["a.jpg", "照片.jpg"])),
        ("style=choice(a.jpg,é.jpg)", ("sweep", ["a.jpg", "é.jpg"])),
        ("contents=[照片/一.jpg,照片/二.jpg]", ["照片/一.jpg", "照片/二.jpg"]),  # nstjax-compare's keys
        ("hydra.run.dir=输出/${now:%H}", "输出/${now:%H}"),
    ],
)
def test_path_keys_are_quoted_keeping_hydras_syntax(arg, value):
    (quoted,) = cli.quote_path_overrides([arg])
    assert parsed(quoted) == value


def test_plain_values_and_other_keys_are_left_as_typed():
    argv = ["-m", "content=photo.jpg", "style=[a.jpg,b.jpg]", "pooling=max,avg", "logger.project=中文"]
    assert cli.quote_path_overrides(argv) == argv


def test_a_value_hydra_cannot_read_shows_the_override_that_works():
    with pytest.raises(ConfigError) as info:
        cli.check_overrides(["logger.project=中文"])
    message = str(info.value)
    assert "\n" not in message and message.endswith("""Hydra needs that value quoted: "logger.project='中文'\"""")
    assert parsed("logger.project='中文'") == "中文"


def test_a_quoted_path_composes_to_the_path(unicode_dirs):
    cfg = compose_cfg(*cli.quote_path_overrides(["content=照片/我的 照片.jpg", "style=[a b.png,ç.png]"]))
    assert cfg.content == "照片/我的 照片.jpg" and list(cfg.style) == ["a b.png", "ç.png"]
