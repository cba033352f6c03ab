"""Several local devices: which device a job uses, and how a batch or one large image is split over them.

Three ways, all through ``jax.sharding`` (XLA's SPMD partitioner does the communication):

* a batched sweep (``nstjax.run.batch``) splits its runs over the devices along the batch axis;
* parallel launchers (joblib, submitit) give each job one device, round robin by job number;
* ``shard=spatial`` splits one image's rows over the devices (the convolutions exchange their halos), so
  an image too large for one device's memory runs on several.

On a CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` makes four devices to test all three.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P


def describe(devices: Iterable[jax.Device]) -> list[str]:
    """What summary.json records: one ``platform:id`` per device used."""
    return [f"{d.platform}:{d.id}" for d in devices]


def job_device(job_num: int | None) -> jax.Device | None:
    """The device of job ``job_num`` of a parallel sweep: round robin over the local devices (None: default)."""
    devices = jax.local_devices()
    if job_num is None or len(devices) == 1:
        return None
    return devices[job_num % len(devices)]


@contextlib.contextmanager
def on_device(device: jax.Device | None) -> Iterator[None]:
    """Everything created inside runs on ``device`` (the default device when None)."""
    if device is None:
        yield
    else:
        with jax.default_device(device):
            yield


def batch_mesh(runs: int) -> Mesh | None:
    """A mesh over as many local devices as divide the batch evenly (None when that is one)."""
    devices = jax.local_devices()
    count = max(d for d in range(1, len(devices) + 1) if runs % d == 0)
    return None if count == 1 else Mesh(np.array(devices[:count]), ("batch",))


ROWS_PER_DEVICE = 32  # one row of relu5_1 per device after five 2×2 poolings


def check_rows(height: int) -> None:
    """``shard=spatial`` with an image of ``height`` rows: enough for every local device, else ConfigError
    (checked with the run's other inputs, before any work)."""
    from nstjax.run.config import ConfigError

    count = len(jax.local_devices())
    if count > 1 and height < ROWS_PER_DEVICE * count:
        raise ConfigError(
            f"shard=spatial: the image has {height} rows, too few for {count} devices "
            f"({ROWS_PER_DEVICE} rows each at least); use a larger image_size or shard=none"
        )


def rows_mesh(height: int) -> Mesh | None:
    """A mesh over the local devices for splitting an image's rows (None with one device)."""
    devices = jax.local_devices()
    if len(devices) == 1:
        return None
    check_rows(height)
    return Mesh(np.array(devices), ("rows",))


def split(tree: Any, mesh: Mesh, axis_name: str, axis: int = 0) -> Any:
    """Places every array of ``tree`` split along ``axis`` over the mesh."""
    spec = P(*([None] * axis + [axis_name]))
    return jax.device_put(tree, NamedSharding(mesh, spec))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places a full copy of ``tree`` on every device of the mesh (weights, targets)."""
    return jax.device_put(tree, NamedSharding(mesh, P()))


def devices_of(array: jax.Array) -> list[str]:
    return describe(sorted(array.sharding.device_set, key=lambda d: d.id))
