"""Small model-free tools for testing the core (planner, validator, executor, CLI)."""

from __future__ import annotations

import time

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts import AudioRef, ImageRef
from mmagent.errors import ToolExecutionError
from mmagent.toolkit import Resources, Tool, ToolRegistry


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FakeCaption(Tool):
    name = "fake_caption"
    description = "Describes an image by its size."

    class Input(_M):
        image: ImageRef = Field(description="the image")
        delay: float = Field(0.0, ge=0, le=5, description="seconds to sleep first")

    class Output(_M):
        text: str = Field(description="the description")

    def run(self, inputs, ctx):
        time.sleep(max(i.delay for i in inputs))
        return [self.Output(text=f"a {i.image.width}x{i.image.height} picture") for i in inputs]


class FakeSpeak(Tool):
    name = "fake_speak"
    description = "Turns text into a beep whose length follows the text."

    class Input(_M):
        text: str = Field(min_length=1, max_length=200, description="what to say")

    class Output(_M):
        audio: AudioRef = Field(description="the beep")
        sample_rate: int = Field(description="Hz")

    def run(self, inputs, ctx):
        out = []
        for i in inputs:
            t = np.arange(int(800 * len(i.text))) / 16000
            ref = ctx.store.put_audio(0.3 * np.sin(2 * np.pi * 440 * t), 16000)
            out.append(self.Output(audio=ref, sample_rate=16000))
        return out


class FakeSleep(Tool):
    name = "fake_sleep"
    description = "Sleeps, then echoes its label."

    class Input(_M):
        label: str = Field(description="echoed back")
        seconds: float = Field(0.2, ge=0, le=5, description="how long to sleep")
        after: str | None = Field(None, description="an earlier label (creates a dependency)")

    class Output(_M):
        text: str = Field(description="the label")

    def run(self, inputs, ctx):
        for i in inputs:
            for step in range(4):
                time.sleep(i.seconds / 4)
                ctx.progress(step + 1, 4)
        return [self.Output(text=i.label) for i in inputs]


class FakeFail(Tool):
    name = "fake_fail"
    description = "Always fails."

    class Input(_M):
        text: str = Field(description="ignored")

    class Output(_M):
        text: str = Field(description="never produced")

    def run(self, inputs, ctx):
        raise ToolExecutionError("the fake model crashed")


def fake_registry() -> ToolRegistry:
    reg = ToolRegistry()
    for cls in (FakeCaption, FakeSpeak, FakeSleep, FakeFail):
        reg.register(cls)
    return reg


# --- executor policies (issue 5): slow, counted, flaky, costly and stochastic tools -------------


class FakeCount(Tool):
    """Counts its calls in a file (one line per call, the label), then waits while `hold`
    exists (at most 20 s): a test can keep it running, kill the process, and count re-runs."""

    name = "fake_count"
    description = "Records that it ran, waits while a hold file exists, echoes its label."

    class Input(_M):
        label: str = Field(description="echoed back, and written to the counter file")
        counter: str = Field(description="file that gets one line per call")
        hold: str | None = Field(None, description="wait while this file exists")
        after: str | None = Field(None, description="an earlier label (creates a dependency)")

    class Output(_M):
        text: str = Field(description="the label")

    def run(self, inputs, ctx):
        import os

        for i in inputs:
            with open(i.counter, "a") as f:
                f.write(i.label + "\n")
            deadline = time.monotonic() + 20
            while i.hold and os.path.exists(i.hold) and time.monotonic() < deadline:
                time.sleep(0.02)
        return [self.Output(text=i.label) for i in inputs]


class FakeFlaky(Tool):
    """Fails its first `failures` calls (counted in a file), then succeeds."""

    name = "fake_flaky"
    description = "Fails a given number of times, then echoes its label."

    class Input(_M):
        label: str = Field(description="echoed back")
        counter: str = Field(description="file that gets one line per call")
        failures: int = Field(1, ge=0, description="calls that fail before one succeeds")

    class Output(_M):
        text: str = Field(description="the label")

    def run(self, inputs, ctx):
        i = inputs[0]
        with open(i.counter, "a") as f:
            f.write("call\n")
        with open(i.counter) as f:
            calls = len(f.readlines())
        if calls <= i.failures:
            raise ToolExecutionError(f"flaky failure {calls}")
        return [self.Output(text=i.label)]


class FakeBig(Tool):
    """Declares a large GPU footprint (approval thresholds); otherwise echoes."""

    name = "fake_big"
    description = "A costly model: echoes its label."
    resources = Resources(num_gpus=1, gpu_memory_gb=24)

    class Input(_M):
        label: str = Field(description="echoed back")

    class Output(_M):
        text: str = Field(description="the label")

    def run(self, inputs, ctx):
        return [self.Output(text=i.label) for i in inputs]


class FakeRandom(Tool):
    """Samples without a seed: never cached."""

    name = "fake_random"
    description = "Returns a random number."
    deterministic = False

    class Input(_M):
        label: str = Field(description="ignored")

    class Output(_M):
        value: float = Field(description="a random number")

    def run(self, inputs, ctx):
        return [self.Output(value=float(np.random.rand())) for _ in inputs]


def policy_registry() -> ToolRegistry:
    """fake_registry() plus the tools above."""
    reg = fake_registry()
    for cls in (FakeCount, FakeFlaky, FakeBig, FakeRandom):
        reg.register(cls)
    return reg
