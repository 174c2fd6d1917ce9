"""The no-op chain: N tasks of a tool that does nothing, each waiting for the one before, so
that what the chain takes is the executor's own cost per task. ``overhead.py`` times it against
a bare LangGraph chain; ``dag.py`` reports it beside its shapes."""

from __future__ import annotations

import os

from pydantic import Field

from mmagent.artifacts import ArtifactStore
from mmagent.execution import Executor
from mmagent.plan import Plan
from mmagent.runs import RunStore
from mmagent.toolkit import Ports, Tool, ToolRegistry

__all__ = ["Noop", "noop_chain", "noop_executors"]


class Noop(Tool):
    name = "noop"
    description = "Does nothing: what is left is the executor's own cost."

    class Input(Ports):
        after: list[str] = Field(default_factory=list, description="outputs it waits for")

    class Output(Ports):
        text: str = Field(description="done marker")

    def run(self, inputs, ctx):
        return [self.Output(text="done") for _ in inputs]


def noop_chain(n: int) -> Plan:
    """``n`` :class:`Noop` tasks, each taking the one before as input."""
    return Plan.model_validate({"tasks": [
        {"id": f"n{i}", "tool": "noop", "args": {"after": [f"$n{i - 1}.text"] if i else []}}
        for i in range(n)]})


def noop_executors(store: ArtifactStore) -> tuple[Executor, Executor]:
    """Two executors of :class:`Noop`: without a run journal, and durable (every run recorded
    in ``runs.sqlite`` beside the store)."""
    reg = ToolRegistry()
    reg.register(Noop)
    return (Executor(reg, store),
            Executor(reg, store, runs=RunStore(os.path.join(store.root, "runs.sqlite"))))
