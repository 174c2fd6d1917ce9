"""Model tools at their published sizes (random weights): latency, memory, batching, one plan.

Each tool's default architecture (``mmagent.tools``) is built with random weights,
saved, and loaded through the tool's normal ``from_pretrained`` path. Per tool: parameters,
weight dtype on the device, load seconds, peak memory and latency at batch 1 and batch 8 (each
batch size warmed first), and the batching gain (8 x b1 / b8). Then a two-branch plan,
``image_generate -> image_caption`` beside ``music_generate``, through the executor: makespan
against its critical path and against the sum of its tools' latencies.

    python bench/gpu.py [--json] [--size real|reduced] [--tools a,b,...]

``--size real`` is meant for a GPU; the default is ``real`` on CUDA and ``reduced`` elsewhere
(the same architectures with one layer per stack, smaller images and clips), which runs on a
CPU in minutes. On CUDA, peak memory is ``torch.cuda.max_memory_allocated``; on a CPU it is
the process's resident-set high-water mark during the call, above what it held before loading.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmagent.artifacts import ArtifactStore
from mmagent.execution import Executor
from mmagent.plan import Plan
from mmagent.toolkit import (
    Tool,
    ToolContext,
    ToolRegistry,
)
from mmagent.tools._published import (
    ARCHITECTURES,
    published_checkpoint,
    published_planner,
)

PLAN_TOOLS = ("image_generate", "image_caption", "music_generate")


def inputs(name: str, size: str, store: ArtifactStore) -> dict[str, Any]:
    """One call's arguments: the published workload (real) or a small one (reduced)."""
    import numpy as np
    from PIL import Image

    real = size == "real"
    px = 512 if real else 64
    rng = np.random.default_rng(0)
    image = store.put_image(Image.fromarray((rng.random((px, px, 3)) * 255).astype(np.uint8)))
    image = image.model_dump(mode="json")
    seconds = 30.0 if real else 5.0
    t = np.arange(int(seconds * 16000)) / 16000
    audio = store.put_audio(0.3 * np.sin(2 * np.pi * 220 * t), 16000).model_dump(mode="json")
    prompt = "a red fox in the snow, watercolour"
    return {
        "image_classify": {"image": image, "labels": ["a fox", "a dog", "a car", "a bowl"]},
        "image_caption": {"image": image, "max_new_tokens": 30 if real else 8},
        "visual_qa": {"image": image, "question": "what animal is this?"},
        "speech_recognize": {"audio": audio},
        "music_generate": {"prompt": "calm piano music", "duration": 5.0 if real else 0.5},
        "image_generate": {"prompt": prompt, "width": px, "height": px,
                           "steps": 4 if real else 1},
        "image_edit": {"image": image, "instruction": "make it winter", "steps": 4 if real else 1},
        "video_generate": {"prompt": prompt, "width": 256 if real else 64,
                           "height": 256 if real else 64, "frames": 16 if real else 4,
                           "steps": 4 if real else 1},
        "text_to_speech": {"text": "the quick brown fox jumps over the lazy dog" if real
                           else "a quick fox"},
    }[name]


class Peak:
    """Peak memory above the level before loading: CUDA allocator, else resident set."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")
        self.base = self._now()

    def _now(self) -> int:
        if self.cuda:
            import torch

            return torch.cuda.memory_allocated()
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def measure(self, fn) -> tuple[Any, float]:
        """Run ``fn``; return its result and the peak in GiB above the base."""
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            out = fn()
            torch.cuda.synchronize()
            return out, (torch.cuda.max_memory_allocated() - self.base) / 2**30
        peak = [self._now()]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.01):
                peak[0] = max(peak[0], self._now())

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        try:
            out = fn()
        finally:
            stop.set()
            th.join()
        return out, (max(peak[0], self._now()) - self.base) / 2**30


def params_and_dtype(tool: Tool) -> tuple[float, str]:
    counts: dict[str, int] = {}
    seen: set[int] = set()
    for module in tool.loaded_modules():
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                dtype = str(p.dtype).removeprefix("torch.")
                counts[dtype] = counts.get(dtype, 0) + p.numel()
    total = sum(counts.values())
    return total / 1e6, max(counts, key=counts.get) if counts else "-"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def bench_tool(name: str, size: str, device: str, store: ArtifactStore,
               cache: Path) -> dict[str, Any]:
    cls = ToolRegistry.discover().tool_class(name)
    ckpt = published_checkpoint(name, size, cache)  # built once, then cached
    extra = {"backend": "vits"} if name == "text_to_speech" else {}
    peak = Peak(device)
    tool = cls(checkpoint=ckpt, device=device, cache_dir=str(cache), **extra)
    t0 = time.perf_counter()
    tool.ensure_loaded()
    sync(device)
    load_s = time.perf_counter() - t0
    params_m, dtype = params_and_dtype(tool)
    ctx = ToolContext(store)
    inp = tool.parse_input(inputs(name, size, store))
    row: dict[str, Any] = {"params_m": round(params_m, 1), "dtype": dtype,
                           "load_s": round(load_s, 2)}
    for batch in (1, 8):
        tool.run([inp] * batch, ctx)  # warm: the first call at a batch size plans kernels

        def timed(batch: int = batch) -> float:
            t = time.perf_counter()
            tool.run([inp] * batch, ctx)
            sync(device)
            return time.perf_counter() - t

        seconds, mem = peak.measure(timed)
        row[f"peak_mem_gb_b{batch}"] = round(mem, 3)
        row[f"b{batch}_s"] = round(seconds, 3)
    row["gain"] = round(8 * row["b1_s"] / row["b8_s"], 2)
    tool.unload()
    return row


def bench_planner(size: str, device: str, cache: Path) -> dict[str, Any]:
    """The offline planner's decoder (SmolLM2-135M): 64 new tokens (16 reduced) greedily."""
    import torch
    from transformers import AutoModelForCausalLM

    from mmagent.toolkit import resolve_dtype

    path = published_planner(size, cache)
    peak = Peak(device)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=resolve_dtype("auto", device))
    model.to(device).eval()
    sync(device)
    load_s = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())
    new = 64 if size == "real" else 16
    row: dict[str, Any] = {"params_m": round(params / 1e6, 1),
                           "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
                           "load_s": round(load_s, 2)}
    for batch in (1, 8):
        ids = torch.randint(0, model.config.vocab_size, (batch, 200),
                            generator=torch.Generator().manual_seed(0)).to(device)

        def generate(ids: Any = ids) -> float:
            t = time.perf_counter()
            with torch.inference_mode():
                model.generate(ids, max_new_tokens=new, min_new_tokens=new, do_sample=False)
            sync(device)
            return time.perf_counter() - t

        generate()  # warm
        seconds, mem = peak.measure(generate)
        row[f"peak_mem_gb_b{batch}"] = round(mem, 3)
        row[f"b{batch}_s"] = round(seconds, 3)
    row["gain"] = round(8 * row["b1_s"] / row["b8_s"], 2)
    return row


