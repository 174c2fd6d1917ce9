"""Tool retrieval and demonstration selection, with the real MiniLM embedder (small and fast)."""

import json

import numpy as np
import pytest

from mmagent.artifacts import AudioRef
from mmagent.eval._taskbench import TaskBenchTool, card_registry
from mmagent.plan import Plan
from mmagent.planner import Demo, DemoBank, Planner
from mmagent.planner._embed import MiniLMEmbedder
from mmagent.planner._retrieval import ToolRetriever
from mmagent.toolkit import ToolRegistry
from tests.fakes import fake_registry
from tests.planner.test_planner import GOOD, IMAGE, Scripted

TOOLS = [  # (name, description, inputs, outputs) in TaskBench's card form
    ("Text Translator", "Translates text from one language to another.", ["text"], ["text"]),
    ("Text Summarizer", "Summarizes a long text into a short one.", ["text"], ["text"]),
    ("Audio Noise Reduction", "Removes background noise from an audio recording.", ["audio"],
     ["audio"]),
    ("Audio-to-Text", "Transcribes speech in an audio file into text.", ["audio"], ["text"]),
    ("Text-to-Audio", "Reads a text aloud as speech.", ["text"], ["audio"]),
    ("Image Colorizer", "Adds colour to a black and white photo.", ["image"], ["image"]),
    ("Image-to-Text", "Describes the content of an image in words.", ["image"], ["text"]),
    ("Text-to-Image", "Generates an image from a text description.", ["text"], ["image"]),
    ("Video Stabilizer", "Removes camera shake from a video.", ["video"], ["video"]),
    ("Video-to-Audio", "Extracts the audio track of a video.", ["video"], ["audio"]),
    ("Text Sentiment Analysis", "Tells whether a text is positive or negative.", ["text"],
     ["text"]),
    ("Keyword Extractor", "Extracts the key words of a text.", ["text"], ["text"]),
]


class Refusing:
    """An embedder that must not be used."""

    def embed(self, texts):
        raise AssertionError(f"embedded {texts!r}; expected no embedding at all")


@pytest.fixture(scope="module")
def embedder():
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def registry():
    reg, _ids = card_registry(TaskBenchTool(n, d, tuple(i), tuple(o)) for n, d, i, o in TOOLS)
    return reg


@pytest.mark.parametrize("request_text, tool", [
    ("Please translate this paragraph into Spanish.", "text_translator"),
    ("My recording example.wav is full of hiss, can you clean it up?", "audio_noise_reduction"),
    ("Make my old black-and-white family photo colourful.", "image_colorizer"),
    ("Pull the soundtrack out of my holiday video example.mp4.", "video_to_audio"),
])
def test_retriever_puts_the_relevant_tool_in_the_top_three(registry, embedder, request_text,
                                                           tool):
    assert tool in ToolRetriever(3, embedder).select(registry, request_text)


def test_retriever_keeps_a_tool_for_every_kind_of_input(registry, embedder):
    chosen = ToolRetriever(1, embedder).select(registry, "Translate it into German.",
                                               {"audio0": "audio"})
    assert chosen[0] == "text_translator" and len(chosen) == 2
    assert registry.tool_class(chosen[1]).card()["inputs"]["arg0"]["type"] == "audio"


def test_small_registries_and_k_zero_are_not_cut_and_not_embedded(registry):
    assert ToolRetriever(20, Refusing()).select(registry, "anything") == registry.names()
    assert ToolRetriever(0, Refusing()).select(registry, "anything") == registry.names()


def test_planner_shows_and_offers_only_the_retrieved_tools(registry, embedder):
    backend = Scripted(json.dumps({"tasks": [{"id": "t1", "tool": "text_translator",
                                              "args": {"arg0": "hello"}}]}))
    res = Planner(backend, registry, retriever=ToolRetriever(3, embedder)).plan(
        "Translate 'hello' into French.", {})
    assert "text_translator" in res.tools and len(res.tools) == 3
    system = backend.calls[0]["messages"][0]["content"]
    assert "- text_translator:" in system and "- video_stabilizer:" not in system
    offered = {v["properties"]["tool"]["const"] for v in
               backend.calls[0]["schema"]["properties"]["tasks"]["prefixItems"][0]["anyOf"]}
    assert offered == set(res.tools)


