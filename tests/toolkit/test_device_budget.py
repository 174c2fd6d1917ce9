"""A tool that can never fit the memory budget is refused with a typed error (real torch
modules, measured after loading; on CUDA the measure is the device memory the load took)."""

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field

from mmagent.errors import ToolMemoryError
from mmagent.execution import Executor
from mmagent.plan import Plan
from mmagent.toolkit import Resources, Tool, ToolContext, ToolRegistry
from mmagent.tools.image_caption import ImageCaption
from mmagent.tools.image_classify import ImageClassify


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Wide(Tool):
    """A 1024x1024 linear layer: 4 MiB of float32 weights."""

    name = "wide"
    description = "Projects a vector through one wide linear layer."
    resources = Resources(gpu_memory_gb=0.0001)  # declares far less than it holds
    worker = True

    class Input(_M):
        text: str = Field(description="echoed back")

    class Output(_M):
        text: str = Field(description="the text")

    def load(self):
        self.layer = torch.nn.Linear(1024, 1024)

    def run(self, inputs, ctx):
        return [self.Output(text=i.text) for i in inputs]


def test_a_tool_bigger_than_the_whole_budget_is_refused_and_not_left_loaded(store):
    reg = ToolRegistry(memory_budget_gb=2 / 1024)  # 2 MiB
    reg.register(Wide)
    with pytest.raises(ToolMemoryError) as e:
        reg.get("wide")(ToolContext(store), text="hi")
    assert e.value.code == "tool.over_budget"
    assert "'wide'" in str(e.value) and "runtime.memory_budget_gb=0.00195" in str(e.value)
    assert e.value.details["size_bytes"] == (1024 * 1024 + 1024) * 4
    assert not reg.get("wide")._loaded and "layer" not in reg.get("wide").__dict__
    # the next attempt is refused before loading again
    with pytest.raises(ToolMemoryError):
        reg.get("wide")(ToolContext(store), text="hi")

    result = Executor(reg, store).run(Plan.model_validate(
        {"tasks": [{"id": "t1", "tool": "wide", "args": {"text": "x"}}]}), {})
    assert result.status == "failed" and result.failures["t1"].code == "tool.over_budget"


def test_real_tools_are_counted_by_their_measured_bytes_and_unloaded_to_fit(store):
    reg = ToolRegistry()
    reg.register(ImageClassify, checkpoint="tiny", device="cpu")
    reg.register(ImageCaption, checkpoint="tiny", device="cpu")
    with reg.using("image_classify"), reg.using("image_caption"):
        pass
    sizes = {r["name"]: r["bytes"] for r in reg.residency.snapshot()}
    assert all(r["measured"] for r in reg.residency.snapshot())
    assert sizes["image_classify"] == reg.get("image_classify").memory_bytes()

    # a budget that holds either tool but not both: using one unloads the other
    budget = max(sizes.values()) * 1.5 / 2**30
    small = ToolRegistry(memory_budget_gb=budget)
    small.register(ImageClassify, checkpoint="tiny", device="cpu")
    small.register(ImageCaption, checkpoint="tiny", device="cpu")
    for name in ("image_classify", "image_caption", "image_classify"):
        with small.using(name):
            pass
    loaded = {r["name"] for r in small.residency.snapshot() if r["loaded"]}
    assert loaded == {"image_classify"} and small.residency.unloads == 2
    assert small.residency.resident_bytes() <= small.residency.budget_bytes
