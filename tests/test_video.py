"""nstjax-video against known truth: clips made by moving a camera window over a still photograph, whose
flow is exact (nstjax.video.synthetic); runs at 48×64 px, 4 frames, 10 L-BFGS steps a frame."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import skimage.data

from nstjax.io.images import ImageError, save_png
from nstjax.run.config import ConfigError
from nstjax.video import flow, io, synthetic
from nstjax.video.warp import long_term_weights, temporal_loss, warp, warping_error

SIZE = (48, 64)
M = 6  # the border left out where a pixel's source may lie outside the frame


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return skimage.data.chelsea()


def _epe(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1)[M:-M, M:-M].mean())


@pytest.mark.parametrize("method,limit", [("deepflow", 0.1), ("dis", 0.15), ("tvl1", 0.15)])
def test_flow_endpoint_error_is_small_on_a_pan_and_zoom(photo, method, limit):
    frames, camera = synthetic.clip(photo, 3, SIZE, pan=(2.0, -1.0), zoom=1.02)
    for t in (1, 2):
        true = synthetic.true_flow(camera, SIZE, t, t - 1)
        assert np.abs(true).max() > 1.5  # the scene does move
        assert _epe(flow.estimate(frames[t], frames[t - 1], method), true) < limit  # measured 0.03-0.08 px


def test_warping_a_frame_by_the_true_flow_reproduces_the_next(photo):
    frames, camera = synthetic.clip(photo, 2, SIZE, pan=(2.5, 1.0), zoom=1.03)
    true = synthetic.true_flow(camera, SIZE, 1, 0)
    warped = np.asarray(warp(jnp.asarray(frames[0], jnp.float32), jnp.asarray(true)))
    err = np.abs(warped - frames[1])[M:-M, M:-M].mean()
    unwarped = np.abs(frames[0].astype(np.float32) - frames[1])[M:-M, M:-M].mean()
    assert err < 3.0  # grey levels: bilinear against bicubic resampling (measured 1.7)
    assert unwarped > 5 * err


def test_warp_is_exact_for_a_whole_pixel_shift_and_differentiable():
    image = jnp.asarray(np.random.default_rng(0).uniform(0, 255, (16, 20, 3)), jnp.float32)
    shift = jnp.zeros((16, 20, 2)).at[..., 0].set(3.0).at[..., 1].set(-2.0)
    out = warp(image, shift)
    np.testing.assert_array_equal(out[2:, :-3], image[:-2, 3:])
    grad = jax.grad(lambda f: jnp.sum(warp(image, f)))(shift + 0.5)
    assert bool(jnp.all(jnp.isfinite(grad))) and float(jnp.abs(grad).sum()) > 0


def test_consistency_mask_marks_exactly_the_strip_entering_the_view(photo):
    frames, camera = synthetic.clip(photo, 2, SIZE, pan=(3.0, 0.0))  # whole pixels: the scene moves 3 px left
    there, back = synthetic.true_flow(camera, SIZE, 1, 0), synthetic.true_flow(camera, SIZE, 0, 1)
    expected = np.ones(SIZE, np.float32)
    expected[:, -3:] = 0  # frame 2's last 3 columns were not in frame 1
    np.testing.assert_array_equal(flow.reliable(there, back), expected)
    # The estimated flow agrees but for a pixel column at the strip's edge.
    _, estimated = flow.pair(frames, 1, 0, "deepflow")
    assert np.mean(estimated != expected) < 0.03
    assert estimated[:, -3:].sum() == 0
    # Zooming in, nothing enters the view. (Beyond ~3 % a frame Ruder's motion-boundary test, |∇u|² + |∇v|² =
    # 2 (1 − 1/zoom)² > 0.002 near the still centre, marks the centre too.)
    frames, camera = synthetic.clip(photo, 2, SIZE, pan=(0.0, 0.0), zoom=1.02)
    zoomed = flow.reliable(synthetic.true_flow(camera, SIZE, 1, 0), synthetic.true_flow(camera, SIZE, 0, 1))
    assert zoomed.min() == 1.0


def test_disocclusion_check_marks_flows_that_disagree():
    there = np.zeros((8, 8, 2), np.float32)
    there[..., 0] = 1.0
    back = -there.copy()
    back[:, :4, 0] = 2.0  # at x < 4 the way back goes forward again: |w̃ + w|² = 9 > 0.01·5 + 0.5
    mask = flow.reliable(there, back)
    assert mask[:, :3].sum() == 0  # x + 1 lands on x < 4
    assert mask[:, 3:7].min() == 1.0 and mask[:, 7].max() == 0  # the last column leaves the view


def test_temporal_loss_is_zero_for_an_output_that_moves_with_the_scene():
    rng = np.random.default_rng(1)
    painting = rng.uniform(0, 255, (48, 80, 3)).astype(np.float32)
    camera = synthetic.Camera(np.array([[40.0, 24.0], [43.0, 24.0]]), np.ones(2))
    before, now = painting[:, 5:69], painting[:, 8:72]  # the output pans with the scene: 3 px
    into = synthetic.true_flow(camera, SIZE, 1, 0)
    c = flow.reliable(into, synthetic.true_flow(camera, SIZE, 0, 1))[None]
    args = (jnp.asarray(before)[None], jnp.asarray(into)[None], jnp.asarray(c))
    assert float(temporal_loss(jnp.asarray(now), *args)) == 0.0
    still = float(temporal_loss(jnp.asarray(before), *args))  # an output that stays put is penalised
    expected = np.sum(c[0, ..., None] * np.square(before - np.asarray(warp(jnp.asarray(before), into)))) / before.size
    assert still == pytest.approx(expected, rel=1e-5) and still > 1000
    assert warping_error(now, before, into, c[0]) == 0.0


def test_long_term_weights_count_each_pixel_at_the_nearest_frame_that_sees_it():
    c1, c2, c4 = np.array([1.0, 0, 0, 1]), np.array([1.0, 1, 0, 0]), np.array([1.0, 1, 1, 0])
    out = long_term_weights([c1, c2, c4])
    np.testing.assert_array_equal(np.stack(out), [[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]])


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory, photo) -> Path:
    folder = tmp_path_factory.mktemp("clip") / "frames"
    frames, _ = synthetic.clip(photo, 4, SIZE, pan=(2.0, 0.0), zoom=1.02)
    for i, frame in enumerate(frames):
        save_png(frame, folder / f"frame{i + 1}.png")  # frame10 would sort after frame9: numbers by value
    return folder


def _video_run(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from nstjax.run.config import CONFIG_DIR, validate
    from nstjax.video.config import validate_video

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose("video", overrides)
    from omegaconf import OmegaConf

    record = OmegaConf.to_container(cfg, resolve=True)
    run = validate(cfg)
    return run, validate_video(record, run), record


def _stylize(tmp: Path, clip_dir: Path, params, *overrides: str, fps: float | None = None) -> dict:
    from nstjax.io.images import PAPER_IMAGES
    from nstjax.video.run import stylize_video

    keys = [f"video={clip_dir}", f"style={PAPER_IMAGES / 'starry_night.jpg'}", "image_size=64", "steps=10"]
    run, video, record = _video_run([*keys, "progress=false", *overrides])
    frames, _ = io.read(video.video, run.image_size)
    return stylize_video(run, video, params, tmp, record, frames, fps)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, clip_dir, params) -> dict[str, Path]:
    """The same clip frame by frame (temporal_weight=0) and with the default temporal loss."""
    out = {}
    for name, weight in (("frame_by_frame", "0"), ("temporal", "200")):
        out[name] = tmp_path_factory.mktemp(name)
        _stylize(out[name], clip_dir, params, f"temporal_weight={weight}", fps=8.0)
    return out


@pytest.mark.slow  # two 4-frame runs: 12 s of CPU, 20-40 s on a loaded 2-core machine
def test_temporal_weight_lowers_the_warping_error_against_frame_by_frame(runs):
    read = lambda name: json.loads((runs[name] / "summary.json").read_text())
    alone, temporal = read("frame_by_frame"), read("temporal")
    assert alone["status"] == temporal["status"] == "done"
    assert [f["frame"] for f in temporal["frames"]] == [1, 2, 3, 4]
    assert sorted(p.name for p in (runs["temporal"] / "frames").iterdir()) == [f"000{i}.png" for i in (1, 2, 3, 4)]
    # Measured: 0.0090 frame by frame, 0.0011 with the temporal loss; the input clip's own (the flow and the
    # resampling's error): 0.0006.
    assert temporal["warping_error"] < 0.3 * alone["warping_error"]
    assert temporal["warping_error_input"] < 1e-3
    for f in temporal["frames"][1:]:
        assert f["loss"]["temporal"] > 0 and f["warping_error"] < alone["frames"][f["frame"] - 1]["warping_error"]
    assert temporal["frames"][0]["loss"]["temporal"] == 0.0
    assert set(temporal["metrics"]) == {"content_distance", "style_gram", "style_swd", "colour"}
    steps = [json.loads(line) for line in (runs["temporal"] / "metrics.jsonl").read_text().splitlines()]
    assert {s["frame"] for s in steps} == {1, 2, 3, 4} and len(steps) == temporal["steps"]
    frames, fps = io.read(runs["temporal"] / "video.mp4")
    assert len(frames) == 4 and fps == pytest.approx(8.0)
    made = [np.asarray(io.images.load_image(runs["temporal"] / "frames" / f"000{i}.png"), np.float32) for i in (1, 4)]
    assert np.abs(frames[0][:48] - made[0]).mean() < 8 and np.abs(frames[3][:48] - made[1]).mean() < 8  # H.264


@pytest.mark.slow  # shares the two runs above
def test_resume_continues_at_the_first_missing_frame(runs, clip_dir, params, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(runs["temporal"], out)
    (out / "frames" / "0004.png").unlink()
    (out / "frames" / "0003.png").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "frames").iterdir()}
    with pytest.raises(ConfigError, match="already holds 2 frame"):  # without resume=true nothing is overwritten
        _stylize(out, clip_dir, params, "temporal_weight=200")
    summary = _stylize(out, clip_dir, params, "temporal_weight=200", "resume=true", fps=8.0)
    assert [f["frame"] for f in summary["frames"]] == [1, 2, 3, 4]
    assert {p.name: p.stat().st_mtime_ns for p in (out / "frames").iterdir() if p.name in kept} == kept
    assert len(list((out / "frames").iterdir())) == 4
    with pytest.raises(ConfigError, match="another temporal_weight"):
        (out / "frames" / "0004.png").unlink()
        _stylize(out, clip_dir, params, "temporal_weight=100", "resume=true")


def _one_line_error(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_bad_clips_are_one_line_each(tmp_path, photo):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(io.VideoError) as exc:
        io.read(empty)
    assert "no frames in" in _one_line_error(exc)
    one = tmp_path / "one"
    save_png(photo[:64, :64], one / "0001.png")
    with pytest.raises(io.VideoError) as exc:
        io.read(one)
    assert "has 1 frame(s)" in _one_line_error(exc)
    mixed = tmp_path / "mixed"
    save_png(photo[:64, :64], mixed / "a1.png")
    save_png(photo[:64, :80], mixed / "a2.png")
    with pytest.raises(io.VideoError) as exc:
        io.read(mixed)
    assert "a2.png is 80×64 px but the first frame is 64×64" in _one_line_error(exc)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    with pytest.raises(io.VideoError) as exc:
        io.read(damaged)
    assert "cannot read video" in _one_line_error(exc)
    broken = tmp_path / "broken"
    save_png(photo[:64, :64], broken / "1.png")
    (broken / "2.png").write_bytes(b"not a png")
    with pytest.raises(ImageError) as exc:
        io.read(broken)
    _one_line_error(exc)
    with pytest.raises(io.VideoError, match="video not found"):
        io.read(tmp_path / "missing.mp4")
    with pytest.raises(flow.FlowError) as exc:
        flow.estimate(photo, photo, "lucas")
    assert "flow must be one of deepflow" in _one_line_error(exc)


def test_bad_video_keys_are_one_line_and_the_cli_keeps_what_was_written(tmp_path, clip_dir, capsys):
    for overrides, expected in (
        (["flow=lucas"], "flow must be one of"),
        (["long_term=[2,1]"], "long_term must be growing"),
        (["passes=2"], "passes > 1"),
        (["content=x.jpg"], "leave content out"),
        (["tile=64"], "tile does not work"),
    ):
        with pytest.raises(ConfigError) as exc:
            _video_run([f"video={clip_dir}", *overrides])
        assert expected in _one_line_error(exc)
    from nstjax.entry.video import check_video_overrides

    with pytest.raises(ConfigError, match="and the video's: video, temporal_weight"):
        check_video_overrides([f"video={clip_dir}", "temporal=1"])
    # A failing job in a run directory that holds frames already leaves them there.
    out = tmp_path / "out"
    save_png(np.zeros((48, 64, 3), np.uint8), out / "frames" / "0001.png")
    from hydra import compose, initialize_config_dir

    from nstjax.entry.video import run_job
    from nstjax.run.config import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose("video", [f"video={tmp_path / 'missing'}"])
    with pytest.raises(io.VideoError, match="video not found"):
        run_job(cfg, out)
    assert (out / "frames" / "0001.png").is_file()


def test_flow_cache_is_reused_and_recomputed_for_other_frames(tmp_path, photo):
    frames, _ = synthetic.clip(photo, 2, SIZE, pan=(2.0, 0.0))
    first = flow.pair(frames, 1, 0, "dis", tmp_path)
    assert (tmp_path / "0002-0001.npz").is_file()
    np.testing.assert_array_equal(flow.pair(frames, 1, 0, "dis", tmp_path)[0], first[0])
    other = [frames[0], np.ascontiguousarray(frames[1][:, ::-1])]  # another clip in the same run dir
    assert not np.array_equal(flow.pair(other, 1, 0, "dis", tmp_path)[0], first[0])
