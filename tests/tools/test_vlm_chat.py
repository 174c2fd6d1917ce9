"""vlm_chat on a tiny random-weight LLaVA (Llama + CLIP vision), loaded through the auto classes."""

import json

import pytest

from mmagent import Agent, Config
from mmagent.errors import ToolInputError
from mmagent.events import TaskProgress
from mmagent.toolkit import ToolContext
from mmagent.tools.vlm_chat import MAX_IMAGES, VLMChat
from tests.planner.test_planner import Scripted

from .conformance import ToolConformance
from .test_image_caption import PHOTO, put_three_images

A_REF = {"id": "0" * 64, "mime": "image/png"}  # parses as an ImageRef; never loaded


@pytest.fixture(scope="module")
def tool():
    tool = VLMChat(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


def test_tiny_checkpoint_loads_through_the_image_text_to_text_auto_classes(tool):
    from transformers import CLIPImageProcessorPil, LlavaForConditionalGeneration, LlavaProcessor

    assert isinstance(tool.model, LlavaForConditionalGeneration)
    assert isinstance(tool.processor, LlavaProcessor)
    assert isinstance(tool.processor.image_processor, CLIPImageProcessorPil)
    assert tool.model.name_or_path == tool.checkpoint_path()


def test_history_and_images_reach_the_prompt(tool, store, monkeypatch):
    refs = put_three_images(store)
    prompts = []
    real = tool.processor.apply_chat_template

    def spy(messages, **kw):
        prompts.append(real(messages, **kw))
        return prompts[-1]

    monkeypatch.setattr(tool.processor, "apply_chat_template", spy)
    inp = tool.parse_input({
        "images": refs[:2], "question": "what colour is the car", "max_new_tokens": 3,
        "history": [{"role": "user", "content": "describe the image"},
                    {"role": "assistant", "content": "a dog running"}]})
    tool.run([inp], ToolContext(store))
    assert prompts == ["user: describe the image\nassistant: a dog running\n"
                       "user: <image><image>what colour is the car\nassistant: "]


def test_answers_depend_on_the_images(tool, store):
    refs = put_three_images(store)
    out = tool.run([tool.parse_input({"images": [r], "question": "what is in this picture",
                                      "max_new_tokens": 8}) for r in refs], ToolContext(store))
    assert len({o.answer for o in out}) == 3


def test_each_generated_token_is_a_progress_event(tool, store):
    events = []
    ctx = ToolContext(store, emit=events.append, task_id="t1")
    ref = put_three_images(store)[0]
    tool.run([tool.parse_input({"images": [ref], "question": "describe the image in detail",
                                "max_new_tokens": 5})], ctx)
    steps = [(e.step, e.total) for e in events if isinstance(e, TaskProgress)]
    assert steps and steps[-1][1] == 5 and steps == [(i + 1, 5) for i in range(len(steps))]
    assert all(e.task_id == "t1" for e in events)


def test_too_many_images_name_the_argument_and_limit(tool):
    with pytest.raises(ToolInputError, match=str(MAX_IMAGES)) as e:
        tool.parse_input({"images": [A_REF] * (MAX_IMAGES + 1), "question": "compare them"})
    assert e.value.details["arg"] == "images"


def test_runs_through_the_sdk_on_the_offline_profile(tmp_path):
    plan = {"tasks": [{"id": "t1", "tool": "vlm_chat",
                       "args": {"images": ["$input.image0"],
                                "question": "What is in this photo?"}}]}
    agent = Agent(Config.from_dict({"store_dir": str(tmp_path / "store"),
                                    "planner": {"grounding": {"enabled": False}}},
                                   profile="offline"),
                  planner_backend=Scripted(json.dumps(plan), json.dumps(plan)))
    events = list(agent.stream("What is in this photo?", images=[PHOTO]))
    progress = [e for e in events if isinstance(e, TaskProgress)]
    assert progress and progress[0].task_id == "t1"
    result = agent.run("What is in this photo?", images=[PHOTO])
    assert isinstance(result.outputs["t1"]["answer"], str) and result.ok


class TestVLMChatConformance(ToolConformance):
    tool_cls = VLMChat
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    bad_inputs = [
        ({"question": "what is it"}, "images"),
        ({"images": [], "question": "what is it"}, "images"),
        ({"images": [A_REF] * (MAX_IMAGES + 1), "question": "what is it"}, "images"),
        ({"images": [A_REF]}, "question"),
        ({"images": [A_REF], "question": ""}, "question"),
        ({"images": [A_REF], "question": "x" * 2001}, "question"),
        ({"images": [A_REF], "question": "hi", "history": [{"role": "robot", "content": "x"}]},
         "history"),
        ({"images": [A_REF], "question": "hi", "history": [{"role": "user"}]}, "history"),
        ({"images": [A_REF], "question": "hi", "max_new_tokens": 0}, "max_new_tokens"),
    ]

    def make_inputs(self, store):
        refs = put_three_images(store)
        return [
            {"images": [refs[0]], "question": "what is in this picture", "max_new_tokens": 6},
            {"images": refs[1:], "question": "how many people are there", "max_new_tokens": 4,
             "history": [{"role": "user", "content": "is it raining"},
                         {"role": "assistant", "content": "yes it is raining"}]},
            {"images": [refs[2]], "question": "describe the image in detail",
             "max_new_tokens": 8},
        ]


def test_cli_lists_the_vision_tools_with_their_types(monkeypatch, capsys):
    from tests.cli.test_cli import cli

    code, out, _ = cli(monkeypatch, capsys, "tools", "--json")
    assert code == 0
    cards = {c["name"]: c for c in json.loads(out)}
    assert cards["vlm_chat"]["inputs"]["images"]["type"] == "list[image]"
    assert cards["vlm_chat"]["inputs"]["history"]["type"] == "list[json]"
    assert cards["image_search"]["outputs"]["images"]["type"] == "list[image]"
    assert cards["image_classify"]["outputs"]["scores"]["type"] == "list[number]"
    assert cards["visual_qa"]["outputs"]["answer"]["type"] == "text"
    assert all(cards[n]["checkpoint"] == "tiny"
               for n in ("visual_qa", "image_classify", "image_search", "vlm_chat"))
    code, table, _ = cli(monkeypatch, capsys, "tools")
    assert code == 0 and "list[image]" in table
