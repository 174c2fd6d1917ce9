"""Serving benchmark: dynamic batching, the ingress's per-call overhead, HTTP latency.

    python bench/serve.py [--json] [--requests N] [--concurrency C]

1. **Batching**: 32 concurrent calls to a real torch model (``image_caption``: BLIP on the
   tiny checkpoint, decoding a caption) batched up to 32 and not batched (batches of 1), in
   both runtimes: embedded (32 concurrent one-task runs of the in-process executor, whose
   per-tool worker gathers them) and Ray Serve (32 concurrent handle calls to a
   ``@serve.batch`` deployment). Prints requests/s of each and the ratio (target >= 4x).
2. **Ingress overhead**: a tool that simulates an accelerator forward pass (a fixed 40 ms per
   call plus 1 ms per item, sleeping as a GPU kernel leaves the CPU free) called bare through
   its deployment handle vs. as a plan task inside the ingress (executor task -> proxy tool
   -> handle), one call at a time; the task's time is the one the executor reports in
   ``task_finished``. Target: < 10% added.
3. **HTTP**: ``POST /v1/chat/completions`` with ``model: workflow:one_step`` (a one-step
   workflow on the same tool) at bounded concurrency, on the embedded server and on Ray Serve:
   p50/p99 latency and requests/s. No LLM is involved (plans in step 2 come from a scripted
   backend), so this measures the serving path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel, ConfigDict, Field

from mmagent import Agent, Config
from mmagent.toolkit import (
    Tool,
    ToolRegistry,
)

KEY = "sk-bench"
FORWARD_S, PER_ITEM_S = 0.040, 0.001


class Forward(Tool):
    name = "fake_forward"
    description = "Simulates one forward pass of a model on a batch."

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label: str = Field(description="echoed back")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: str = Field(description="the label")

    def run(self, inputs, ctx):
        time.sleep(FORWARD_S + PER_ITEM_S * len(inputs))
        return [self.Output(text=i.label) for i in inputs]


class OneStep:
    """Planner backend: every request becomes one fake_forward task (no LLM)."""

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        from mmagent.planner import Completion

        if json_schema is not None and "tasks" not in json_schema.get("properties", {}):
            return Completion(json.dumps({"deliver": ["text"]}))
        plan = {"tasks": [{"id": "t1", "tool": "fake_forward", "args": {"label": "ok"}}]}
        return Completion(json.dumps(plan))


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


ONE_STEP = """\
version: 1
description: One call of fake_forward.
inputs:
  label: {type: text, description: echoed back}
nodes:
  forward: {tool: fake_forward, args: {label: $input.label}}
outputs:
  text: $forward.text
