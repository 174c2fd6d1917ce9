"""The router on clear cases: both routes, the reason in the events, no LLM call on the vlm
route."""

import json

import pytest
from pydantic import BaseModel, ConfigDict, Field

from mmagent import Agent, Config
from mmagent.artifacts import AudioRef, ImageRef
from mmagent.errors import InputError
from mmagent.events import PlanCreated, RouteChosen
from mmagent.planner import Router
from mmagent.toolkit import Tool
from tests.fakes import fake_registry
from tests.planner.test_planner import GOOD, Scripted

IMAGE = ImageRef(id="a" * 64, mime="image/png", width=8, height=8)


class FakeVlm(Tool):
    name = "vlm_chat"
    description = "Answers a question about images."

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")
        images: list[ImageRef] = Field(description="the images")
        question: str = Field(description="the question")
        history: list[dict] | None = Field(None, description="earlier turns")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")
        answer: str = Field(description="the answer")

    def run(self, inputs, ctx):
        return [self.Output(answer=f"{len(i.images)} image(s): {i.question}") for i in inputs]


def vlm_registry():
    reg = fake_registry()
    reg.register(FakeVlm)
    return reg


@pytest.mark.parametrize("prompt", ["What breed is this dog?", "Describe the scene.",
                                    "how many people are in these photos"])
def test_plain_questions_about_images_go_to_vlm_chat(prompt):
    route = Router(vlm_registry()).decide(prompt, {"image0": IMAGE, "image1": IMAGE})
    assert route.route == "vlm" and "question about 2 images" in route.reason
    (task,) = route.plan.tasks
    assert task.tool == "vlm_chat"
    assert task.args == {"images": ["$input.image0", "$input.image1"], "question": prompt}


@pytest.mark.parametrize("prompt, inputs, why", [
    ("What is in this photo? Say it aloud.", {"image0": IMAGE}, "audio output ('Say it')"),
    ("Make the sky stormy in this photo.", {"image0": IMAGE}, "image output"),
    ("Turn this picture into a short video.", {"image0": IMAGE}, "video output"),
    ("What is said in this recording?", {"audio0": AudioRef(id="b" * 64, mime="audio/wav")},
     "no image was given"),
    ("What is this?", {"image0": IMAGE, "audio0": AudioRef(id="b" * 64, mime="audio/wav")},
     "brings audio"),
])
def test_other_outputs_or_inputs_go_to_the_planner(prompt, inputs, why):
    route = Router(vlm_registry()).decide(prompt, inputs)
    assert route.route == "plan" and why in route.reason and route.plan is None


def test_without_vlm_chat_everything_is_planned_and_modes_override():
    assert Router(fake_registry()).decide("What is this?", {"image0": IMAGE}).reason == \
        "vlm_chat is not registered"
    assert Router(vlm_registry(), "plan").decide("What is this?", {"image0": IMAGE}).route == \
        "plan"
    forced = Router(vlm_registry(), "vlm").decide("Say it aloud", {"image0": IMAGE})
    assert forced.route == "vlm" and forced.reason == "router.mode is vlm"
    with pytest.raises(InputError, match="no image"):
        Router(vlm_registry(), "vlm").decide("Say it aloud", {})


class Fixed:
    """Embeds by keywords: 'look' near the question prototypes, everything else near tasks."""

    def embed(self, texts):
        import numpy as np

        q = ("What is in this picture?", "Describe", "How many", "Compare", "Tell me",
             "Identify")
        return np.array([[1.0, 0.0] if t.startswith(q) or "look" in t else [0.0, 1.0]
                         for t in texts])


def test_the_embedder_settles_requests_without_cue_or_question_form():
    router = Router(vlm_registry(), embedder=Fixed())
    route = router.decide("The overall look of this shot", {"image0": IMAGE})
    assert route.route == "vlm" and "closest to a question" in route.reason
    route = router.decide("Sharpen the details please", {"image0": IMAGE})
    assert route.route == "plan" and "closest to a task" in route.reason


@pytest.fixture
def photo(tmp_path):
    from PIL import Image

    p = tmp_path / "photo.png"
    Image.new("RGB", (32, 24)).save(p)
    return p


def test_agent_reports_the_route_first_and_skips_the_llm_on_the_vlm_route(tmp_path, photo):
    backend = Scripted()
    agent = Agent(Config.from_dict({"cache_dir": str(tmp_path / "c")}), registry=vlm_registry(),
                  planner_backend=backend)
    result = agent.run("What colour is the sky here?", images=[photo])
    route, planned = result.events[:2]
    assert isinstance(route, RouteChosen) and route.route == "vlm" and route.reason
    assert isinstance(planned, PlanCreated) and planned.attempts == 0
    assert result.outputs["t1"]["answer"] == "1 image(s): What colour is the sky here?"
    assert backend.calls == [] and backend.deliver_calls == []


def test_agent_plans_when_the_router_says_so(tmp_path, photo):
    backend = Scripted(json.dumps(GOOD))
    agent = Agent(Config.from_dict({"cache_dir": str(tmp_path / "c"),  # the LLM's plan
                                    "planner": {"grounding": {"enabled": False}}}),
                  registry=vlm_registry(), planner_backend=backend)
    events = list(agent.stream("Describe it and say it aloud.", images=[photo]))
    assert events[0].route == "plan" and "audio output" in events[0].reason
    assert json.loads(events[0].model_dump_json())["type"] == "route"
    assert [t.tool for t in events[1].plan.tasks] == ["fake_caption", "fake_speak"]
