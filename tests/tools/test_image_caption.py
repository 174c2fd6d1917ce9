"""ImageCaption on the tiny random-weight BLIP, loaded through from_pretrained like a real one."""

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmagent.errors import ToolLoadError
from mmagent.toolkit import ToolContext
from mmagent.tools.image_caption import ImageCaption

from .conformance import ToolConformance

PHOTO = Path(__file__).parents[2] / "examples" / "photo.png"
A_REF = {"id": "0" * 64, "mime": "image/png"}  # parses as an ImageRef; never loaded


def put_three_images(store):
    """A real photo, a flat colour and noise: three images the tiny model tells apart."""
    noise = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    return [
        store.put_file(PHOTO, "image"),
        store.put_image(Image.new("RGB", (40, 30), (20, 40, 220))),
        store.put_image(Image.fromarray(noise)),
    ]


@pytest.fixture(scope="module")
def tool():
    tool = ImageCaption(checkpoint="tiny", device="cpu")
    tool.ensure_loaded()
    return tool


@pytest.fixture
def images(store):
    return put_three_images(store)


def test_tiny_checkpoint_is_reloaded_from_its_directory(tool):
    from safetensors.torch import load_file
    from transformers import BlipForConditionalGeneration, BlipImageProcessorPil

    path = Path(tool.checkpoint_path())
    assert (path / "config.json").is_file()
    assert isinstance(tool.model, BlipForConditionalGeneration)
    assert isinstance(tool.image_processor, BlipImageProcessorPil)
    assert tool.model.name_or_path == str(path)
    saved = load_file(path / "model.safetensors")
    params = dict(tool.model.named_parameters())
    shared = sorted(set(saved) & set(params))
    assert shared, "no parameter of the model is named as in the saved file"
    for key in shared[:5]:
        assert np.array_equal(saved[key].numpy(), params[key].detach().numpy()), key


def test_caption_of_a_png_is_text(tool, store):
    ref = store.put_file(PHOTO, "image")
    out = tool.run([tool.parse_input({"image": ref})], ToolContext(store))
    assert len(out) == 1
    assert isinstance(out[0].text, str) and out[0].text.strip()


def test_captions_depend_on_the_image(tool, store, images):
    out = tool.run([tool.parse_input({"image": ref}) for ref in images], ToolContext(store))
    assert len({o.text for o in out}) == 3


def test_prompt_starts_the_caption(tool, store, images):
    ctx = ToolContext(store)
    inputs = [tool.parse_input({"image": ref, "prompt": p, "max_new_tokens": 8})
              for ref, p in zip(images, ("a dog", "a photograph of", "a dog"), strict=True)]
    texts = [o.text for o in tool.run(inputs, ctx)]
    assert texts[0].startswith("a dog") and texts[2].startswith("a dog")
    assert texts[1].startswith("a photograph of")
    assert len(texts[1].split()) > 3, "nothing was generated after the prompt"


def test_unreachable_checkpoint_is_a_load_error_quickly():
    tool = ImageCaption(checkpoint="nonexistent-org/nonexistent-model", device="cpu")
    start = time.monotonic()
    with pytest.raises(ToolLoadError, match="nonexistent-org/nonexistent-model") as e:
        tool.ensure_loaded()
    assert time.monotonic() - start < 5
    assert isinstance(e.value.__cause__, OSError)
    assert e.value.details["checkpoint"] == "nonexistent-org/nonexistent-model"


class TestImageCaptionConformance(ToolConformance):
    tool_cls = ImageCaption
    tool_kwargs = {"checkpoint": "tiny", "device": "cpu"}
    bad_inputs = [
        ({"max_new_tokens": 30}, "image"),
        ({"image": A_REF, "max_new_tokens": 0}, "max_new_tokens"),
        ({"image": A_REF, "max_new_tokens": 129}, "max_new_tokens"),
        ({"image": A_REF, "prompt": ""}, "prompt"),
        ({"image": A_REF, "colour": "red"}, "colour"),
    ]

    def make_inputs(self, store):
        refs = put_three_images(store)
        # mixed prompts and budgets: the batch must group and cut exactly like single calls
        return [
            {"image": refs[0], "max_new_tokens": 12},
            {"image": refs[1], "prompt": "a photograph of", "max_new_tokens": 5},
            {"image": refs[2], "max_new_tokens": 20},
        ]
