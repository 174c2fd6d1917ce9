"""Chaos benchmark: replicas die under load on the Ray path; how many requests are lost?

    python bench/chaos.py [--json] [--requests 40] [--concurrency 8] [--tool-replicas 1]
                          [--api stream|runs]

A local Ray instance (2 CPUs, its own temp dir, listeners on 127.0.0.1) serves the HTTP API
with two ingress replicas and one deployment of a simulated model tool (a forward pass of
100 ms plus 1 ms per batch item, sleeping as a GPU kernel leaves the CPU free). 40 workflow
runs (``POST /v1/workflows/one_step/runs``, streamed) go in at concurrency 8. Once 10 have
finished, one tool replica is SIGKILLed; once 25 have, one ingress replica is.

A tool call whose replica died is sent again by the ingress (``serving.ray.retries``; each
resend is a ``task_retrying`` event: "retried"). A request whose ingress replica died gets
an error or a cut stream; the client sends it again, as the ``openai`` package does with a
5xx ("resent"). Printed per phase (before the kills, after the tool kill, after the ingress
kill): requests, completed, failed (a run that reported a failed task), lost (no answer
after 3 sends), retried, resent, and p50/p99 latency (of the send that completed, from the
first send). Target: 0 failed, 0 lost. Timings on a shared 2-core machine are inflated.

``--api runs`` sends the same work through the runs API instead (``POST /v1/runs`` with the
workflow, then ``GET /v1/runs/{id}`` until it ends, any replica answering): a run held by the
killed ingress replica is taken over by the other once it missed its heartbeats for
``serving.runs.lease_s`` (10 s here; "resumed"); a run counts as lost if it has not ended 60 s
after the last kill.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel, ConfigDict, Field

from mmagent import Config
from mmagent.toolkit import (
    Tool,
    ToolRegistry,
)

KEY = "sk-chaos"
FORWARD_S, PER_ITEM_S = 0.100, 0.001
SENDS = 3  # a client's sends of one request before it counts as lost
WORKFLOW = """\
version: 1
description: One call of fake_forward.
inputs:
  label: {type: text, description: echoed back}
nodes:
  forward: {tool: fake_forward, args: {label: $input.label}}
outputs:
  text: $forward.text