def test_a_repair_naming_a_left_out_tool_brings_it_back(registry, embedder):
    # the plan ignores the audio input; retrieval (k=1) left the audio tools out, but the
    # input-kind safeguard adds one, and the schema of the repair still offers it
    plan = {"tasks": [{"id": "t1", "tool": "text_translator", "args": {"arg0": "hi"}}]}
    fixed = {"tasks": [{"id": "t1", "tool": "audio_to_text", "args": {"arg0": "$input.audio0"}}]}
    backend = Scripted(json.dumps(plan), json.dumps(fixed))
    res = Planner(backend, registry, retriever=ToolRetriever(1, embedder), constrained=False
                  ).plan("Translate what is said into French.",
                         {"audio0": AudioRef(id="b" * 64, mime="audio/wav")})
    assert res.attempts == 2 and res.plan.tasks[0].tool == "audio_to_text"


# -- demonstrations ------------------------------------------------------------------------------

CAPTION = {"id": "t1", "tool": "fake_caption", "args": {"image": "$input.image0"}}
DEMOS = [
    Demo("Describe this photo.", Plan.model_validate({"tasks": [CAPTION]}), {"image0": "image"},
         id="describe"),
    Demo("Describe the picture and read it out loud.", Plan.model_validate(GOOD),
         {"image0": "image"}, id="describe-speak"),
    Demo("Say good morning.", Plan.model_validate({"tasks": [
        {"id": "t1", "tool": "fake_speak", "args": {"text": "good morning"}}]}), id="speak"),
    Demo("Paint a sunset.", Plan.model_validate({"tasks": [
        {"id": "t1", "tool": "painter", "args": {"prompt": "a sunset"}}]}), id="paint"),
]


def test_demos_most_similar_last_and_unavailable_tools_filtered(embedder):
    bank = DemoBank(DEMOS, embedder)
    assert [d.id for d in bank.usable(fake_registry())] == ["describe", "describe-speak",
                                                            "speak"]
    chosen = bank.select("Caption my picture and say the caption aloud.", {"image0": "image"},
                         fake_registry(), k=2)
    assert [d.id for d in chosen][-1] == "describe-speak" and len(chosen) == 2
    assert "paint" not in [d.id for d in bank.select("Paint a sunset", {}, fake_registry(), 3)]


def test_demos_exclusion_and_no_embedding_when_all_fit():
    bank = DemoBank(DEMOS, Refusing())
    chosen = bank.select("x", {}, fake_registry(), k=3, exclude={"speak"})
    assert [d.id for d in chosen] == ["describe", "describe-speak"]
    # a demonstration never shows the very request being planned
    assert "describe" not in [d.id for d in bank.select("Describe this photo.", {},
                                                        fake_registry(), k=3)]


def test_demos_go_into_the_prompt_as_turns(embedder):
    backend = Scripted(json.dumps(GOOD))
    res = Planner(backend, fake_registry(), demos=DemoBank(DEMOS, embedder), demos_k=1).plan(
        "Describe it and speak it", {"image0": IMAGE})
    messages = backend.calls[0]["messages"]
    assert res.demos == ["describe-speak"]
    assert messages[1]["content"].startswith("Request: Describe the picture and read it")
    assert json.loads(messages[2]["content"])["tasks"][1]["tool"] == "fake_speak"


def test_shipped_bank_loads_and_uses_contract_tool_names():
    bank = DemoBank.default(Refusing())
    tools = {t for d in bank.demos for t in d.tools()}
    assert {"image_caption", "text_to_speech", "vlm_chat", "image_generate",
            "speech_recognize"} <= tools
    reg = ToolRegistry.discover()
    usable = [d.request for d in bank.usable(reg)]
    assert "Describe this picture and read the description out loud." in usable
    assert np.all([d.tools() <= set(reg.names()) for d in bank.usable(reg)])
