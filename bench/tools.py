"""Tool benchmark: batching pays off, and the memory budget bounds resident models.

For every tool in the registry, on its offline-profile configuration (tiny random-weight models):

- throughput of one batch of 8 against 8 single calls (ratio = time of 8 singles / time of the
  batch; above 1 the batched ``run`` pays off);
- peak RSS of a process that loads every tool and runs each once, against the same with the LRU
  memory budget on (``runtime.memory_budget_gb``; default: the largest measured tool, so about
  one model at a time). Each runs in its own subprocess so the peaks are separate; on CUDA the
  peak GPU memory allocated is reported too.

    python bench/tools.py [--json] [--tools a,b] [--batch 8] [--repeat 3] [--budget-gb X]

Sample inputs: ``Tool.example_inputs(store)`` (derived from the tool's ports unless the tool
overrides it), with the small settings below (fewer diffusion steps, short clips) for the tools
of the issue-3 contract that are registered.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

from mmagent.artifacts import ArtifactStore
from mmagent.config import Config
from mmagent.errors import MMAgentError
from mmagent.toolkit import WORDS, GiB, Tool, ToolContext, ToolRegistry, sample_audio, sample_image


def _small(name: str, store: ArtifactStore, i: int) -> dict[str, Any]:
    """Settings that keep a tiny model's call short; merged over the tool's example inputs
    (and dropped if the tool rejects them)."""
    w = WORDS[i % len(WORDS)]
    return {
        "image_generate": {"steps": 2, "seed": i},
        "image_edit": {"steps": 2, "seed": i},
        "video_generate": {"steps": 2, "seed": i},
        "music_generate": {"duration": 1.0, "seed": i},
        "image_search": {"query": w, "images": [sample_image(store, i + k) for k in range(3)]},
        "image_classify": {"labels": ["a cat", "a dog", "a car"]},
        "visual_qa": {"question": "what is in the picture?"},
        "vlm_chat": {"images": [sample_image(store, i)], "question": "what is in the picture?"},
        "speech_recognize": {"audio": sample_audio(store, i, seconds=1.0)},
        "video_frames": {"count": 2},
    }.get(name, {})


def sample_inputs(tool: Tool, store: ArtifactStore, n: int) -> list[Any]:
    """``n`` parsed inputs for ``tool`` (cycling its examples)."""
    cls = type(tool)
    examples = cls.example_inputs(store)
    if not examples:
        raise ValueError("example_inputs returned nothing")
    own = cls.example_inputs.__func__ is not Tool.example_inputs.__func__
    parsed = []
    for i in range(n):
        args = examples[i % len(examples)]
        if not own:
            try:
                parsed.append(tool.parse_input({**args, **_small(cls.name, store, i)}))
                continue
            except MMAgentError:
                pass  # the tool takes other settings: its plain example then
        parsed.append(tool.parse_input(args))
    return parsed


def _registry(budget_gb: float | None = None) -> ToolRegistry:
    cfg = Config.load(None, profile="offline")
    return ToolRegistry.discover({n: tc.kwargs() for n, tc in cfg.tools.items()},
                                 cache_dir=cfg.cache_dir, memory_budget_gb=budget_gb)


def _selected(reg: ToolRegistry, names: str | None) -> list[str]:
    if not names:
        return reg.names()
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    for n in chosen:
        reg.tool_class(n)  # UnknownToolError names the known ones
    return chosen


def throughput(names: str | None, batch: int, repeat: int) -> list[dict[str, Any]]:
    reg = _registry()
    store = ArtifactStore(tempfile.mkdtemp(prefix="mmagent-bench-"))
    ctx = ToolContext(store)
    rows = []
    for name in _selected(reg, names):
        row: dict[str, Any] = {"tool": name, "kind": reg.tool_class(name).category}
        try:
            tool = reg.get(name)
            inputs = sample_inputs(tool, store, batch)
            t0 = time.perf_counter()
            with reg.using(name) as tool:
                row["load_s"] = time.perf_counter() - t0
                tool.run(inputs[:1], ctx)  # warm-up (lazy caches, first-call kernels)
                batched, singles = [], []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    tool.run(inputs, ctx)
                    batched.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    for inp in inputs:
                        tool.run([inp], ctx)
                    singles.append(time.perf_counter() - t0)
            row.update(batch_s=min(batched), singles_s=min(singles),
                       ratio=min(singles) / min(batched),
                       memory_bytes=tool.memory_bytes())
        except Exception as e:  # one tool's failure must not hide the others' figures
            row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        rows.append(row)
    return rows


def rss_child(names: str | None, budget_gb: float | None) -> dict[str, Any]:
    """Load every tool, run each once; the process's peak RSS (and CUDA peak)."""
    logging.disable(logging.WARNING)  # over-budget warnings are expected with a tight budget
    reg = _registry(budget_gb)
    store = ArtifactStore(tempfile.mkdtemp(prefix="mmagent-bench-"))
    ctx = ToolContext(store)
    sizes, errors = {}, {}
    for name in _selected(reg, names):
        try:
            inp = sample_inputs(reg.get(name), store, 1)
            with reg.using(name) as tool:
                tool.run(inp, ctx)
                sizes[name] = tool.memory_bytes()
        except Exception as e:
            errors[name] = f"{type(e).__name__}: {e}"
    out: dict[str, Any] = {
        "budget_gb": budget_gb,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "resident_bytes_at_end": reg.residency.resident_bytes(),
        "loaded_at_end": sum(1 for r in reg.residency.snapshot() if r["loaded"]),
        "unloads": reg.residency.unloads,
        "measured_bytes": sizes,
        "errors": errors,
    }
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _run_child(names: str | None, budget_gb: float | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--rss-child"]
    if names:
        cmd += ["--tools", names]
    if budget_gb is not None:
        cmd += ["--budget-gb", repr(budget_gb)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if res.returncode != 0:
        raise RuntimeError(f"RSS subprocess failed ({res.returncode}): {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--tools", help="comma-separated tool names (default: every registered)")
    ap.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    ap.add_argument("--repeat", type=int, default=3, help="timed repeats; the fastest counts")
    ap.add_argument("--budget-gb", type=float, default=None,
                    help="memory budget of the second RSS run (default: largest measured tool)")
    ap.add_argument("--no-rss", action="store_true", help="skip the two RSS subprocesses")
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (small machines)

    if args.rss_child:
        print(json.dumps(rss_child(args.tools, args.budget_gb)))
        return

    out: dict[str, Any] = {"batch": args.batch, "tools": throughput(args.tools, args.batch,
                                                                   args.repeat)}
    if not args.no_rss:
        unbounded = _run_child(args.tools, None)
        measured = [b for b in unbounded["measured_bytes"].values() if b]
        budget = args.budget_gb or max(max(measured, default=0) / GiB, 1e-3)
        out["rss"] = {"all_loaded": unbounded, "budget": _run_child(args.tools, budget)}

    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{'tool':18} {'kind':8} {'load s':>7} {'batch s':>8} {f'{args.batch} singles s':>12} "
          f"{'ratio':>6} {'weights MB':>10}")
    for r in out["tools"]:
        if "error" in r:
            print(f"{r['tool']:18} {r['kind']:8} skipped: {r['error']}")
            continue
        mb = f"{r['memory_bytes'] / 2**20:.2f}" if r["memory_bytes"] is not None else "-"
        print(f"{r['tool']:18} {r['kind']:8} {r['load_s']:7.2f} {r['batch_s']:8.3f} "
              f"{r['singles_s']:12.3f} {r['ratio']:6.2f} {mb:>10}")
    if "rss" in out:
        for label, key in (("all tools loaded", "all_loaded"), ("LRU budget", "budget")):
            r = out["rss"][key]
            budget = "none" if r["budget_gb"] is None else f"{r['budget_gb'] * 1024:.2f} MB"
            cuda = f", peak CUDA {r['peak_cuda_mb']:.0f} MB" if "peak_cuda_mb" in r else ""
            print(f"peak RSS, {label:16}: {r['peak_rss_mb']:7.0f} MB (budget {budget}; "
                  f"{r['loaded_at_end']} loaded at the end, {r['unloads']} unloads{cuda})")


if __name__ == "__main__":
    main()
