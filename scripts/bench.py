"""`make bench`: nstjax against PyTorch (eager and torch.compile) on the identical objective.

Same weights, layers, images and L-BFGS history; each measurement runs in a fresh worker process (so
peak memory is that process's), and the frameworks alternate. On an AVX-512 CPU each size is measured
natively and with AVX2 emulated (``XLA_FLAGS=--xla_cpu_max_isa=AVX2`` for XLA; ``ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2`` for PyTorch): the ISA column says which. nstjax runs with this machine's tuned
plan (``nstjax-tune``) and with the fixed size rule. Writes bench/bench.json and bench/bench.md.

    python scripts/bench.py [--sizes 256 512] [--iterations 10] [--isas native avx2] [--out bench]
    python scripts/bench.py --gpu --sizes 512 --iterations 500   # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from nstjax.io.images import PAPER_IMAGES as IMAGES  # noqa: E402

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def forward_gflop(h: int, w: int) -> float:
    """Direct-convolution GFLOP of VGG19 up to relu5_1 (conv5_1), forward."""
    from nstjax.model.layers import BLOCKS

    total, cin = 0, 3
    for b, (cout, count) in enumerate(BLOCKS, 1):
        for _ in range(count if b < 5 else 1):
            total += 2 * 9 * h * w * cin * cout
            cin = cout
        h, w = h // 2, w // 2
    return total / 1e9


def load_pair(size: int):
    from nstjax.io import images

    content = images.resize_longest(images.load_image(IMAGES / "tubingen.jpg"), size)
    style = images.resize(images.load_image(IMAGES / "starry_night.jpg"), content.shape[:2])
    return content, style


def worker_jax(size: int, iterations: int, repeats: int, gpu: bool, target: float | None = None) -> dict:
    import jax

    from nstjax.io.weights import load_params
    from nstjax.objective import compiled
    from nstjax.optim.lbfgs import LBFGS
    from nstjax.run import config
    from nstjax.run.experiments import compose
    from nstjax.run.runner import Inputs, prepare

    content, style = load_pair(size)
    # The reference's settings, spelled out: the config defaults could change under the benchmark.
    run = config.validate(
        compose(
            {
                "image_size": size,
                "steps": iterations,
                "pooling": "avg",
                "ratio": 1e-3,
                "ratio_size": None,  # α as given at every size, as the PyTorch worker's α = 1
                "content_weight": 1.0,
                "content_layers": "paper",
                "style_layers": "paper",
                "tv_weight": 0,
                "init": "content",
                "preserve_color": "none",
                "weights": "imagenet",
                "conv": "auto",
                "style_scale": 1.0,
            },
            ["optimizer=lbfgs", "optimizer.history=100"],
        )
    )
    problem = prepare(run, load_params(), Inputs(content, [style]))
    fg = compiled.value_and_grad_fn(problem.spec)
    t0 = time.perf_counter()
    jax.block_until_ready(fg(problem.data, problem.x0))
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fg(problem.data, problem.x0))
        times.append(time.perf_counter() - t0)
    opt = LBFGS(lambda x: fg(problem.data, x), history=100)
    trace = []
    t0 = time.perf_counter()
    state = opt.init(problem.x0)
    # Past ``iterations`` only while torch's final loss is not reached (at most 3× as many iterations).
    while len(trace) < iterations or (target is not None and trace[-1][1] > target and len(trace) < 3 * iterations):
        state = opt.step(state)
        trace.append((time.perf_counter() - t0, float(state.loss), int(state.evaluations)))
        if len(trace) == iterations:  # the memory comparison is at equal iterations (L-BFGS history grows)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    tuned = os.environ.get("NSTJAX_TUNE", "1") != "0"
    return {
        "framework": f"nstjax ({'tuned plan' if tuned else 'fixed plan'})",
        "peak_rss_gb": peak,
        "device": str(jax.devices()[0].device_kind),
        "compile_s": compile_s,
        "eval_s": min(times),
        "eval_s_median": sorted(times)[len(times) // 2],
        "trace": trace,
        "winograd_layers": len(compiled.winograd_layers(problem.spec, problem.x0.shape)),
        "jax": jax.__version__,
    }


def worker_torch(size: int, iterations: int, repeats: int, gpu: bool, target: float | None = None) -> dict:
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT / "scripts"))
    import torch_reference as tr

    from nstjax.io.weights import load_params

    device = "cuda" if gpu else "cpu"
    content, style = load_pair(size)
    obj = tr.Objective(load_params(), content, style, pooling="avg", alpha=1.0, beta=1e3, device=device)
    compiled = os.environ.get("BENCH_TORCH_COMPILE") == "1"
    evaluate = torch.compile(obj) if compiled else obj
    x = tr.to_tensor(content).to(device).requires_grad_(True)

    def sync():
        if gpu:
            torch.cuda.synchronize()

    def step():
        x.grad = None
        loss, _ = evaluate(x)
        loss.backward()
        sync()

    t0 = time.perf_counter()
    step()
    compile_s = time.perf_counter() - t0 if compiled else 0.0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    result = tr.run_lbfgs(evaluate, content.astype(np.float32), iterations, history=100, device=device, trace=True)
    return {
        "framework": f"PyTorch {torch.__version__} {'torch.compile' if compiled else 'eager'}",
        "device": device,
        "compile_s": compile_s,
        "eval_s": min(times),
        "eval_s_median": sorted(times)[len(times) // 2],
        "trace": result["trace"],
    }


def matmul_peak() -> float:
    """numpy's float32 matmul GFLOP/s with all cores (in a child: this process pins OpenBLAS to 1 thread)."""
    code = (
        "import numpy as np, time; a = np.ones((2048, 2048), np.float32); a @ a; t = time.perf_counter()\n"
        "for _ in range(5): a @ a\nprint(2 * 2048**3 * 5 / (time.perf_counter() - t) / 1e9)"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout)


