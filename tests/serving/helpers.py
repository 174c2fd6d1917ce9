"""Fakes for the serving tests: a planner backend that plans by the request's inputs, and an
audio tool. Importable by Ray workers (the repository root is on their PYTHONPATH)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts import AudioRef
from mmagent.errors import ToolInputError
from mmagent.planner import Completion
from mmagent.toolkit import Tool, ToolRegistry
from tests.fakes import FakeCaption, FakeFail, FakeSleep, FakeSpeak

CAPTION_AND_SPEAK = {"tasks": [
    {"id": "t1", "tool": "fake_caption", "args": {"image": "$input.image0"}},
    {"id": "t2", "tool": "fake_speak", "args": {"text": "$t1.text"}}]}
LISTEN = {"tasks": [{"id": "t1", "tool": "fake_listen", "args": {"audio": "$input.audio0"}}]}


def echo_plan(label: str) -> dict:
    return {"tasks": [{"id": "t1", "tool": "fake_sleep", "args": {"label": label,
                                                                 "seconds": 0.0}}]}


class FakeListen(Tool):
    name = "fake_listen"
    description = "Says how long a clip is."

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")
        audio: AudioRef = Field(description="the clip")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: str = Field(description="what it heard")

    def run(self, inputs, ctx):
        return [self.Output(text=f"heard {i.audio.duration_s:.1f} seconds") for i in inputs]


class FakePicky(Tool):
    name = "fake_picky"
    description = "Echoes a word of even length; refuses odd lengths as a model tool refuses " \
        "out-of-bounds input, inside run."

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")
        word: str = Field(description="a word of even length")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: str = Field(description="the word")

    def run(self, inputs, ctx):
        for i in inputs:
            if len(i.word) % 2:
                raise ToolInputError(f"got {i.word!r} ({len(i.word)} letters) for word; "
                                     "expected an even number of letters")
        return [self.Output(text=i.word) for i in inputs]


class PlanByInputs:
    """A chat backend that plans without a model: caption-and-speak for an image, listen for
    audio, otherwise echo the request's last word (``fail`` plans a failing task)."""

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        if json_schema is not None and "tasks" not in json_schema.get("properties", {}):
            return Completion(json.dumps({"deliver": ["text"]}), 1, 1)
        prompt = [m["content"] for m in messages if m["role"] == "user"
                  and m["content"].startswith("Request:")][-1]
        if "$input.image0" in prompt:
            plan = CAPTION_AND_SPEAK
        elif "$input.audio0" in prompt:
            plan = LISTEN
        else:
            request = prompt.removeprefix("Request:")
            word = request.split("\n")[0].strip().split()[-1] if request.strip() else "hello"
            plan = {"tasks": [{"id": "t1", "tool": "fake_fail", "args": {"text": "x"}}]} \
                if word == "fail" else echo_plan(word.strip(".!?\"'"))
        return Completion(json.dumps(plan), 1, 1)


class FakeLoudness(Tool):
    name = "fake_loudness"
    description = "Reads a clip's samples and reports its peak (it needs the bytes, not the ref)."

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")
        audio: AudioRef = Field(description="the clip")

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: str = Field(description="peak and length")

    def run(self, inputs, ctx):
        import numpy as np
        import soundfile as sf

        out = []
        for i in inputs:
            samples, _ = sf.read(ctx.store.path(i.audio))
            out.append(self.Output(text=f"peak {np.abs(samples).max():.2f} over "
                                        f"{len(samples)} samples"))
        return out


class PlanCaptionSpeakMeasure:
    """A chat backend that plans caption -> speak -> loudness for any request with an image."""

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        if json_schema is not None and "tasks" not in json_schema.get("properties", {}):
            return Completion(json.dumps({"deliver": ["text"]}), 1, 1)
        plan = {"tasks": [*CAPTION_AND_SPEAK["tasks"], {
            "id": "t3", "tool": "fake_loudness", "args": {"audio": "$t2.audio"}}]}
        return Completion(json.dumps(plan), 1, 1)


def serving_registry() -> ToolRegistry:
    reg = ToolRegistry()
    for cls in (FakeCaption, FakeSpeak, FakeSleep, FakeFail, FakeListen):
        reg.register(cls)
    return reg


def replica_pids(app: str, deployment: str) -> list[int]:
    """Process ids of the live replicas of ``deployment`` in the Ray cluster this process is
    connected to (so a test kills only its own cluster's replicas)."""
    from ray._private import state

    prefix = f"SERVE_REPLICA::{app}#{deployment}#"
    return [a["Pid"] for a in state.actors(actor_state_name="ALIVE").values()
            if a["Name"].startswith(prefix) and a["Pid"]]


def sse_events(response) -> Iterator[dict]:
    """The mmagent events of an SSE response, as they arrive."""
    for line in response.iter_lines():
        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
            data = json.loads(line[5:])
            yield data.get("mmagent_event", data)
