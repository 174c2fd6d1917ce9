"""Running workflows: named outputs, when, foreach (before and during the run), failures,
streaming, and LLM plans saved as workflows that run again without the LLM."""

import json

import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from mmagent import Agent, Config
from mmagent.artifacts import ImageRef
from mmagent.errors import InputError, ToolExecutionError
from mmagent.events import AnswerReady, PlanCreated, RunStarted, TaskStarted
from mmagent.toolkit import Tool
from mmagent.workflows import load_workflow, plan_to_workflow
from tests.fakes import fake_registry
from tests.planner.test_planner import GOOD, Scripted


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FakeSplit(Tool):
    name = "fake_split"
    description = "Cuts an image into vertical strips."

    class Input(_M):
        image: ImageRef = Field(description="the image")
        n: int = Field(2, ge=0, le=8, description="how many strips")

    class Output(_M):
        images: list[ImageRef] = Field(description="the strips")
        count: int = Field(description="how many")

    def run(self, inputs, ctx):
        out = []
        for i in inputs:
            img = ctx.store.load_image(i.image)
            w = img.width // max(i.n, 1)
            strips = [ctx.store.put_image(img.crop((k * w, 0, (k + 1) * w, img.height)))
                      for k in range(i.n)]
            out.append(self.Output(images=strips, count=len(strips)))
        return out


class FakeJoin(Tool):
    name = "fake_join"
    description = "Joins texts with ' | '."

    class Input(_M):
        texts: list[str] = Field(description="texts")

    class Output(_M):
        text: str = Field(description="joined")

    def run(self, inputs, ctx):
        return [self.Output(text=" | ".join(i.texts)) for i in inputs]


@pytest.fixture
def agent(tmp_path):
    def make(*answers):
        reg = fake_registry()
        reg.register(FakeSplit)
        reg.register(FakeJoin)
        cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache")})
        return Agent(cfg, registry=reg, planner_backend=Scripted(*answers))
    return make


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.png"
    Image.new("RGB", (32, 24), (0, 128, 255)).save(p)
    return p


def write(tmp_path, text):
    path = tmp_path / "wf.yaml"
    path.write_text(text)
    return path


SPEAK = """\
version: 1
inputs:
  image: {type: image}
  speak: {type: boolean, default: true}
nodes:
  caption: {tool: fake_caption, args: {image: $input.image}}
  say:
    tool: fake_speak
    when: $input.speak
    args: {text: $caption.text}
outputs:
  description: $caption.text
  speech: $say.audio
"""


def test_outputs_are_named_in_the_result_and_the_answer(agent, tmp_path, photo):
    result = agent().run_workflow(write(tmp_path, SPEAK), {"image": photo})
    assert result.named_outputs["description"] == "a 32x24 picture"
    speech = result.named_outputs["speech"]
    assert speech["kind"] == "audio"
    (art,) = result.artifacts
    assert art.id == speech["id"] and art.task == "say"
    assert "description: a 32x24 picture" in result.answer
    assert f"speech: audio artifact://{speech['id']}" in result.answer
    assert [type(e) for e in result.events][-1] is AnswerReady
    assert result.events[-1].artifacts == [speech["id"]]


def test_a_false_condition_skips_the_node_without_failing(agent, tmp_path, photo):
    result = agent().run_workflow(write(tmp_path, SPEAK), {"image": photo, "speak": False})
    assert result.ok and [t.id for t in result.plan.tasks] == ["caption"]
    assert result.named_outputs["speech"] is None and result.artifacts == []
    assert "speech: not produced (its condition (when) was false)" in result.answer


def test_foreach_over_an_input_list_runs_once_per_item(agent, tmp_path, photo):
    small = tmp_path / "small.png"
    Image.new("RGB", (8, 4)).save(small)
    text = """\
version: 1
inputs:
  images: {type: "list[image]"}
nodes:
  caption:
    tool: fake_caption
    foreach: $input.images
    args: {image: $item}
  join: {tool: fake_join, args: {texts: $caption.text}}
outputs:
  captions: $caption.text
  all: $join.text
"""
    result = agent().run_workflow(write(tmp_path, text), {"images": [photo, small]})
    assert [t.id for t in result.plan.tasks] == ["caption_0", "caption_1", "join"]
    assert result.named_outputs == {"captions": ["a 32x24 picture", "a 8x4 picture"],
                                    "all": "a 32x24 picture | a 8x4 picture"}
    plans = [e for e in result.events if isinstance(e, PlanCreated)]
    assert len(plans) == 1  # known before the run: one plan, one dataflow run


