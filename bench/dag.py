"""Executor dataflow benchmark: makespan against the critical path, on torch tools, beside peers.

Every task of a DAG shape is its own tool (as in a real plan: image generation beside music
generation), a torch model that runs a stack of matrix products sized so that a direct call
(``tool.run`` on the main thread) takes the task's nominal seconds. The critical path and the
sum of all tasks are computed from those measured direct-call latencies. Each shape runs through:

- **mmagent**: :class:`mmagent.execution.Executor` (dataflow; model tools on their own
  long-lived worker threads);
- **langgraph_naive**: a LangGraph ``StateGraph`` compiled naively, one node per task and an
  edge per dependency, the node calling the tool (supersteps: a step waits for its slowest node);
- **hugginggpt**: a HuggingGPT-style scheduler, a fresh thread per ready task and a 0.5 s sleep
  whenever a pass over the tasks started nothing.

Printed per shape: each runner's makespan / critical path (1.00 is perfect dataflow), and
mmagent's makespan against each peer's. Then one tool's latency under the executor against a
direct call, and the executor's per-task overhead on a chain of no-op tasks (also with the
SQLite checkpointer on).

    python bench/dag.py [--json] [--repeat N] [--scale S]

On a CPU, tasks that run at once share the cores: a shape with parallel work cannot finish
before (sum of work) / (speed-up the cores give), so the printed ``work_s`` is a second bound.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import statistics
import tempfile
import threading
import time
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts import ArtifactStore
from mmagent.execution import Executor
from mmagent.plan import Plan
from mmagent.runs import RunStore
from mmagent.toolkit import Tool, ToolContext, ToolRegistry

DIM = 256  # one product: (DIM x DIM) @ (DIM x DIM)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, description="nominal direct-call time of the task")
    after: list[str] = Field(default_factory=list, description="outputs it waits for")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="done marker")


class TorchWork(Tool):
    """Runs ``seconds * products_per_second`` matrix products of a fixed random model."""

    name = "torch_work"
    description = "A torch model: a stack of matrix products."
    Input, Output = _In, _Out
    worker = True
    products_per_second = 0.0  # calibrated in main(), on the main thread

    def load(self) -> None:
        import torch

        gen = torch.Generator().manual_seed(0)
        self.weight = torch.randn(DIM, DIM, generator=gen) / DIM ** 0.5

    def run(self, inputs, ctx):
        import torch

        with torch.inference_mode():
            for i in inputs:
                x = self.weight
                for _ in range(round(i.seconds * self.products_per_second)):
                    x = torch.tanh(x @ self.weight)
        return [_Out(text="done") for _ in inputs]


class Sleep(Tool):
    name = "sleep"
    description = "Waits (no work): measures the executor's own overhead."
    Input, Output = _In, _Out

    def run(self, inputs, ctx):
        for i in inputs:
            time.sleep(i.seconds)
        return [_Out(text="done") for _ in inputs]


def tool_class(task: str) -> type[Tool]:
    return type(f"TorchWork_{task}", (TorchWork,), {"name": f"torch_{task}",
                                                     "__module__": __name__})


def calibrate() -> float:
    tool = TorchWork()
    tool.ensure_loaded()
    TorchWork.products_per_second = 1000.0
    tool.run([_In(seconds=0.05)], None)  # warm-up
    t0 = time.perf_counter()
    tool.run([_In(seconds=0.3)], None)
    return 300 / (time.perf_counter() - t0)


# shape -> {task: (seconds, [dependencies])}
SHAPES: dict[str, dict[str, tuple[float, list[str]]]] = {
    "chain": {"a": (0.2, []), "b": (0.2, ["a"]), "c": (0.2, ["b"])},
    "fan_out_4": {f"t{i}": (0.3, []) for i in range(4)},
    "uneven": {"a": (1.0, []), "b": (0.1, []), "c": (0.5, ["b"])},
    "diamond": {"a": (0.2, []), "b": (0.3, ["a"]), "c": (0.5, ["a"]), "d": (0.2, ["b", "c"])},
    # the GPU probe's plan: image_generate -> image_caption, beside music_generate
    "two_branch": {"image": (0.4, []), "caption": (0.1, ["image"]), "music": (0.6, [])},
}


def scaled(shape: dict[str, tuple[float, list[str]]], s: float):
    return {t: (sec * s, deps) for t, (sec, deps) in shape.items()}


def plan_for(shape: dict[str, tuple[float, list[str]]]) -> Plan:
    return Plan.model_validate({"tasks": [
        {"id": t, "tool": f"torch_{t}", "args": {"seconds": s,
                                                 "after": [f"${d}.text" for d in deps]}}
        for t, (s, deps) in shape.items()]})


def critical_path(shape: dict[str, tuple[float, list[str]]], took: dict[str, float]) -> float:
    finish: dict[str, float] = {}
    for t, (_, deps) in shape.items():  # shapes are listed in topological order
        finish[t] = took[t] + max((finish[d] for d in deps), default=0.0)
    return max(finish.values())


def direct_latencies(reg: ToolRegistry, shape, store) -> dict[str, float]:
    """Each task's tool called directly on the main thread (median of 3, after a warm-up)."""
    out = {}
    for t, (s, _) in shape.items():
        tool = reg.get(f"torch_{t}")
        tool.ensure_loaded()
        inp = tool.parse_input({"seconds": s})
        tool.run([inp], ToolContext(store))
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            tool.run([inp], ToolContext(store))
            times.append(time.perf_counter() - t0)
        out[t] = statistics.median(times)
    return out


