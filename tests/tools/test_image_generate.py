"""image_generate on a tiny random-weight Stable Diffusion pipeline, loaded through
from_pretrained like the real checkpoint."""

import time
from pathlib import Path

import numpy as np
import pytest

from mmagent.errors import ToolInputError, ToolLoadError
from mmagent.events import TaskProgress
from mmagent.toolkit import ToolContext
from mmagent.tools.image_generate import ImageGenerate

from .conformance import ToolConformance


@pytest.fixture(scope="module")
def generate():
    tool = ImageGenerate(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


def pixels(store, ref):
    return np.asarray(store.load_image(ref))


def test_tiny_pipeline_is_reloaded_from_its_directory(generate):
    from diffusers import StableDiffusionPipeline

    assert isinstance(generate.model, StableDiffusionPipeline)
    assert (Path(generate.checkpoint_path()) / "model_index.json").is_file()


def test_seed_decides_the_image_and_size_is_respected(generate, store):
    ctx = ToolContext(store)
    args = {"prompt": "a cat", "width": 48, "height": 32, "steps": 2}
    a, b, c = generate.run([generate.parse_input({**args, "seed": s}) for s in (1, 1, 2)], ctx)
    assert (a.image.width, a.image.height) == (48, 32)
    assert a.image.id == b.image.id, "the same seed gave a different image"
    assert a.image.id != c.image.id, "another seed gave the same image"
    assert pixels(store, a.image).std() > 1, "the image is flat"


def test_prompt_and_negative_prompt_change_the_image(generate, store):
    ctx = ToolContext(store)
    base = {"width": 32, "height": 32, "steps": 2, "guidance": 5.0}
    outs = generate.run([generate.parse_input({**base, "prompt": "a cat"}),
                         generate.parse_input({**base, "prompt": "a red car"}),
                         generate.parse_input({**base, "prompt": "a cat",
                                               "negative_prompt": "blurry"})], ctx)
    assert len({o.image.id for o in outs}) == 3


def test_one_progress_event_per_step_across_the_batch(generate, store):
    events = []
    ctx = ToolContext(store, emit=events.append, task_id="t1")
    inputs = [generate.parse_input({"prompt": "a cat", "width": 32, "height": 32, "steps": s})
              for s in (2, 3, 2)]  # two pipeline calls: 2 steps (rows 0 and 2), then 3 steps
    generate.run(inputs, ctx)
    assert [(e.step, e.total) for e in events] == [(i, 5) for i in range(1, 6)]
    assert all(isinstance(e, TaskProgress) and e.task_id == "t1" for e in events)


def test_defaults_come_from_options_and_are_bounds_checked(store):
    tool = ImageGenerate(checkpoint="tiny", device="cpu", width=40, height=24, steps=1)
    tool.ensure_loaded()
    out = tool.run([tool.parse_input({"prompt": "a dog"})], ToolContext(store))[0]
    assert (out.image.width, out.image.height) == (40, 24)
    big = ImageGenerate(checkpoint="tiny", device="cpu", width=2048, height=2048)
    with pytest.raises(ToolInputError, match=r"2048x2048 \(4194304 pixels\).*1048576") as e:
        big.parse_input({"prompt": "a dog"})  # checked before any model loads or runs
    assert e.value.details["arg"] == "width"
    assert not big._loaded


def test_unreachable_checkpoint_is_a_load_error_quickly():
    tool = ImageGenerate(checkpoint="nonexistent-org/nonexistent-model", device="cpu")
    start = time.monotonic()
    with pytest.raises(ToolLoadError, match="nonexistent-org/nonexistent-model"):
        tool.ensure_loaded()
    assert time.monotonic() - start < 5


class TestImageGenerateConformance(ToolConformance):
    tool_cls = ImageGenerate
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    bad_inputs = [
        ({"width": 32}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"prompt": "a cat", "width": 30}, "width"),
        ({"prompt": "a cat", "width": 8}, "width"),
        ({"prompt": "a cat", "width": 2048, "height": 2048}, "height"),
        ({"prompt": "a cat", "steps": 0}, "steps"),
        ({"prompt": "a cat", "steps": 101}, "steps"),
        ({"prompt": "a cat", "guidance": -1}, "guidance"),
        ({"prompt": "a cat", "seed": -1}, "seed"),
        ({"prompt": "a cat", "style": "oil"}, "style"),
    ]

    def make_inputs(self, store):
        # mixed sizes, guidance and negative prompts: the batch groups them like single calls
        return [
            {"prompt": "a cat", "width": 32, "height": 32, "steps": 2, "seed": 1},
            {"prompt": "a dog in a park", "negative_prompt": "blurry", "width": 32,
             "height": 32, "steps": 2, "guidance": 3.0},
            {"prompt": "a red car", "width": 48, "height": 32, "steps": 2, "seed": 7},
        ]
