"""A task over a list (``each``): the tool runs once per item, its outputs become lists, the
validator types them so, and a failing item fails the task."""

import pytest
from PIL import Image

from mmagent.errors import ArgumentSchemaError, TypeMismatchError
from mmagent.events import TaskFinished
from mmagent.execution import Executor
from mmagent.plan import Plan, validate
from mmagent.runs import RunStore
from tests.fakes import fake_registry


def _plan(*tasks):
    return Plan.model_validate({"tasks": list(tasks)})


def test_a_task_over_two_images_captions_each(store):
    refs = {"image0": store.put_image(Image.new("RGB", (7, 5))),
            "image1": store.put_image(Image.new("RGB", (3, 2)))}
    plan = _plan({"id": "t1", "tool": "fake_caption", "each": "image",
                  "args": {"image": ["$input.image0", "$input.image1"]}})
    events = []
    runs = RunStore(None)
    result = Executor(fake_registry(), store, runs=runs).run(plan, refs, events.append)
    assert result.ok
    assert result.outputs["t1"] == {"text": ["a 7x5 picture", "a 3x2 picture"]}
    finished = [e.output for e in events if isinstance(e, TaskFinished)]
    assert finished[-1] == {"text": ["a 7x5 picture", "a 3x2 picture"]}  # the task's, last
    assert runs.results(result.run_id)[0]["t1"] == {"text": ["a 7x5 picture", "a 3x2 picture"]}


def test_the_outputs_of_a_task_over_a_list_are_lists_to_the_validator():
    reg = fake_registry()
    over = {"id": "t1", "tool": "fake_sleep", "each": "label",
            "args": {"label": ["a", "b"], "seconds": 0}}
    with pytest.raises(TypeMismatchError, match="list\\[text\\]; expected text"):
        validate(_plan(over, {"id": "t2", "tool": "fake_sleep",
                              "args": {"label": "$t1.text"}}), reg, {})
    with pytest.raises(ArgumentSchemaError, match="each names 'nope'"):
        validate(_plan({**over, "each": "nope"}), reg, {})
    from mmagent.toolkit import ClientFunction, client_tools

    for cls in client_tools([ClientFunction(name="lookup", parameters={
            "type": "object", "properties": {"word": {"type": "string"}}})]):
        reg.register(cls)
    with pytest.raises(ArgumentSchemaError, match="client's function 'lookup'"):
        validate(_plan({"id": "t1", "tool": "lookup", "each": "word",
                        "args": {"word": ["a", "b"]}}), reg, {})
    with pytest.raises(TypeMismatchError):  # each takes a list, not one value
        validate(_plan({"id": "t1", "tool": "fake_caption", "each": "image",
                        "args": {"image": "$input.image0"}}), reg, {"image0": "image"})


def test_one_failing_item_fails_the_task_and_nothing_is_recorded_as_done(store):
    plan = _plan({"id": "t1", "tool": "fake_fail", "each": "text",
                  "args": {"text": ["a", "b"]}})
    runs = RunStore(None)
    result = Executor(fake_registry(), store, runs=runs).run(plan, {})
    assert not result.ok and "t1" in result.failures
    done, failed = runs.results(result.run_id)
    assert "t1" not in done and "t1" in failed


def test_a_task_over_no_items_gives_empty_lists(store):
    plan = _plan({"id": "t1", "tool": "fake_sleep", "each": "label",
                  "args": {"label": [], "seconds": 0}})
    assert Executor(fake_registry(), store).run(plan, {}).outputs["t1"] == {"text": []}


def test_a_saved_plan_over_a_list_is_a_foreach_workflow_and_reads_back(tmp_path):
    from mmagent import Agent, Config
    from mmagent.planner._learn import workflow_plan
    from mmagent.workflows import load_workflow
    from mmagent.workflows._convert import plan_to_workflow

    plan = _plan({"id": "t1", "tool": "video_frames",
                  "args": {"video": "$input.video0", "count": 4}},
                 {"id": "t2", "tool": "image_caption", "each": "image",
                  "args": {"image": "$t1.images"}})
    path = tmp_path / "frames.yaml"
    registry = Agent(Config.from_dict({"cache_dir": str(tmp_path / "cache")},
                                      profile="offline")).registry
    path.write_text(plan_to_workflow(plan, {"video0": "video"}, registry))
    wf = load_workflow(path)
    assert (wf.nodes["t2"].foreach, wf.nodes["t2"].args) == ("$t1.images", {"image": "$item"})
    assert workflow_plan(wf)[0] == plan


def test_a_caption_for_each_frame_from_the_request_to_the_answer(tmp_path):
    import imageio.v2 as imageio
    import numpy as np

    from mmagent import Agent, Config

    clip = tmp_path / "clip.mp4"
    with imageio.get_writer(clip, fps=8) as writer:
        for i in range(16):
            frame = np.zeros((64, 64, 3), np.uint8)
            frame[:, :, 0] = 15 * i
            writer.append_data(frame)
    agent = Agent(Config.from_dict({"cache_dir": str(tmp_path / "cache")}, profile="offline"))
    result = agent.run("Pull 3 frames out of this clip, then caption them.", video=[clip])
    assert [(t.tool, t.each) for t in result.plan.tasks] == [("video_frames", None),
                                                            ("image_caption", "image")]
    assert result.status == "completed" and len(result.outputs["t2"]["text"]) == 3
    assert all(f"image_caption (t2 #{k}):" in result.answer for k in (1, 2, 3))


def test_the_items_of_a_task_over_a_list_are_batched_on_a_model_worker(store):
    from mmagent.execution import WorkerPolicy
    from mmagent.toolkit import ToolRegistry
    from tests.execution.test_workers import TorchProbe

    reg = ToolRegistry()
    reg.register(TorchProbe)
    plan = _plan({"id": "t1", "tool": "torch_probe", "each": "label",
                  "args": {"label": ["a", "b", "c", "d"]}})
    # a wait long enough that the four items are gathered, on any machine
    ex = Executor(reg, store, workers=WorkerPolicy(max_batch_size=8, max_wait_s=0.5))
    result = ex.run(plan, {})
    assert result.outputs["t1"]["text"] == ["a", "b", "c", "d"]  # in the items' order
    sizes = ex.workers.batch_sizes("torch_probe")
    assert sum(sizes) == 4 and len(sizes) < 4  # fewer forward passes than items
