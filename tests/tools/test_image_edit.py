"""image_edit on a tiny random-weight InstructPix2Pix pipeline, loaded through from_pretrained
like the real checkpoint."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmagent.events import TaskProgress
from mmagent.toolkit import ToolContext
from mmagent.tools.image_edit import ImageEdit

from .conformance import ToolConformance
from .sdk import run_plan

A_REF = {"id": "0" * 64, "mime": "image/png"}  # parses as an ImageRef; never loaded


@pytest.fixture(scope="module")
def edit():
    tool = ImageEdit(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


def test_tiny_pipeline_is_reloaded_from_its_directory(edit):
    from diffusers import StableDiffusionInstructPix2PixPipeline

    assert isinstance(edit.model, StableDiffusionInstructPix2PixPipeline)
    assert edit.model.unet.config.in_channels == 8  # noise latents + image latents
    assert (Path(edit.checkpoint_path()) / "model_index.json").is_file()


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
