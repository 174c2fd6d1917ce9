"""Executor dataflow benchmark: makespan against the critical path, on synthetic tools.

For each DAG shape the same plan runs twice through :class:`mmagent.executor.Executor`:
concurrently (the default) and one task at a time (``max_concurrency=1``). Printed per shape:
makespan / critical path (1.00 is perfect dataflow; a superstep runtime scores higher on uneven
shapes), and the speed-up over one-by-one. A long chain of no-op tasks gives the executor's
per-task overhead.

    python bench/dag.py [--json] [--repeat N]

Tools: ``sleep`` (waits, like a remote call) and ``cpu`` (hashes a buffer, releasing the GIL
like real model kernels do; on N cores its lower bound is max(critical path, work / N)).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time

from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts import ArtifactStore
from mmagent.executor import Executor
from mmagent.plan import Plan
from mmagent.registry import ToolRegistry
from mmagent.runs import RunStore
from mmagent.tool import Tool

_BUF = os.urandom(1 << 20)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, description="how long the task takes")
    after: list[str] = Field(default_factory=list, description="outputs it waits for")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="done marker")


class Sleep(Tool):
    name = "sleep"
    description = "Waits."
    Input, Output = _In, _Out

    def run(self, inputs, ctx):
        for i in inputs:
            time.sleep(i.seconds)
        return [_Out(text="done") for _ in inputs]


class Cpu(Tool):
    name = "cpu"
    description = "Hashes memory: a fixed amount of work that takes `seconds` on an idle core."
    Input, Output = _In, _Out
    hashes_per_second = 0.0  # calibrated in main()

    def run(self, inputs, ctx):
        for i in inputs:
            for _ in range(round(i.seconds * self.hashes_per_second)):
                hashlib.sha256(_BUF).digest()  # releases the GIL, as model kernels do
        return [_Out(text="done") for _ in inputs]


def calibrate() -> float:
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < 0.5:
        hashlib.sha256(_BUF).digest()
        n += 1
    return n / (time.perf_counter() - t0)


# shape -> {task: (seconds, [dependencies])}
SHAPES: dict[str, dict[str, tuple[float, list[str]]]] = {
    "chain": {"a": (0.2, []), "b": (0.2, ["a"]), "c": (0.2, ["b"])},
    "fan_out_8": {f"t{i}": (0.3, []) for i in range(8)},
    "uneven": {"a": (1.0, []), "b": (0.1, []), "c": (0.5, ["b"])},
    "diamond": {"a": (0.2, []), "b": (0.3, ["a"]), "c": (0.5, ["a"]), "d": (0.2, ["b", "c"])},
}


def plan_for(shape: dict[str, tuple[float, list[str]]], tool: str) -> Plan:
    return Plan.model_validate({"tasks": [
        {"id": t, "tool": tool, "args": {"seconds": s, "after": [f"${d}.text" for d in deps]}}
        for t, (s, deps) in shape.items()]})


def critical_path(shape: dict[str, tuple[float, list[str]]]) -> float:
    finish: dict[str, float] = {}
    for t, (s, deps) in shape.items():  # shapes are listed in topological order
        finish[t] = s + max((finish[d] for d in deps), default=0.0)
    return max(finish.values())


def makespan(executor: Executor, plan: Plan, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = executor.run(plan, {})
        times.append(time.perf_counter() - t0)
        assert result.ok, result.failures
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    args = ap.parse_args()

    Cpu.hashes_per_second = calibrate()
    reg = ToolRegistry()
    reg.register(Sleep)
    reg.register(Cpu)
    store = ArtifactStore(tempfile.mkdtemp(prefix="mmagent-bench-"))
    concurrent, one_by_one = Executor(reg, store), Executor(reg, store, max_concurrency=1)
    cores = os.cpu_count() or 1
    rows = []
    for tool in ("sleep", "cpu"):
        for name, shape in SHAPES.items():
            plan = plan_for(shape, tool)
            cp = critical_path(shape)
            work = sum(s for s, _ in shape.values())
            bound = cp if tool == "sleep" else max(cp, work / cores)
            m = makespan(concurrent, plan, args.repeat)
            seq = makespan(one_by_one, plan, 1)
            rows.append({"tool": tool, "shape": name, "critical_path_s": cp,
                         "lower_bound_s": round(bound, 4), "makespan_s": round(m, 4),
                         "makespan_over_bound": round(m / bound, 3),
                         "speedup_over_one_by_one": round(seq / m, 2)})

    n = 200
    chain = Plan.model_validate({"tasks": [
        {"id": f"n{i}", "tool": "sleep",
         "args": {"seconds": 0, "after": [f"$n{i - 1}.text"] if i else []}}
        for i in range(n)]})
    overhead_ms = makespan(concurrent, chain, 1) / n * 1000
    # the same chain with durable runs on: every task's output committed to SQLite
    durable = Executor(reg, store, runs=RunStore(os.path.join(store.root, "runs.sqlite")))
    durable_ms = makespan(durable, chain, 1) / n * 1000

    out = {"cores": cores, "shapes": rows, "per_task_overhead_ms": round(overhead_ms, 3),
           "per_task_overhead_ms_sqlite_checkpointer": round(durable_ms, 3)}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{'tool':5} {'shape':10} {'bound s':>8} {'makespan s':>10} {'÷ bound':>8} "
          f"{'speed-up':>9}")
    for r in rows:
        print(f"{r['tool']:5} {r['shape']:10} {r['lower_bound_s']:8.2f} {r['makespan_s']:10.3f} "
              f"{r['makespan_over_bound']:8.3f} {r['speedup_over_one_by_one']:8.2f}x")
    print(f"per-task executor overhead: {overhead_ms:.2f} ms ({n}-task chain of no-op tasks)")
    print(f"  with the SQLite checkpointer (durable runs): {durable_ms:.2f} ms")


if __name__ == "__main__":
    main()
