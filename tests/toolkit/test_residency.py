"""LRU unload under a memory budget, as a user of an embedded agent notices it."""

import logging
import threading

import pytest
from pydantic import BaseModel, ConfigDict, Field

from mmagent.agent import Agent
from mmagent.config import Config
from mmagent.errors import ConfigError
from mmagent.events import ToolUnloaded
from mmagent.execution import Executor
from mmagent.plan import Plan
from mmagent.toolkit import Resources, Tool, ToolContext, ToolRegistry


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Sized(Tool):
    """A model-free tool that 'loads weights' (an object) and declares a size."""

    loads: int = 0

    class Input(_M):
        text: str = Field(description="echoed")

    class Output(_M):
        text: str = Field(description="the text")

    def __init__(self, **kw):
        super().__init__(**kw)
        self.weights = None
        self.started = threading.Event()
        self.go = threading.Event()
        self.block = False
        self.weights_seen_after_run: list[bool] = []

    def load(self):
        type(self).loads += 1
        self.weights = object()

    def run(self, inputs, ctx):
        assert self.weights is not None, "ran without weights"
        if self.block:
            self.started.set()
            self.go.wait(timeout=30)
        self.weights_seen_after_run.append(self.weights is not None)
        return [self.Output(text=i.text) for i in inputs]


def sized(name: str, gb: float) -> type[Tool]:
    return type(f"Sized_{name}", (_Sized,), {
        "name": name, "description": f"A fake model of {gb} GB.", "loads": 0,
        "resources": Resources(gpu_memory_gb=gb)})


def registry(budget, **sizes) -> ToolRegistry:
    reg = ToolRegistry(memory_budget_gb=budget)
    for name, gb in sizes.items():
        reg.register(sized(name, gb))
    return reg


def use(reg, name, emit=None):
    with reg.using(name, emit) as tool:
        return tool.run([tool.parse_input({"text": name})], None)[0].text


def loaded(reg):
    return {row["name"] for row in reg.residency.snapshot() if row["loaded"]}


def test_over_budget_the_least_recently_used_tool_is_unloaded_and_reloads_on_next_use():
    reg = registry(1.0, a=0.6, b=0.6)
    events = []
    use(reg, "a")
    assert loaded(reg) == {"a"}
    use(reg, "b", events.append)
    assert loaded(reg) == {"b"}
    assert [(e.tool, e.for_tool) for e in events] == [("a", "b")]
    assert isinstance(events[0], ToolUnloaded) and events[0].freed_bytes == int(0.6 * 2**30)
    assert reg.get("a").weights is None  # the default unload dropped what load set
    assert use(reg, "a") == "a"  # loads again
    assert type(reg.get("a")).loads == 2 and loaded(reg) == {"a"}


def test_recently_used_tools_stay_loaded():
    reg = registry(1.0, a=0.4, b=0.4, c=0.4)
    use(reg, "a")
    use(reg, "b")
    use(reg, "a")  # a is now more recent than b
    use(reg, "c")
    assert loaded(reg) == {"a", "c"}
    assert reg.residency.unloads == 1


def test_no_budget_keeps_every_tool_loaded():
    reg = registry(None, a=0.6, b=0.6, c=5.0)
    for name in "abc":
        use(reg, name)
    assert loaded(reg) == {"a", "b", "c"}


def test_a_running_tool_is_not_unloaded_under_its_task(caplog):
    reg = registry(1.0, a=0.6, b=0.6)
    a = reg.get("a")
    a.block = True
    worker = threading.Thread(target=use, args=(reg, "a"))
    worker.start()
    assert a.started.wait(timeout=30)
    with caplog.at_level(logging.WARNING, logger="mmagent.toolkit._residency"):
        use(reg, "b")  # needs room, but a is running
    assert loaded(reg) == {"a", "b"}
    assert "over the" in caplog.text and "budget" in caplog.text
    a.go.set()
    worker.join(timeout=30)
    assert a.weights_seen_after_run == [True]
    assert type(a).loads == 1
    # once a is idle, the registry is brought back under budget
    assert len(loaded(reg)) == 1


def test_measured_size_replaces_the_declared_estimate():
    torch = pytest.importorskip("torch")

    class Linear(_Sized):
        name = "linear"
        description = "Holds a 256x256 linear layer."
        resources = Resources(gpu_memory_gb=50.0)

        def load(self):
            self.weights = self.model = torch.nn.Linear(256, 256)

    reg = ToolRegistry(memory_budget_gb=1.0)
    reg.register(Linear)
    use(reg, "linear")
    row = reg.residency.snapshot()[0]
    assert row["measured"] and row["bytes"] == (256 * 256 + 256) * 4
    reg.get("linear").unload()
    assert "model" not in reg.get("linear").__dict__


def test_the_executor_reports_unloads_as_events(store):
    reg = registry(1.0, a=0.6, b=0.6)
    plan = Plan.model_validate({"tasks": [
        {"id": "t1", "tool": "a", "args": {"text": "x"}},
        {"id": "t2", "tool": "b", "args": {"text": "$t1.text"}}]})
    events = []
    result = Executor(reg, store).run(plan, {}, events.append)
    assert result.ok and result.outputs["t2"]["text"] == "x"
    unloads = [e for e in events if e.type == "tool_unloaded"]
    assert [(e.tool, e.for_tool) for e in unloads] == [("a", "b")]


def test_calling_a_tool_directly_also_respects_the_budget(store):
    reg = registry(1.0, a=0.6, b=0.6)
    ctx = ToolContext(store)
    assert reg.get("a")(ctx, text="hi").text == "hi"
    assert reg.get("b")(ctx, text="ho").text == "ho"
    assert loaded(reg) == {"b"}


def test_budget_comes_from_the_config():
    agent = Agent(Config.from_dict({"runtime": {"memory_budget_gb": 2.5}}))
    assert agent.registry.residency.budget_bytes == int(2.5 * 2**30)
    with pytest.raises(ConfigError, match="runtime.memory_budget_gb"):
        Config.from_dict({"runtime": {"memory_budget_gb": -1}})


def test_per_tool_device_and_dtype_from_the_config_reach_the_model():
    torch = pytest.importorskip("torch")
    cfg = Config.from_dict({"tools": {"image_caption": {"checkpoint": "tiny", "device": "cpu",
                                                        "dtype": "bfloat16"}}})
    tool = Agent(cfg).registry.get("image_caption")
    assert (tool.device_pref, tool.dtype_pref) == ("cpu", "bfloat16")
    tool.ensure_loaded()
    assert next(tool.model.parameters()).dtype == torch.bfloat16
    assert tool.memory_bytes() == sum(p.numel() * 2 for p in tool.model.parameters()) + sum(
        b.numel() * b.element_size() for b in tool.model.buffers())
