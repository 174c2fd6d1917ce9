"""image_generate and image_edit on tiny random-weight Stable Diffusion pipelines, loaded through
from_pretrained like the real checkpoints."""

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmagent.errors import ToolInputError, ToolLoadError
from mmagent.events import TaskProgress
from mmagent.tool import ToolContext
from mmagent.tools.diffusion import ImageEdit, ImageGenerate

from .conformance import ToolConformance
from .sdk import run_plan

A_REF = {"id": "0" * 64, "mime": "image/png"}  # parses as an ImageRef; never loaded


@pytest.fixture(scope="module")
def generate():
    tool = ImageGenerate(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


@pytest.fixture(scope="module")
def edit():
    tool = ImageEdit(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


def pixels(store, ref):
    return np.asarray(store.load_image(ref))


def test_tiny_pipelines_are_reloaded_from_their_directories(generate, edit):
    from diffusers import StableDiffusionInstructPix2PixPipeline, StableDiffusionPipeline

    assert isinstance(generate.pipe, StableDiffusionPipeline)
    assert isinstance(edit.pipe, StableDiffusionInstructPix2PixPipeline)
    assert edit.pipe.unet.config.in_channels == 8  # noise latents + image latents
    for tool in (generate, edit):
        assert (Path(tool.checkpoint_path()) / "model_index.json").is_file()


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


def test_edit_keeps_size_scales_big_pictures_and_follows_the_instruction(edit, store):
    ctx = ToolContext(store)
    small = store.put_image(Image.new("RGB", (40, 30), (200, 30, 30)))
    big = store.put_image(Image.new("RGB", (400, 300), (30, 200, 30)))
    outs = edit.run([edit.parse_input({"image": small, "instruction": "make it snowy"}),
                     edit.parse_input({"image": small, "instruction": "add fireworks"}),
                     edit.parse_input({"image": big, "instruction": "make it snowy"})], ctx)
    assert (outs[0].image.width, outs[0].image.height) == (40, 24)  # sides down to multiples of 8
    assert outs[2].image.width * outs[2].image.height <= 128 * 128  # the tiny max_pixels
    assert outs[2].image.width / outs[2].image.height == pytest.approx(4 / 3, rel=0.1)
    assert outs[0].image.id != outs[1].image.id


def test_unreachable_checkpoint_is_a_load_error_quickly():
    tool = ImageGenerate(checkpoint="nonexistent-org/nonexistent-model", device="cpu")
    start = time.monotonic()
    with pytest.raises(ToolLoadError, match="nonexistent-org/nonexistent-model"):
        tool.ensure_loaded()
    assert time.monotonic() - start < 5


def test_image_generate_and_edit_through_the_sdk(tmp_path, photo_path):
    result = run_plan(tmp_path, [
        {"id": "t1", "tool": "image_generate", "args": {"prompt": "a lighthouse at sunset"}},
        {"id": "t2", "tool": "image_edit", "args": {"image": "$input.image0",
                                                    "instruction": "make it snowy"}},
    ], deliver=("image",), prompt="Draw a lighthouse, and make my photo snowy",
        images=[photo_path])
    kinds = {a.task: (a.kind, a.mime) for a in result.artifacts}
    assert kinds == {"t1": ("image", "image/png"), "t2": ("image", "image/png")}
    for a in result.artifacts:
        with Image.open(a.path) as im:
            im.load()
    assert (Image.open(result.artifacts[0].path).size == (64, 64))  # the tiny default size
    assert any(isinstance(e, TaskProgress) and e.task_id == "t1" for e in result.events)


@pytest.fixture
def photo_path(tmp_path):
    p = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)).save(p)
    return p


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


class TestImageEditConformance(ToolConformance):
    tool_cls = ImageEdit
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    bad_inputs = [
        ({"instruction": "make it snowy"}, "image"),
        ({"image": A_REF}, "instruction"),
        ({"image": A_REF, "instruction": ""}, "instruction"),
        ({"image": A_REF, "instruction": "x", "steps": 0}, "steps"),
        ({"image": A_REF, "instruction": "x", "image_guidance": 0.5}, "image_guidance"),
        ({"image": A_REF, "instruction": "x", "seed": 2**40}, "seed"),
        ({"image": A_REF, "instruction": "x", "strength": 0.5}, "strength"),
    ]

    def make_inputs(self, store):
        red = store.put_image(Image.new("RGB", (40, 32), (200, 30, 30)))
        noise = store.put_image(Image.fromarray(
            (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)))
        return [
            {"image": red, "instruction": "make it snowy", "steps": 2, "seed": 1},
            {"image": noise, "instruction": "add fireworks", "steps": 2},
            {"image": red, "instruction": "turn the sky purple", "steps": 2,
             "image_guidance": 2.0},
        ]
