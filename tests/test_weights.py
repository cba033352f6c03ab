"""The weights cache: checksums, refusal of wrong files, corruption, parallel fetches."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import shutil

import numpy as np
import pytest

from nstjax.io import weights


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
    meta = __import__("json").loads(files.meta.read_text())
    assert meta["h5_sha256"] == weights.H5_SHA256
    assert hashlib.sha256(files.npz.read_bytes()).hexdigest() == meta["npz_sha256"]


def _fetch(folder):
    files = weights.fetch(files=weights.CacheFiles.of(folder=folder))
    return weights.sha256_file(files.npz)


def test_corrupted_cache_is_rebuilt_by_parallel_fetches(tmp_path, params):
    """A truncated cache fails its checksum; three processes fetching at once rebuild it once, intact."""
    src = weights.CacheFiles.of()
    dst = weights.CacheFiles.of(folder=tmp_path)
    shutil.copy(src.npz, dst.npz)
    shutil.copy(src.meta, dst.meta)
    assert weights.cache_is_valid(dst)
    with open(dst.npz, "r+b") as f:
        f.truncate(dst.npz.stat().st_size // 2)  # a process killed mid-write, without atomic rename
    assert not weights.cache_is_valid(dst)

    with mp.get_context("spawn").Pool(3) as pool:
        digests = pool.map(_fetch, [tmp_path] * 3)
    assert len(set(digests)) == 1 and weights.cache_is_valid(dst)
    rebuilt = weights.load_params(dst, fetch_missing=False)
    for layer in ("conv1_1", "conv5_4"):
        np.testing.assert_array_equal(rebuilt[layer]["kernel"], params[layer]["kernel"])
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_cli_verify_and_info(capsys, params):
    assert weights.main(["verify"]) == 0
    assert weights.main(["info"]) == 0
    out = capsys.readouterr().out
    assert '"valid": true' in out and weights.H5_SHA256 in out
