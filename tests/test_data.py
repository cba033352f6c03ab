"""The repository carries every image it reads: the paper's five and the benchmark's paintings and photographs, each
folder with its attribution and pinned checksums; nothing reads ../shared, and benchmarks share one shape by a crop."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nstjax.io import images
from nstjax.run.compare import BENCHMARKS, benchmark, centre_crop, parse_crop
from nstjax.run.config import ConfigError

REPO = Path(__file__).resolve().parent.parent
FOLDERS = (REPO / "data" / "images", REPO / "data" / "benchmark")


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_each_image_folder_is_pinned_and_attributed(folder):
    sums = dict(reversed(line.split(maxsplit=1)) for line in (folder / "SHA256SUMS").read_text().splitlines())
    on_disk = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.jpg"))
    assert sorted(sums) == on_disk and len(on_disk) == {"images": 5, "benchmark": 53}[folder.name]
    attribution = (folder / "ATTRIBUTION.md").read_text()
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
        assert Path(name).name in attribution, f"{name} has no line in {folder.name}/ATTRIBUTION.md"


def test_the_package_finds_its_images_without_anything_beside_the_clone(tmp_path):
    """In a fresh process, from a folder outside the repository, with no NSTJAX_IMAGES: the paper's images and a
    bare name both resolve inside the repository's data/."""
    env = {k: v for k, v in os.environ.items() if k != "NSTJAX_IMAGES"}
    code = (
        "from nstjax.io import images; "
        "print(images.PAPER_IMAGES); print(images.locate('tubingen.jpg')); "
        "print(images.locate('styles/hokusai_great_wave.jpg')); print(images.image_shape('starry_night.jpg'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    paper, tubingen, wave, shape = out.stdout.splitlines()
    assert Path(paper) == REPO / "data" / "images" and Path(tubingen) == REPO / "data" / "images" / "tubingen.jpg"
    assert Path(wave) == REPO / "data" / "benchmark" / "styles" / "hokusai_great_wave.jpg"
    assert shape == str(images.image_shape(REPO / "data" / "images" / "starry_night.jpg"))
    # A name the repository does not carry is still the user's file, reported missing.
    with pytest.raises(images.ImageError, match="image not found: no_such_painting.jpg"):
        images.load_image("no_such_painting.jpg")


def test_nothing_reads_shared_any_more():
    """CI runs on a clone with nothing beside it: no code, config, test or make target points at ../shared."""
    offenders = []
    for folder in ("nstjax", "tests", "configs", "experiments", "scripts", "hydra_plugins"):
        for path in (REPO / folder).rglob("*"):
            if (
                path.name != "test_data.py"
                and path.suffix in (".py", ".yaml", ".yml", ".sh")
                and "../shared" in path.read_text()
            ):
                offenders.append(str(path.relative_to(REPO)))
    for name in ("Makefile", ".ci/run", "pyproject.toml"):
        if "../shared" in (REPO / name).read_text():
            offenders.append(name)
    assert offenders == [], offenders


@pytest.mark.parametrize("name", sorted(p.stem for p in BENCHMARKS.glob("*.yaml")))
def test_every_benchmark_image_is_in_the_repository(name):
    spec = benchmark(name)
    for source in (*spec.contents, *spec.styles):
        if not source.startswith(images.BUNDLED):
            assert Path(source).is_file() and Path(source).is_relative_to(REPO), source


def test_the_verdicts_benchmark_is_one_work_per_artist_and_one_shape():
    spec = benchmark("art_core")
    artists = [Path(s).stem.split("_")[0] for s in spec.styles]
    assert len(spec.styles) == 14 and len(spec.contents) == 8 and spec.crop == "4:3"
    # The paper's two (shipwreck, the_scream) are Turner and Munch; every other stem starts with its artist.
    assert len(set(artists)) == len(artists)
    aspect = parse_crop(spec.crop)
    shapes = {images.longest_side_shape(centre_crop(images.load_image(c), aspect).shape, 64) for c in spec.contents}
    assert shapes == {(48, 64)}


@pytest.mark.parametrize(
    "shape, aspect, window",
    [((300, 451), (4, 3), (300, 400)), ((512, 384), (4, 3), (288, 384)), ((90, 120), (4, 3), (90, 120))],
)
def test_the_centre_crop_is_the_largest_centred_window_of_the_aspect(shape, aspect, window):
    image = np.arange(shape[0] * shape[1] * 3, dtype=np.uint32).reshape(*shape, 3)
    out = centre_crop(image, aspect)
    assert out.shape[:2] == window
    top, left = (shape[0] - window[0]) // 2, (shape[1] - window[1]) // 2
    assert (out == image[top : top + window[0], left : left + window[1]]).all()


@pytest.mark.parametrize("bad", ["4", "4:0", "a:b", "-4:3", "4:3:2"])
def test_a_bad_crop_is_one_line(bad):
    with pytest.raises(ConfigError, match="crop must be an aspect W:H"):
        parse_crop(bad)
