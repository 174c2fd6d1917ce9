"""Offline evaluation of the planner on public benchmarks (no tool runs)."""

from mmagent.eval._taskbench import TaskBenchReport, evaluate_taskbench, load_taskbench, score

__all__ = ["TaskBenchReport", "evaluate_taskbench", "load_taskbench", "score"]