def test_foreach_and_when_over_node_outputs_plan_a_second_stage(agent, tmp_path, photo):
    text = """\
version: 1
inputs:
  image: {type: image}
  strips: {type: integer, default: 3}
nodes:
  split: {tool: fake_split, args: {image: $input.image, n: $input.strips}}
  caption:
    tool: fake_caption
    foreach: $split.images
    when: {$split.count: {gt: 1}}
    args: {image: $item}
  join: {tool: fake_join, args: {texts: [$caption.text, done]}}
outputs:
  captions: $caption.text
  all: $join.text
"""
    path = write(tmp_path, text)
    result = agent().run_workflow(path, {"image": photo})
    assert result.named_outputs["captions"] == ["a 10x24 picture"] * 3
    assert result.named_outputs["all"] == " | ".join(["a 10x24 picture"] * 3 + ["done"])
    plans = [e.plan for e in result.events if isinstance(e, PlanCreated)]
    assert [[t.id for t in p.tasks] for p in plans] == [
        ["split"], ["split", "caption_0", "caption_1", "caption_2", "join"]]
    started = [e.task_id for e in result.events if isinstance(e, TaskStarted)]
    assert started.count("split") == 1  # the first stage's outputs are reused, not recomputed

    result = agent().run_workflow(path, {"image": photo, "strips": 1})
    assert result.ok and result.named_outputs == {"captions": None, "all": None}
    assert "not produced (its condition (when) was false)" in result.answer


def test_a_failed_node_skips_its_dependents_and_raises_with_the_result(agent, tmp_path, photo):
    text = """\
version: 1
inputs:
  image: {type: image}
nodes:
  caption: {tool: fake_caption, args: {image: $input.image}}
  broken: {tool: fake_fail, args: {text: $caption.text}}
  say: {tool: fake_speak, args: {text: $broken.text}}
outputs:
  description: $caption.text
  speech: $say.audio
"""
    with pytest.raises(ToolExecutionError) as e:
        agent().run_workflow(write(tmp_path, text), {"image": photo})
    result = e.value.result
    assert result.named_outputs["description"] == "a 32x24 picture"
    assert set(result.failures) == {"broken", "say"}
    assert "the fake model crashed" in result.failures["broken"]


def test_stream_ends_with_the_answer_and_bad_input_raises_first(agent, tmp_path, photo):
    path = write(tmp_path, SPEAK)
    events = list(agent().stream_workflow(path, {"image": photo}))
    # the run id comes first, so a killed workflow run can be resumed
    assert isinstance(events[0], RunStarted) and len(events[0].run_id) == 32
    assert isinstance(events[1], PlanCreated) and isinstance(events[-1], AnswerReady)
    assert all(json.loads(e.model_dump_json()) for e in events)
    with pytest.raises(InputError):
        agent().stream_workflow(path, {"image": photo, "speak": "yes please"})


def test_an_llm_plan_saved_as_a_workflow_runs_again_without_the_llm(agent, tmp_path, photo):
    a = agent(json.dumps(GOOD))
    first = a.run("Describe it and say it aloud", images=[photo])
    path = tmp_path / "saved.yaml"
    path.write_text(plan_to_workflow(first.plan, {"image0": "image"}, a.registry,
                                     description="Describe it and say it aloud"))
    wf = load_workflow(path)
    assert wf.description == "Describe it and say it aloud" and list(wf.inputs) == ["image0"]
    again = agent().run_workflow(path, {"image0": photo})  # no planner answers left to give
    assert again.outputs == first.outputs
    assert again.named_outputs["t1_text"] == "a 32x24 picture"
    assert again.named_outputs["t2_audio"]["id"] == first.artifacts[0].id