"""


DURABLE = True  # record every run in SQLite (the default); --no-durable measures without


def _config(root: Path, batch: int) -> Config:
    (root / "one_step.yaml").write_text(ONE_STEP)
    return Config.from_dict({"cache_dir": str(root / "cache"),
                             "workflows": {"paths": [str(root / "one_step.yaml")]},
                             # every call reaches the tool: the result cache would answer
                             # repeated identical requests without it
                             "executor": {"cache": False, "checkpoint": DURABLE},
                             "serving": {
        "api_keys": [KEY], "ray": {"ingress_num_cpus": 0.2, "defaults": {
            "num_cpus": 0.2, "max_batch_size": batch, "batch_wait_timeout_s": 0.005,
            "max_ongoing_requests": 64}}}})


def _registry() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(Forward)
    return reg


async def _http_load(base_url: str, n: int, concurrency: int) -> dict[str, float]:
    import httpx

    body = {"model": "workflow:one_step", "messages": [{"role": "user", "content": "go"}]}
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=120,
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        async def one() -> None:
            async with sem:
                t0 = time.perf_counter()
                r = await client.post("/v1/chat/completions", json=body)
                r.raise_for_status()
                lat.append(time.perf_counter() - t0)

        await asyncio.gather(*[one() for _ in range(min(8, n))])  # warm-up
        lat.clear()
        t0 = time.perf_counter()
        await asyncio.gather(*[one() for _ in range(n)])
        wall = time.perf_counter() - t0
    return {"p50_ms": 1000 * _pct(lat, 0.5), "p99_ms": 1000 * _pct(lat, 0.99),
            "requests_per_s": n / wall, "requests": n, "concurrency": concurrency}


BATCH_CALLS = 32


def _caption_args(root: Path) -> dict:
    import numpy as np
    from PIL import Image

    from mmagent.artifacts import ArtifactStore

    rng = np.random.default_rng(0)
    img = Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8))
    ref = ArtifactStore(root / "store").put_image(img)
    return {"image": ref.model_dump(mode="json")}


def _ratio(rates: dict[str, float]) -> dict[str, float]:
    return {**rates, "ratio": rates["batched_requests_per_s"] / rates["unbatched_requests_per_s"]}


def bench_embedded_batching(root: Path, repeat: int = 3) -> dict[str, float]:
    """32 concurrent one-task runs of the embedded executor, worker batches of 32 vs 1."""
    from concurrent.futures import ThreadPoolExecutor

    from mmagent.artifacts import ArtifactRef, ArtifactStore
    from mmagent.execution import Executor, WorkerPolicy
    from mmagent.plan import Plan
    from mmagent.tools.image_caption import ImageCaption

    inputs = {"image": ArtifactRef.model_validate(_caption_args(root)["image"])}
    plan = Plan.model_validate({"tasks": [{"id": "t1", "tool": "image_caption",
                                           "args": {"image": "$input.image"}}]})
    rates: dict[str, float] = {}
    for name, batch in (("batched", BATCH_CALLS), ("unbatched", 1)):
        reg = ToolRegistry()
        reg.register(ImageCaption, checkpoint="tiny", device="cpu",
                     cache_dir=str(root / "cache"))
        ex = Executor(reg, ArtifactStore(root / "store"), workers=WorkerPolicy(
            max_batch_size=batch, max_wait_s=0.005))
        with ThreadPoolExecutor(BATCH_CALLS) as pool:
            assert ex.run(plan, inputs).ok  # load and warm up
            samples = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                results = list(pool.map(ex.run, [plan] * BATCH_CALLS, [inputs] * BATCH_CALLS))
                samples.append(BATCH_CALLS / (time.perf_counter() - t0))
                assert all(r.ok for r in results)
        rates[f"{name}_requests_per_s"] = statistics.median(samples)
        ex.workers.close()
    return _ratio(rates)


def bench_embedded(root: Path, n: int, concurrency: int) -> dict[str, float]:
    from mmagent.serving.server import ServerThread, build_app

    agent = Agent(_config(root, 8), registry=_registry(), planner_backend=OneStep())
    with ServerThread(build_app(agent=agent)) as srv:
        return asyncio.run(_http_load(srv.base_url, n, concurrency))


def bench_ray(root: Path, n: int, concurrency: int) -> dict[str, dict]:
    import ray
    from ray import serve

    from mmagent.serving.ray.deployments import (
        ToolDeployment,
        build_ray_app,
        deployment_name,
        start_ray,
    )
    from mmagent.serving.server import free_port

    os.environ["MMAGENT_API_KEYS"] = KEY
    start_ray(temp_dir=tempfile.mkdtemp(prefix="ray-", dir="/tmp"), num_cpus=2,
              runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "MMAGENT_API_KEYS": KEY}})
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    out: dict[str, dict] = {}
    try:
        # 1. batching: one deployment batching up to 32, one not batching (same torch model)
        from mmagent.tools.image_caption import ImageCaption

        store = str(root / "store")
        args = _caption_args(root)
        settings = {"checkpoint": "tiny", "device": "cpu", "cache_dir": str(root / "cache")}
        handles = {}
        for name, batch in (("batched", BATCH_CALLS), ("unbatched", 1)):
            dep = ToolDeployment.options(name=f"caption_{name}", max_ongoing_requests=64,
                                         ray_actor_options={"num_cpus": 0.2},
                                         user_config={"max_batch_size": batch,
                                                      "batch_wait_timeout_s": 0.005})
            handles[name] = serve.run(dep.bind(ImageCaption, settings, {"store_dir": store}),
                                      name=f"b_{name}", route_prefix=None)
        rates: dict[str, float] = {}
        for name, h in handles.items():
            h.remote(args).result()  # load and warm up
            samples = []
            for _ in range(3):
                t0 = time.perf_counter()
                futs = [h.remote(args) for _ in range(BATCH_CALLS)]
                for f in futs:
                    assert "__mmagent_error__" not in f.result()
                samples.append(BATCH_CALLS / (time.perf_counter() - t0))
            rates[f"{name}_requests_per_s"] = statistics.median(samples)
        out["batching_ray"] = _ratio(rates)

        # 2. and 3.: the full app (tool deployment + ingress) over HTTP
        serve.run(build_ray_app(_config(root, 8), _registry(), planner_backend=OneStep()),
                  name="mmagent", route_prefix="/")
        base = f"http://127.0.0.1:{port}"
        # the bare call goes to the same tool deployment the ingress calls (same batching
        # settings, so the batch wait is on both sides of the comparison)
        bare_h = serve.get_deployment_handle(deployment_name(Forward.name), app_name="mmagent")
        bare, task = [], []
        from mmagent.client import Client

        with Client(base, KEY) as client:
            for _ in range(3):
                list(client.stream("go"))
            for _ in range(20):
                t0 = time.perf_counter()
                bare_h.remote({"label": "x"}).result()
                bare.append(time.perf_counter() - t0)
                fin = [e for e in client.stream("go") if e.type == "task_finished"]
                task.append(fin[0].seconds)
        b, t = statistics.median(bare), statistics.median(task)
        out["ingress_overhead"] = {"bare_handle_ms": 1000 * b, "via_ingress_task_ms": 1000 * t,
                                   "added_ms": 1000 * (t - b), "added_pct": 100 * (t - b) / b}
        out["http_ray"] = asyncio.run(_http_load(base, n, concurrency))
    finally:
        serve.shutdown()
        ray.shutdown()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--requests", type=int, default=200, help="HTTP requests per server")
    ap.add_argument("--concurrency", type=int, default=8, help="HTTP requests in flight")
    ap.add_argument("--no-durable", action="store_true", help="executor.checkpoint: false (no "
                    "SQLite record of each run), to see what durable runs cost per request")
    args = ap.parse_args()
    global DURABLE
    DURABLE = not args.no_durable
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    root = Path(tempfile.mkdtemp(prefix="mmagent-bench-serve-"))
    results = {"durable_runs": DURABLE,
               "http_embedded": bench_embedded(root, args.requests, args.concurrency)}
    embedded_batching = bench_embedded_batching(root)
    results.update(bench_ray(root, args.requests, args.concurrency))
    results["batching"] = {"embedded": embedded_batching, "ray": results.pop("batching_ray")}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    o = results["ingress_overhead"]
    print(f"batching, {BATCH_CALLS} concurrent calls of image_caption (tiny BLIP, torch):")
    for name, b in results["batching"].items():
        print(f"  {name:8}: batched {b['batched_requests_per_s']:.0f} req/s, unbatched "
              f"{b['unbatched_requests_per_s']:.0f} req/s, ratio {b['ratio']:.1f}x "
              "(target >= 4x)")
    print(f"ingress overhead per tool call: bare handle {o['bare_handle_ms']:.1f} ms, as a plan "
          f"task {o['via_ingress_task_ms']:.1f} ms, added {o['added_ms']:.1f} ms "
          f"({o['added_pct']:.1f}%, target < 10%)")
    for name in ("http_embedded", "http_ray"):
        h = results[name]
        print(f"{name}: one-step workflow, {h['requests']} requests at concurrency "
              f"{h['concurrency']}: p50 {h['p50_ms']:.0f} ms, p99 {h['p99_ms']:.0f} ms, "
              f"{h['requests_per_s']:.1f} req/s")


if __name__ == "__main__":
    main()