ISA_ENV = {
    "native": {},
    "avx2": {"XLA_FLAGS": "--xla_cpu_max_isa=AVX2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}
# Worker kinds: the script's worker and the environment that selects the variant.
KINDS = {
    "torch": ("torch", {}),
    "torch.compile": ("torch", {"BENCH_TORCH_COMPILE": "1"}),
    "jax": ("jax", {"NSTJAX_TUNE": "1"}),
    "jax-fixed": ("jax", {"NSTJAX_TUNE": "0"}),
}


def spawn(
    kind: str, size: int, iterations: int, repeats: int, gpu: bool, target: float | None = None, isa: str = "native"
) -> dict:
    worker, extra = KINDS[kind]
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        worker,
        "--sizes",
        str(size),
        "--iterations",
        str(iterations),
        "--repeats",
        str(repeats),
    ]
    cmd += (["--gpu"] if gpu else []) + ([] if target is None else ["--target", repr(target)])
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **extra, **ISA_ENV[isa]}
    if isa == "avx2":  # the emulation flag joins the flags nstjax would set (tuned or default)
        from nstjax.machine import xla_cpu_flags

        env["XLA_FLAGS"] = f"{xla_cpu_flags()} --xla_cpu_max_isa=AVX2"
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"framework": kind, "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def time_to(trace: list, target: float) -> float | None:
    return next((t for t, loss, _ in trace if loss <= target), None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--out", default="bench")
    parser.add_argument(
        "--isas", nargs="+", default=None, help="native and/or avx2 (emulated); default: both on AVX-512"
    )
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), help=f"which of {', '.join(KINDS)}")
    parser.add_argument("--worker", choices=["jax", "torch"])
    parser.add_argument("--target", type=float, help="(jax worker) continue until this loss, torch's final one")
    args = parser.parse_args()
    if args.worker:
        fn = worker_jax if args.worker == "jax" else worker_torch
        result = fn(args.sizes[0], args.iterations, args.repeats, args.gpu, args.target)
        result.setdefault("peak_rss_gb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)  # KiB on Linux
        print(json.dumps(result))
        return

    from nstjax.machine import cpu

    model, native_isa = cpu()
    isas = args.isas or (["native"] if args.gpu or native_isa != "AVX-512" else ["native", "avx2"])
    peak = None if args.gpu else matmul_peak()
    rows = []
    for isa in isas:
        isa_name = native_isa if isa == "native" else "AVX2 (emulated)"
        for size in args.sizes:
            pair = {}
            for kind in args.kinds:  # alternate: the references first, then nstjax, per size
                reference = pair.get("torch", {})
                target = reference.get("trace", [[0, None, 0]])[-1][1] if kind.startswith("jax") else None
                pair[kind] = spawn(kind, size, args.iterations, args.repeats, args.gpu, target, isa)
                print(
                    f"{size}px {isa} {kind}: " + json.dumps({k: v for k, v in pair[kind].items() if k != "trace"}),
                    file=sys.stderr,
                    flush=True,
                )
            h, w = load_pair(size)[0].shape[:2]
            flop = 2 * forward_gflop(h, w)  # forward + input gradient, direct-convolution equivalent
            target = pair.get("torch", {}).get("trace", [[0, float("inf"), 0]])[-1][1]
            for kind, r in pair.items():
                if "error" in r:
                    rows.append({"size": size, "isa": isa_name, **r})
                    continue
                t_target = time_to(r["trace"], target)
                full = r["trace"]
                if kind.startswith("jax"):  # the columns below compare equal iterations; the worker may have gone on
                    r["trace"] = full[: args.iterations]
                rows.append(
                    {
                        "size": size,
                        "isa": isa_name,
                        "hw": [h, w],
                        "framework": r["framework"],
                        "device": r["device"],
                        "eval_s": r["eval_s"],
                        "gflops": flop / r["eval_s"],
                        "peak_fraction": None if peak is None else flop / r["eval_s"] / peak,
                        "peak_rss_gb": r.get("peak_rss_gb"),
                        "compile_s": r["compile_s"],
                        "iterations": len(r["trace"]),
                        "final_loss": r["trace"][-1][1],
                        "seconds_lbfgs": r["trace"][-1][0],
                        "seconds_to_reference_loss": t_target,
                        "evaluations": r["trace"][-1][2],
                        "iterations_to_reference_loss": None
                        if not kind.startswith("jax")
                        else next((i + 1 for i, (_, loss, _) in enumerate(full) if loss <= target), None),
                    }
                )
            evals = {k: r["eval_s"] for k, r in pair.items() if "eval_s" in r}
            fastest_torch = min((v for k, v in evals.items() if k.startswith("torch")), default=float("nan"))
            nstjax = min((v for k, v in evals.items() if k.startswith("jax")), default=float("nan"))
            rows.append({"size": size, "isa": isa_name, "speedup_per_eval": fastest_torch / nstjax})
    machine = f"{model} ({native_isa}), {os.cpu_count()} cores" + (
        f", numpy float32 matmul {peak:.0f} GFLOP/s" if peak else ""
    )
    report = {"machine": machine, "iterations": args.iterations, "rows": rows}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2))
    md = [
        f"Machine: {machine}. L-BFGS history 100, {args.iterations} iterations from the content, "
        "tubingen × starry_night, pooling avg, ratio 1e-3.",
        "",
        "| size | ISA | framework | s/eval | GFLOP/s | of peak | peak RSS GB | compile s | L-BFGS s | final loss "
        "| s to torch's loss |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if "framework" in r and "error" not in r:
            md.append(
                f"| {r['size']} | {r['isa']} | {r['framework']} | {r['eval_s']:.3f} | {r['gflops']:.0f} | "
                f"{fmt(r['peak_fraction'], '.0%')} | {fmt(r['peak_rss_gb'], '.2f')} | {r['compile_s']:.1f} | "
                f"{r['seconds_lbfgs']:.2f} | {r['final_loss']:.4g} | {fmt(r['seconds_to_reference_loss'], '.2f')}"
                + (f" ({r['iterations_to_reference_loss']} it.)" if r["iterations_to_reference_loss"] else "")
                + " |"
            )
        elif "speedup_per_eval" in r:
            md.append(
                f"| {r['size']} | {r['isa']} | **nstjax's best vs the faster PyTorch, per evaluation** | "
                f"**{r['speedup_per_eval']:.2f}×** | | | | | | | |"
            )
        else:
            md.append(f"| {r['size']} | {r['isa']} | {r['framework']} | error: {r['error']} | | | | | | | |")
    (out / "bench.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
