"""Executor overhead per task: an N-task chain of no-op tasks through the executor, against the
same chain as a bare LangGraph ``StateGraph`` (one node per task, nothing else; about 0.23 ms a
node on a quiet machine) in the same process, as a reference for how loaded the machine is.

Then a small CPU tool (pure Python, about ``--tool-ms`` ms) called directly (``tool.run`` on the
main thread, as a user's script would) against a one-task plan that runs it through the
executor, whole ``Executor.run`` calls timed (validation, scheduling, events, spans, the run
journal): the bare executor, the durable one (``RunStore`` on SQLite, the default config) and
the tool as a worker tool (``Tool.worker``: the thread model tools run on). Wall time and the
process's CPU time (every thread), each side the least of ``--calls`` calls made in turn; the
ratio is taken per repeat.

Each figure is the median and the spread over the repeats, the runs timed in turn so that
machine drift hits all of them.

    python bench/overhead.py [--json] [--tasks N] [--repeat R] [--tool-ms MS] [--profile]

``--profile`` runs the chain under a sampling-free profiler of every thread
(``threading.setprofile`` + ``cProfile``) and prints where the executor's time goes, by
function, cumulative, instead of the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import threading
import time
from typing import Any, TypedDict

from _chain import noop_chain, noop_executors
from _stats import fmt_spread, spread
from _stdout import json_stdout
from pydantic import Field

from mmagent.artifacts import ArtifactStore
from mmagent.execution import Executor
from mmagent.plan import Plan
from mmagent.runs import RunStore
from mmagent.toolkit import Ports, Tool, ToolContext, ToolRegistry


class _WorkIn(Ports):
    n: int = Field(ge=1, description="loop iterations")


class _WorkOut(Ports):
    total: int = Field(description="the loop's sum")


class Work(Tool):
    name = "work"
    description = "A small CPU function: a pure-Python loop of n iterations."
    Input, Output = _WorkIn, _WorkOut

    def run(self, inputs, ctx):
        return [_WorkOut(total=sum(i * i % 7 for i in range(x.n))) for x in inputs]


class WorkOnWorker(Work):
    name = "work_on_worker"
    description = "The same loop on a worker thread of its own, as model tools run."
    worker = True


def iterations_for(ms: float) -> int:
    """Loop iterations that take about ``ms`` ms here (the least of 5 timings of a probe)."""
    probe = 20_000
    took = min(timed(lambda: Work().run([_WorkIn(n=probe)], None)) for _ in range(5))
    return max(1, round(probe * ms / 1000 / took))


def tool_ratio(store: ArtifactStore, runs: RunStore, ms: float, repeat: int,
               calls: int) -> dict[str, Any]:
    """A one-task plan through the executor, whole runs timed, against the tool called
    directly. Per repeat, each side's least wall time and least process CPU time (every thread)
    over ``calls`` calls made in turn: the floor of each, free of neighbours' bursts; the ratio
    is taken per repeat."""
    reg = ToolRegistry()
    reg.register(Work)
    reg.register(WorkOnWorker)
    n = iterations_for(ms)
    plain, durable = Executor(reg, store), Executor(reg, store, runs=runs)
    plans = {name: Plan.model_validate({"tasks": [{"id": "t", "tool": name, "args": {"n": n}}]})
             for name in ("work", "work_on_worker")}
    tool, inp, ctx = reg.get("work"), _WorkIn(n=n), ToolContext(store)
    sides: dict[str, Any] = {
        "direct": lambda: tool.run([inp], ctx),
        "executor": lambda: plain.run(plans["work"], {}),
        "executor_sqlite": lambda: durable.run(plans["work"], {}),
        "executor_worker": lambda: plain.run(plans["work_on_worker"], {}),
    }
    for fn in sides.values():
        fn()  # warm: the worker thread starts
    rows: dict[str, dict[str, list[float]]] = {"wall": {k: [] for k in sides},
                                               "cpu": {k: [] for k in sides}}
    for _ in range(repeat):
        took: dict[str, dict[str, list[float]]] = {"wall": {k: [] for k in sides},
                                                   "cpu": {k: [] for k in sides}}
        for _ in range(calls):
            for k, fn in sides.items():
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                took["wall"][k].append((time.perf_counter() - t0) * 1000)
                took["cpu"][k].append((time.process_time() - c0) * 1000)
        for clock, by_side in took.items():
            for k, v in by_side.items():
                rows[clock][k].append(min(v))
    plain.workers.close()
    return {"calls": calls, **{clock: {
        "ms": {k: spread(v) for k, v in by_side.items()},
        "over_direct": {k: spread([u / d for u, d in zip(v, by_side["direct"], strict=True)])
                        for k, v in by_side.items() if k != "direct"}}
        for clock, by_side in rows.items()}}


def bare_langgraph(n: int):
    """The floor: a LangGraph chain of n nodes that each append one string."""
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        last: str

    g = StateGraph(State)
    for i in range(n):
        g.add_node(f"n{i}", lambda s: {"last": "done"})
        g.add_edge(START if i == 0 else f"n{i - 1}", f"n{i}")
    g.add_edge(f"n{n - 1}", END)
    return g.compile()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def profile(executor: Executor, plan: Plan, top: int) -> str:
    """cProfile in every thread started while it runs (``threading.setprofile``), stats merged:
    ``executor`` must be fresh, so that its threads start under the hook; two runs, the first
    one's one-time costs spread over 2N tasks."""
    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start(*_: Any) -> None:
        sys.setprofile(None)  # this thread only: from here its own cProfile holds the hook
        p = cProfile.Profile()
        with lock:
            profilers.append(p)
        p.enable()

    main = cProfile.Profile()
    threading.setprofile(start)
    main.enable()
    executor.run(plan, {})
    executor.run(plan, {})
    main.disable()
    threading.setprofile(None)
    for p in profilers:
        p.disable()
    buf = io.StringIO()
    stats = pstats.Stats(main, stream=buf)
    for p in profilers:
        stats.add(p)
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--tasks", type=int, default=200, help="tasks in the chain")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved repeats (median, spread)")
    ap.add_argument("--tool-ms", type=float, default=10.0,
                    help="about how long the small CPU tool takes, in ms")
    ap.add_argument("--calls", type=int, default=15,
                    help="calls of each side per repeat for the tool ratio (the least)")
    ap.add_argument("--profile", action="store_true", help="print a profile of one run instead")
    ap.add_argument("--top", type=int, default=45, help="functions the profile prints")
    args = ap.parse_args()
    emit = json_stdout(args.json)
    n = args.tasks
    store = ArtifactStore(tempfile.mkdtemp(prefix="mmagent-bench-"))
    plain, durable = noop_executors(store)
    runs = durable.runs
    assert runs is not None
    plan, graph = noop_chain(n), bare_langgraph(n)
    for run in (lambda: plain.run(plan, {}), lambda: durable.run(plan, {}),
                lambda: graph.invoke({"last": ""})):
        run()  # warm
    if args.profile:
        print(profile(Executor(plain.registry, store), plan, args.top))
        return
    rows: dict[str, list[float]] = {"executor": [], "executor_sqlite": [], "bare_langgraph": []}
    for _ in range(args.repeat):
        rows["bare_langgraph"].append(timed(lambda: graph.invoke({"last": ""})) / n * 1000)
        rows["executor"].append(timed(lambda: plain.run(plan, {})) / n * 1000)
        rows["executor_sqlite"].append(timed(lambda: durable.run(plan, {})) / n * 1000)
    out = {"tasks": n, "repeat": args.repeat, "cores": os.cpu_count(),
           "per_task_ms": {k: spread(v) for k, v in rows.items()},
           "executor_over_bare_langgraph": spread(
               [e / b for e, b in zip(rows["executor"], rows["bare_langgraph"], strict=True)], 2),
           "tool": tool_ratio(store, runs, args.tool_ms, args.repeat, args.calls)}
    if args.json:
        emit(out)
        return

    print(f"{n}-task no-op chain, ms per task, median [min-max] over {args.repeat}:")
    for k, v in out["per_task_ms"].items():
        print(f"  {k:16} {fmt_spread(v, 3)}")
    print("  (target: executor <= 0.3 ms per task)")
    print(f"  executor / bare LangGraph: {fmt_spread(out['executor_over_bare_langgraph'], 3)}")
    tool = out["tool"]
    print(f"a {tool['wall']['ms']['direct']['median']:.1f} ms CPU tool as a one-task plan, "
          f"whole runs / its direct call (least of {tool['calls']} calls per repeat):")
    for k, v in tool["wall"]["over_direct"].items():
        print(f"  {k:16} wall {fmt_spread(v)}  cpu {fmt_spread(tool['cpu']['over_direct'][k])}")
    print("  (target: wall <= 1.05)")


if __name__ == "__main__":
    main()
