"""VisualQA on the tiny random-weight BLIP VQA model, loaded through from_pretrained."""

import json

import pytest

from mmagent import Agent, Config
from mmagent.toolkit import ToolContext
from mmagent.tools.visual_qa import VisualQA
from tests.planner.test_planner import Scripted

from .conformance import ToolConformance
from .test_image_caption import PHOTO, put_three_images

A_REF = {"id": "0" * 64, "mime": "image/png"}  # parses as an ImageRef; never loaded


@pytest.fixture(scope="module")
def tool():
    tool = VisualQA(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


def test_answers_depend_on_image_and_question(tool, store):
    refs = put_three_images(store)
    questions = ["what is in the picture", "how many people are there", "is it raining"]
    out = tool.run([tool.parse_input({"image": r, "question": q})
                    for r in refs for q in questions], ToolContext(store))
    answers = [o.answer for o in out]
    assert all(isinstance(a, str) for a in answers)
    assert len(set(answers)) > 3, answers


def test_a_question_is_answered_alike_whatever_its_batch_neighbours(tool, store):
    # padding a short question to a long neighbour's length must not change its answer
    ref = put_three_images(store)[0]
    short = tool.parse_input({"image": ref, "question": "yes"})
    long = tool.parse_input({"image": ref, "question": "how many people are there in the park "
                                                       "and what is the weather like"})
    ctx = ToolContext(store)
    assert tool.run([short, long], ctx)[0] == tool.run([short], ctx)[0]


def test_too_long_question_names_the_argument_and_limit(tool):
    from mmagent.errors import ToolInputError

    with pytest.raises(ToolInputError, match="300") as e:
        tool.parse_input({"image": A_REF, "question": "why " * 100})
    assert e.value.details["arg"] == "question"


def test_runs_through_the_sdk_on_the_offline_profile(tmp_path):
    plan = {"tasks": [{"id": "t1", "tool": "visual_qa",
                       "args": {"image": "$input.image0", "question": "what is in the picture"}}]}
    agent = Agent(Config.from_dict({"store_dir": str(tmp_path / "store"),
                                  "router": {"mode": "plan"},
                                  "planner": {"grounding": {"enabled": False}}},
                                 profile="offline"),
                  planner_backend=Scripted(json.dumps(plan)))
    result = agent.run("What is in the picture?", images=[PHOTO])
    assert [t.tool for t in result.plan.tasks] == ["visual_qa"]
    assert isinstance(result.outputs["t1"]["answer"], str)
    assert result.ok


class TestVisualQAConformance(ToolConformance):
    tool_cls = VisualQA
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    bad_inputs = [
        ({"question": "what is it"}, "image"),
        ({"image": A_REF}, "question"),
        ({"image": A_REF, "question": ""}, "question"),
        ({"image": A_REF, "question": "x" * 301}, "question"),
        ({"image": A_REF, "question": "what", "max_new_tokens": 0}, "max_new_tokens"),
        ({"image": A_REF, "question": "what", "max_new_tokens": 65}, "max_new_tokens"),
        ({"image": A_REF, "question": "what", "colour": "red"}, "colour"),
    ]

    def make_inputs(self, store):
        refs = put_three_images(store)
        # two questions of one length in tokens (one batch), one longer; different budgets
        return [
            {"image": refs[0], "question": "what is in the picture"},
            {"image": refs[1], "question": "what colour is the car", "max_new_tokens": 4},
            {"image": refs[2], "question": "yes", "max_new_tokens": 12},
        ]