"""


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


@dataclass
class Outcome:
    label: str
    started: float
    seconds: float | None = None
    status: str = "lost"  # completed | failed | lost
    retried: int = 0  # task_retrying events: the ingress resent a tool call
    resent: int = 0  # the client sent the request again (its ingress replica died)
    resumed: int = 0  # runs API: another ingress replica took the run over and finished it
    errors: list[str] = field(default_factory=list)


def _config(root: Path, tool_replicas: int) -> Config:
    (root / "one_step.yaml").write_text(WORKFLOW)
    return Config.from_dict({
        "cache_dir": str(root / "cache"),
        "workflows": {"paths": [str(root / "one_step.yaml")]},
        "executor": {"cache": False},  # every request reaches the tool
        "serving": {"api_keys": [KEY], "runs": {"lease_s": 10}, "ray": {
            "ingress_replicas": 2, "ingress_num_cpus": 0.2,
            "defaults": {"num_cpus": 0.2, "num_replicas": tool_replicas, "max_batch_size": 8,
                         "batch_wait_timeout_s": 0.005, "max_ongoing_requests": 32}}}})


def _send(base: str, out: Outcome) -> None:
    """One request, sent up to SENDS times; fills ``out``."""
    import httpx

    for send in range(SENDS):
        events: list[dict] = []
        done = False
        try:
            with httpx.stream("POST", f"{base}/v1/workflows/one_step/runs", timeout=120,
                              json={"inputs": {"label": out.label}, "stream": True},
                              headers={"Authorization": f"Bearer {KEY}"}) as resp:
                if resp.status_code != 200:
                    raise RuntimeError(f"HTTP {resp.status_code}")
                for line in resp.iter_lines():
                    if line == "data: [DONE]":
                        done = True
                    elif line.startswith("data:"):
                        events.append(json.loads(line[5:]))
        except (httpx.HTTPError, RuntimeError, json.JSONDecodeError) as e:
            out.errors.append(f"{type(e).__name__}: {str(e)[:80]}")
        out.retried += sum(e.get("type") == "task_retrying" for e in events)
        if done:
            failed = [e for e in events if e.get("type") == "task_failed"]
            texts = [e["output"]["text"] for e in events if e.get("type") == "task_finished"]
            out.status = "failed" if failed or texts != [out.label] else "completed"
            out.errors += [e["message"][:120] for e in failed]
            out.seconds = time.perf_counter() - out.started
            return
        if send < SENDS - 1:
            out.resent += 1
            time.sleep(0.5)


def _run(base: str, out: Outcome, give_up_at: list[float]) -> None:
    """One request through the runs API; fills ``out``."""
    import httpx

    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, timeout=30, headers=headers) as http:
        run_id = None
        for send in range(SENDS):
            try:
                r = http.post("/v1/runs", json={"workflow": "one_step",
                                                "inputs": {"label": out.label}})
                if r.status_code == 200:
                    run_id = r.json()["id"]
                    break
                out.errors.append(f"HTTP {r.status_code}")
            except httpx.HTTPError as e:
                out.errors.append(f"{type(e).__name__}: {str(e)[:80]}")
            out.resent += send < SENDS - 1
            time.sleep(0.5)
        while run_id is not None and time.perf_counter() < give_up_at[0]:
            try:
                info = http.get(f"/v1/runs/{run_id}").json()
            except (httpx.HTTPError, ValueError):
                time.sleep(0.2)
                continue
            if info.get("status") in ("completed", "failed", "cancelled"):
                out.status = "completed" if info["status"] == "completed" and \
                    info["outputs"]["forward"]["text"] == out.label else "failed"
                out.seconds = time.perf_counter() - out.started
                with http.stream("GET", f"/v1/runs/{run_id}/events") as events:
                    lines = list(events.iter_lines())
                out.retried = sum('"task_retrying"' in line for line in lines)
                out.resumed = int(sum('"type":"plan"' in line.replace(" ", "")
                                      for line in lines) > 1)
                return
            time.sleep(0.1)


def _kill_one(deployment: str) -> int:
    from tests.serving.helpers import replica_pids

    pids = replica_pids("mmagent", deployment)
    if not pids:
        raise RuntimeError(f"no live replica of {deployment} to kill")
    os.kill(pids[0], signal.SIGKILL)
    return pids[0]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _summary(outcomes: list[Outcome]) -> dict:
    lat = [o.seconds for o in outcomes if o.status == "completed" and o.seconds is not None]
    p50, p99 = _pct(lat, 0.5), _pct(lat, 0.99)
    return {"requests": len(outcomes),
            "completed": sum(o.status == "completed" for o in outcomes),
            "failed": sum(o.status == "failed" for o in outcomes),
            "lost": sum(o.status == "lost" for o in outcomes),
            "retried": sum(o.retried for o in outcomes),
            "resent": sum(o.resent for o in outcomes),
            "resumed": sum(o.resumed for o in outcomes),
            "p50_ms": None if p50 is None else round(1000 * p50),
            "p99_ms": None if p99 is None else round(1000 * p99)}


def run(n: int, concurrency: int, tool_replicas: int, api: str = "stream") -> dict:
    import ray
    from ray import serve

    from mmagent.serving.ray.cluster import wait_until_ready
    from mmagent.serving.ray.deployments import build_ray_app, start_ray
    from mmagent.serving.server import free_port

    root = Path(tempfile.mkdtemp(prefix="mmagent-chaos-"))
    os.environ["MMAGENT_API_KEYS"] = KEY
    start_ray(temp_dir=tempfile.mkdtemp(prefix="ray-", dir="/tmp"), num_cpus=2,
              runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "MMAGENT_API_KEYS": KEY}})
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    base = f"http://127.0.0.1:{port}"
    try:
        reg = ToolRegistry()
        reg.register(Forward)
        serve._run(build_ray_app(_config(root, tool_replicas), reg, report=lambda _: None),
                   name="mmagent", route_prefix="/", _blocking=False)
        wait_until_ready("mmagent", 180, report=lambda _: None)
        for i in range(2 * concurrency):  # warm-up: both ingress replicas, the tool
            _send(base, Outcome(f"warm{i}", time.perf_counter()))

        outcomes = [Outcome(f"r{i}", 0.0) for i in range(n)]
        finished = threading.Semaphore(0)
        kills: list[tuple[str, float, int]] = []

        give_up_at = [float("inf")]  # 60 s after the last kill

        def one(o: Outcome) -> None:
            o.started = time.perf_counter()
            try:
                _send(base, o) if api == "stream" else _run(base, o, give_up_at)
            finally:
                finished.release()

        def killer() -> None:
            for after, deployment in ((10, "tool_fake_forward"), (25, "ingress")):
                while sum(o.seconds is not None for o in outcomes) < min(after, n - 1):
                    finished.acquire(timeout=1)
                kills.append((deployment, time.perf_counter(), _kill_one(deployment)))
            give_up_at[0] = time.perf_counter() + 60

        t0 = time.perf_counter()
        chaos = threading.Thread(target=killer, daemon=True)
        chaos.start()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, outcomes))
        wall = time.perf_counter() - t0
        chaos.join(timeout=5)
    finally:
        serve.shutdown()
        ray.shutdown()

    (_, t_tool, _), (_, t_ingress, _) = kills[0], kills[1]
    phases = {"before the kills": [o for o in outcomes if o.started < t_tool],
              "after the tool replica kill": [o for o in outcomes
                                              if t_tool <= o.started < t_ingress],
              "after the ingress replica kill": [o for o in outcomes if o.started >= t_ingress]}
    in_flight = {name: [o for o in outcomes if o.started < t and
                        (o.seconds is None or o.started + o.seconds > t)]
                 for name, t in (("tool", t_tool), ("ingress", t_ingress))}
    return {"api": api, "requests": n, "concurrency": concurrency,
            "tool_replicas": tool_replicas,
            "ingress_replicas": 2, "wall_s": round(wall, 2),
            "in_flight_at_kill": {k: len(v) for k, v in in_flight.items()},
            "phases": {k: _summary(v) for k, v in phases.items()},
            "total": _summary(outcomes),
            "errors": sorted({e for o in outcomes for e in o.errors})[:10]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--tool-replicas", type=int, default=1)
    ap.add_argument("--api", choices=["stream", "runs"], default="stream",
                    help="streamed workflow runs (default), or the runs API")
    args = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    result = run(args.requests, args.concurrency, args.tool_replicas, args.api)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['api']}: {result['requests']} requests at concurrency "
          f"{result['concurrency']}; "
          f"{result['tool_replicas']} tool replica(s), 2 ingress replicas; requests in flight "
          f"at the kills: tool {result['in_flight_at_kill']['tool']}, ingress "
          f"{result['in_flight_at_kill']['ingress']}; {result['wall_s']} s")
    cols = ("requests", "completed", "failed", "lost", "retried", "resent", "resumed", "p50_ms",
            "p99_ms")
    print(f"{'phase (by send time)':32}" + "".join(f"{c:>10}" for c in cols))
    for name, row in [*result["phases"].items(), ("total", result["total"])]:
        print(f"{name:32}" + "".join(f"{'-' if row[c] is None else row[c]:>10}"
                                     for c in cols))
    for e in result["errors"]:
        print(f"  seen: {e}")


if __name__ == "__main__":
    main()
