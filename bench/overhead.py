"""Executor overhead per task: an N-task chain of no-op tasks through the executor, against the
same chain as a bare LangGraph ``StateGraph`` (one node per task, nothing else; about 0.23 ms a
node on a quiet machine) in the same process, as a reference for how loaded the machine is. Each
figure is the median and the spread over the repeats, the runs timed in turn so that machine
drift hits all of them.

    python bench/overhead.py [--json] [--tasks N] [--repeat R] [--profile]

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

from mmagent.artifacts import ArtifactStore
from mmagent.execution import Executor
from mmagent.plan import Plan


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
    ap.add_argument("--profile", action="store_true", help="print a profile of one run instead")
    ap.add_argument("--top", type=int, default=45, help="functions the profile prints")
    args = ap.parse_args()
    emit = json_stdout(args.json)
    n = args.tasks
    store = ArtifactStore(tempfile.mkdtemp(prefix="mmagent-bench-"))
    plain, durable = noop_executors(store)
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
               [e / b for e, b in zip(rows["executor"], rows["bare_langgraph"], strict=True)], 2)}
    if args.json:
        emit(out)
        return

    print(f"{n}-task no-op chain, ms per task, median [min-max] over {args.repeat}:")
    for k, v in out["per_task_ms"].items():
        print(f"  {k:16} {fmt_spread(v, 3)}")
    print("  (target: executor <= 0.3 ms per task)")
    print(f"  executor / bare LangGraph: {fmt_spread(out['executor_over_bare_langgraph'], 3)}")


if __name__ == "__main__":
    main()