def bench_plan(size: str, device: str, store: ArtifactStore, cache: Path) -> dict[str, Any]:
    """The plan through the executor against its tools called directly, measured back to back
    (so both see the same machine: on a shared CPU the load drifts between tool rows)."""
    reg = ToolRegistry.discover({n: {"checkpoint": published_checkpoint(n, size, cache),
                                     "device": device} for n in PLAN_TOOLS},
                                cache_dir=str(cache))
    gen, music = inputs("image_generate", size, store), inputs("music_generate", size, store)
    caption = {k: v for k, v in inputs("image_caption", size, store).items() if k != "image"}
    plan = Plan.model_validate({"tasks": [
        {"id": "image", "tool": "image_generate", "args": gen},
        {"id": "caption", "tool": "image_caption", "args": {**caption, "image": "$image.image"}},
        {"id": "music", "tool": "music_generate", "args": music}]})
    ex = Executor(reg, store)
    assert ex.run(plan, {}).ok  # loads the three tools and warms their workers
    direct_args = {"image_generate": gen, "music_generate": music,
                   "image_caption": inputs("image_caption", size, store)}
    runs, direct = [], {n: [] for n in PLAN_TOOLS}
    for _ in range(2):
        for n in PLAN_TOOLS:
            tool = reg.get(n)
            inp = tool.parse_input(direct_args[n])
            t0 = time.perf_counter()
            tool.run([inp], ToolContext(store))
            sync(device)
            direct[n].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = ex.run(plan, {})
        runs.append(time.perf_counter() - t0)
        assert result.ok, result.failures
    ex.workers.close()
    b1 = {n: statistics.median(v) for n, v in direct.items()}
    critical = max(b1["image_generate"] + b1["image_caption"], b1["music_generate"])
    makespan = statistics.median(runs)
    return {"makespan_s": round(makespan, 3), "critical_path_s": round(critical, 3),
            "ratio": round(makespan / critical, 3), "direct_sum_s": round(sum(b1.values()), 3)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--size", choices=["real", "reduced"], default=None,
                    help="published sizes (default on CUDA) or one layer per stack")
    ap.add_argument("--tools", default=",".join([*ARCHITECTURES, "planner"]),
                    help="comma-separated tools, 'planner' for the offline planner's decoder "
                    "(default: every tool with an architecture, and the planner)")
    ap.add_argument("--cache", default=None, help="where built checkpoints are kept "
                    "for the next run (default: a temporary folder, removed at the end)")
    args = ap.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    size = args.size or ("real" if device == "cuda" else "reduced")
    names = [n for n in args.tools.split(",") if n]
    unknown = [n for n in names if n not in ARCHITECTURES and n != "planner"]
    if unknown:
        ap.error(f"got tools {unknown}; expected some of {sorted(ARCHITECTURES)}")
    cache = Path(args.cache or tempfile.mkdtemp(prefix="mmagent-gpu-bench-"))
    label = torch.cuda.get_device_name() if device == "cuda" else \
        f"cpu ({torch.get_num_threads()} threads)"
    out: dict[str, Any] = {"device": label, "size": size, "tools": {}, "plan": None}
    try:
        store = ArtifactStore(cache / "store")
        for name in names:
            out["tools"][name] = bench_planner(size, device, cache) if name == "planner" else \
                bench_tool(name, size, device, store, cache)
            if not args.json:
                print(name, json.dumps(out["tools"][name]), flush=True)
        if all(n in names for n in PLAN_TOOLS):
            out["plan"] = bench_plan(size, device, store, cache)
    finally:
        if args.cache is None:  # the built checkpoints take gigabytes
            shutil.rmtree(cache, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print("plan (image_generate -> image_caption, beside music_generate):",
              json.dumps(out["plan"]))
    return out


if __name__ == "__main__":
    main()