def run_mmagent(executor: Executor, plan: Plan) -> float:
    t0 = time.perf_counter()
    result = executor.run(plan, {})
    assert result.ok, result.failures
    return time.perf_counter() - t0


def run_langgraph(reg: ToolRegistry, shape, store) -> float:
    """One node per task, an edge per dependency, compiled and invoked as a user would."""
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        done: Annotated[list[str], operator.add]

    def node(task: str, seconds: float):
        def call(_state: State) -> dict[str, Any]:
            tool = reg.get(f"torch_{task}")
            tool.ensure_loaded()
            tool.run([tool.parse_input({"seconds": seconds})], ToolContext(store))
            return {"done": [task]}

        return call

    g = StateGraph(State)
    has_dependents = {d for _, deps in shape.values() for d in deps}
    for t, (s, deps) in shape.items():
        g.add_node(t, node(t, s))
        if not deps:
            g.add_edge(START, t)
        else:
            g.add_edge(deps if len(deps) > 1 else deps[0], t)  # a join waits for all
        if t not in has_dependents:
            g.add_edge(t, END)
    app = g.compile()
    t0 = time.perf_counter()
    out = app.invoke({"done": []})
    assert sorted(out["done"]) == sorted(shape), out
    return time.perf_counter() - t0


def run_hugginggpt(reg: ToolRegistry, shape, store) -> float:
    """A thread per ready task; when a pass starts nothing, sleep 0.5 s and look again."""
    done: set[str] = set()
    started: set[str] = set()
    lock = threading.Lock()

    def work(task: str, seconds: float) -> None:
        tool = reg.get(f"torch_{task}")
        tool.ensure_loaded()
        tool.run([tool.parse_input({"seconds": seconds})], ToolContext(store))
        with lock:
            done.add(task)

    t0 = time.perf_counter()
    threads = []
    while True:
        new = 0
        with lock:
            ready = [t for t, (_, deps) in shape.items()
                     if t not in started and all(d in done for d in deps)]
            finished = len(done) == len(shape)
        if finished:
            break
        for t in ready:
            started.add(t)
            th = threading.Thread(target=work, args=(t, shape[t][0]), daemon=True)
            th.start()
            threads.append(th)
            new += 1
        if not new:
            time.sleep(0.5)
    for th in threads:
        th.join()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every task's seconds")
    args = ap.parse_args()

    TorchWork.products_per_second = calibrate()
    store = ArtifactStore(tempfile.mkdtemp(prefix="mmagent-bench-"))
    rows = []
    for name, base in SHAPES.items():
        shape = scaled(base, args.scale)
        reg = ToolRegistry()
        for t in shape:
            reg.register(tool_class(t))
        took = direct_latencies(reg, shape, store)
        cp = critical_path(shape, took)
        work = sum(took.values())
        executor = Executor(reg, store)
        run_mmagent(executor, plan_for(shape))  # warm the workers
        m = statistics.median(run_mmagent(executor, plan_for(shape))
                              for _ in range(args.repeat))
        lg = statistics.median(run_langgraph(reg, shape, store) for _ in range(args.repeat))
        hg = statistics.median(run_hugginggpt(reg, shape, store) for _ in range(args.repeat))
        executor.workers.close()
        rows.append({"shape": name, "critical_path_s": round(cp, 4), "work_s": round(work, 4),
                     "makespan_s": {"mmagent": round(m, 4), "langgraph_naive": round(lg, 4),
                                    "hugginggpt": round(hg, 4)},
                     "over_critical_path": {"mmagent": round(m / cp, 3),
                                            "langgraph_naive": round(lg / cp, 3),
                                            "hugginggpt": round(hg / cp, 3)},
                     "mmagent_speedup": {"over_langgraph_naive": round(lg / m, 2),
                                         "over_hugginggpt": round(hg / m, 2)}})

    # one tool's latency under the executor (task_finished.seconds) against a direct call
    reg = ToolRegistry()
    reg.register(tool_class("x"))
    shape = {"x": (0.5 * args.scale, [])}
    direct = direct_latencies(reg, shape, store)["x"]
    executor = Executor(reg, store)
    under = []
    for i in range(args.repeat + 1):
        events: list[Any] = []
        assert executor.run(plan_for(shape), {}, events.append).ok
        if i:  # the first run starts the worker
            under.append(next(e.seconds for e in events if e.type == "task_finished"))
    latency = {"direct_s": round(direct, 4), "executor_s": round(statistics.median(under), 4),
               "ratio": round(statistics.median(under) / direct, 3)}

    n = 200
    chain = Plan.model_validate({"tasks": [
        {"id": f"n{i}", "tool": "sleep",
         "args": {"seconds": 0, "after": [f"$n{i - 1}.text"] if i else []}}
        for i in range(n)]})
    reg = ToolRegistry()
    reg.register(Sleep)
    overhead_ms = run_mmagent(Executor(reg, store), chain) / n * 1000
    durable = Executor(reg, store, runs=RunStore(os.path.join(store.root, "runs.sqlite")))
    durable_ms = run_mmagent(durable, chain) / n * 1000

    import torch

    out = {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "shapes": rows,
           "tool_latency": latency, "per_task_overhead_ms": round(overhead_ms, 3),
           "per_task_overhead_ms_sqlite_checkpointer": round(durable_ms, 3)}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{'shape':11} {'crit s':>7} {'work s':>7} | makespan / critical path: "
          f"{'mmagent':>8} {'langgraph':>9} {'hugginggpt':>10} | mmagent faster by")
    for r in rows:
        o, s = r["over_critical_path"], r["mmagent_speedup"]
        print(f"{r['shape']:11} {r['critical_path_s']:7.2f} {r['work_s']:7.2f} | "
              f"{'':25}{o['mmagent']:8.2f} {o['langgraph_naive']:9.2f} {o['hugginggpt']:10.2f}"
              f" | {s['over_langgraph_naive']:.2f}x vs langgraph, "
              f"{s['over_hugginggpt']:.2f}x vs hugginggpt")
    print(f"tool latency: direct {latency['direct_s']:.3f} s, under the executor "
          f"{latency['executor_s']:.3f} s ({latency['ratio']:.2f}x, target <= 1.10x)")
    print(f"per-task executor overhead: {overhead_ms:.2f} ms ({n}-task chain of no-op tasks)")
    print(f"  with the SQLite checkpointer (durable runs): {durable_ms:.2f} ms")


if __name__ == "__main__":
    main()
