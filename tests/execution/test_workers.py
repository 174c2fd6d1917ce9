"""Per-tool workers: model tools run on one long-lived thread each, concurrent calls batched."""

import threading
import time

import numpy as np
import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from mmagent import Config
from mmagent.agent import make_executor
from mmagent.errors import ConfigError
from mmagent.events import TaskFinished, TaskProgress
from mmagent.execution import Executor, TaskPolicy, WorkerPolicy
from mmagent.plan import Plan
from mmagent.toolkit import Tool, ToolContext, ToolRegistry
from mmagent.tools.image_classify import ImageClassify
from tests.tools.conformance import assert_close


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TorchProbe(Tool):
    """A small torch computation that reports the thread it ran on and its CPU threads."""

    name = "torch_probe"
    description = "Multiplies a random matrix; reports where it ran."
    worker = True

    class Input(_M):
        label: str = Field(description="echoed back; 'crash' makes the model fail")
        seconds: float = Field(0.0, ge=0, le=5, description="extra time to take")

    class Output(_M):
        text: str = Field(description="the label")
        thread: int = Field(description="id of the thread that ran the call")
        threads: int = Field(description="torch CPU threads on that thread")
        batch: int = Field(description="inputs in the run")

    def run(self, inputs, ctx):
        import torch

        if any(i.label == "crash" for i in inputs):
            raise RuntimeError("the model crashed on 'crash'")
        x = torch.randn(64, 64)
        (x @ x).sum().item()
        time.sleep(max(i.seconds for i in inputs))
        ctx.progress(1, 1)
        return [self.Output(text=i.label, thread=threading.get_ident(),
                            threads=torch.get_num_threads(), batch=len(inputs))
                for i in inputs]


def _plan(tool, args_list):
    return Plan.model_validate({"tasks": [{"id": f"t{i}", "tool": tool, "args": a}
                                          for i, a in enumerate(args_list)]})


def _images(store, n):
    rng = np.random.default_rng(0)
    return [store.put_image(Image.fromarray((rng.random((20, 24, 3)) * 255).astype(np.uint8)))
            for _ in range(n)]


def test_concurrent_calls_run_in_batches_with_the_outputs_of_single_calls(store):
    reg = ToolRegistry()
    reg.register(ImageClassify, checkpoint="tiny", device="cpu")
    labels = ["cat", "dog", "a red car"]
    images = {f"img{i}": ref for i, ref in enumerate(_images(store, 6))}
    args = [{"image": f"$input.img{i}", "labels": labels[: 2 + i % 2]} for i in range(6)]
    # a wait long enough that all six independent tasks are gathered, on any machine
    ex = Executor(reg, store, workers=WorkerPolicy(max_batch_size=8, max_wait_s=0.5))
    events = []
    result = ex.run(_plan("image_classify", args), images, events.append)
    assert result.ok

    tool = reg.get("image_classify")
    literal = [{**a, "image": images[f"img{i}"].model_dump(mode="json")}
               for i, a in enumerate(args)]
    singles = [tool.run([tool.parse_input(a)], ToolContext(store))[0].model_dump()
               for a in literal]
    assert_close([result.outputs[f"t{i}"] for i in range(6)], singles, 1e-5)
    sizes = ex.workers.batch_sizes("image_classify")
    assert sum(sizes) == 6 and len(sizes) < 6  # fewer forward passes than calls
    finished = [e for e in events if isinstance(e, TaskFinished)]
    assert max(e.batch_size for e in finished) > 1


def test_max_batch_size_one_runs_every_call_alone(store):
    reg = ToolRegistry()
    reg.register(TorchProbe)
    ex = Executor(reg, store, tool_workers={"torch_probe": WorkerPolicy(max_batch_size=1,
                                                                        max_wait_s=0.2)})
    result = ex.run(_plan("torch_probe", [{"label": str(i)} for i in range(4)]), {})
    assert result.ok and {o["batch"] for o in result.outputs.values()} == {1}
    assert ex.workers.batch_sizes("torch_probe") == [1, 1, 1, 1]


def test_a_tool_runs_on_one_long_lived_thread_with_its_own_cpu_threads(store):
    reg = ToolRegistry()
    reg.register(TorchProbe)
    ex = Executor(reg, store, workers=WorkerPolicy(threads=1))
    threads = set()
    for i in range(3):  # three runs, one after another: the same worker thread each time
        out = ex.run(_plan("torch_probe", [{"label": str(i)}]), {}).outputs["t0"]
        threads.add(out["thread"])
        assert out["threads"] == 1
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_a_call_that_crashes_its_batch_fails_alone(store):
    reg = ToolRegistry()
    reg.register(TorchProbe)
    ex = Executor(reg, store, workers=WorkerPolicy(max_wait_s=0.5))
    events = []
    result = ex.run(_plan("torch_probe", [{"label": "a"}, {"label": "crash"}, {"label": "b"}]),
                    {}, events.append)
    assert result.outputs["t0"]["text"] == "a" and result.outputs["t2"]["text"] == "b"
    assert list(result.failures) == ["t1"]
    assert "the model crashed" in result.failures["t1"].message
    assert {e.task_id for e in events if isinstance(e, TaskProgress)} >= {"t0", "t2"}


def test_a_call_past_its_limit_does_not_hold_up_the_next(store):
    reg = ToolRegistry()
    reg.register(TorchProbe)
    ex = Executor(reg, store, policy=TaskPolicy(timeout_s=0.5),
                  workers=WorkerPolicy(max_batch_size=1))
    slow = ex.run(_plan("torch_probe", [{"label": "slow", "seconds": 3}]), {})
    assert slow.failures["t0"].code == "tool.timeout"
    t0 = time.perf_counter()
    quick = ex.run(_plan("torch_probe", [{"label": "quick"}]), {})
    assert quick.ok and time.perf_counter() - t0 < 2  # not queued behind the stuck call


def test_worker_settings_come_from_the_config(tmp_path):
    cfg = Config.from_dict({"cache_dir": str(tmp_path), "executor": {
        "workers": {"max_batch_size": 4, "max_wait_s": 0.01},
        "tool_workers": {"image_generate": {"max_batch_size": 2, "threads": 1}}}})
    from mmagent.artifacts import ArtifactStore

    ex = make_executor(cfg, ToolRegistry(), ArtifactStore(tmp_path / "store"))
    assert ex.workers.policy == WorkerPolicy(max_batch_size=4, max_wait_s=0.01)
    assert ex.workers.tool_policies["image_generate"] == WorkerPolicy(max_batch_size=2,
                                                                      threads=1)
    with pytest.raises(ConfigError, match="executor.workers.max_batch_size"):
        Config.from_dict({"executor": {"workers": {"max_batch_size": 0}}})


def test_the_readme_worker_settings_are_a_valid_config(tmp_path):
    import re
    from pathlib import Path

    import yaml

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "tool_workers" in b)
    cfg = Config.from_dict(yaml.safe_load(block))
    assert cfg.executor.workers.max_batch_size == 8
    assert cfg.executor.tool_workers["image_caption"].max_wait_s == 0.01
